"""Issue 10 benchmark: reading a ~300 MB joblib file through skprune's loader vs ``joblib.load``.

Two models, each written with ``joblib.dump`` at compress 0 and compress 3:

- ``knn``: KNeighborsClassifier(algorithm="brute") on 1.25M x 30 float64 rows: one 300 MB array record;
- ``trees``: ExtraTreesRegressor(14 trees) on 150k rows: ~300 MB spread over 14 tree node/value records.

Each read runs in its own process under ``/usr/bin/time -v`` (whole-process wall time and peak resident
memory, interpreter start-up and imports included) and also reports the seconds spent inside the read
alone. Readers: ``joblib.load`` (the yardstick), skprune's loader (``read_pickle``: allowlist, record
checks, arrays read in place), and ``read_model`` (the loader plus the tree validation ``inspect`` and
``shrink`` run). Each pair is run twice, alternating, and the faster of the two runs is kept.

    python tests/benchmarks/bench_joblib.py [folder] [repeats]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np

from common import Run, timed_python

READERS = {
    "joblib.load": "import joblib; read = joblib.load",
    "skprune loader": "from skprune_cli.formats.pickle_io import read_pickle; read = read_pickle",
    "skprune read_model": "from skprune_cli.formats import read_model; read = read_model",
}
SNIPPET = """
import sys, time
from pathlib import Path
{setup}
path = Path({path!r})
start = time.perf_counter()
read(path)
print(time.perf_counter() - start)
"""


def build(folder: Path) -> dict[str, Path]:
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    files: dict[str, Path] = {}
    models = {}
    X = rng.normal(size=(1_250_000, 30))
    models["knn"] = KNeighborsClassifier(algorithm="brute").fit(X, (X[:, 0] > 0).astype(int))
    del X
    X = rng.normal(size=(150_000, 8))
    y = X @ rng.normal(size=8) + rng.normal(size=150_000)
    models["trees"] = ExtraTreesRegressor(14, random_state=0).fit(X, y)
    for name, model in models.items():
        for compress in (0, 3):
            path = folder / f"{name}_c{compress}.joblib"
            if not path.exists():
                joblib.dump(model, path, compress=compress)
            files[f"{name} compress={compress}"] = path
    return files


def measure(path: Path, reader: str) -> tuple[Run, float]:
    run = timed_python(SNIPPET.format(setup=READERS[reader], path=str(path)))
    if run.returncode != 0:
        raise SystemExit(f"{reader} on {path} failed:\n{run.stderr[-2000:]}")
    return run, float(run.stdout.strip().splitlines()[-1])


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bench_joblib"))
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    files = build(folder)
    print(f"{'file':<22} {'MB':>6}  {'reader':<19} {'wall s':>7} {'read s':>7} {'peak MB':>8}  "
          f"{'wall x':>6} {'read x':>6} {'peak x':>6}")
    for label, path in files.items():
        best: dict[str, tuple[Run, float]] = {}
        for _ in range(repeats):
            for reader in READERS:
                run, inner = measure(path, reader)
                if reader not in best or run.seconds < best[reader][0].seconds:
                    best[reader] = (run, inner)
        base, base_inner = best["joblib.load"]
        for reader, (run, inner) in best.items():
            print(f"{label:<22} {path.stat().st_size / 1e6:6.0f}  {reader:<19} {run.seconds:7.2f} {inner:7.2f} "
                  f"{run.peak_mb:8.0f}  {run.seconds / base.seconds:6.2f} {inner / base_inner:6.2f} "
                  f"{run.peak_mb / base.peak_mb:6.2f}")


if __name__ == "__main__":
    main()
