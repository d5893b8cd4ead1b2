"""Issue 7 benchmark: inspect and shrink against simply reading and writing the file.

For a ~270 MB TfidfVectorizer + TruncatedSVD(300) model and a 100-tree
RandomForest on 30k rows, each step runs in its own process under
``/usr/bin/time -v`` (wall time and peak resident memory):

- ``skops.io.load`` of the plain file, and ``skprune inspect`` of it (also timed
  inside the process, without interpreter start-up and imports);
- a plain ``skops.io.load`` + ``skops.io.dump(..., compression=ZIP_DEFLATED)``
  round trip, and ``skprune shrink --zip`` with the default (checked) settings.

    python tests/benchmarks/bench_speed.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import skops.io as sio

from common import Run, skprune, timed_command
from models import build

LOAD = """
import json, sys, time
import skops.io as sio
path, trusted = sys.argv[1], json.loads(sys.argv[2])
start = time.perf_counter(); sio.load(path, trusted=trusted or None)
print(time.perf_counter() - start)
"""
INSPECT = """
import sys, time
from skprune_cli.inspection import inspect_model
start = time.perf_counter(); inspect_model(sys.argv[1])
print(time.perf_counter() - start)
"""
ROUND_TRIP = """
import json, sys, zipfile
import skops.io as sio
path, trusted, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sio.dump(sio.load(path, trusted=trusted or None), out, compression=zipfile.ZIP_DEFLATED)
"""


def python(code: str, *args: str) -> Run:
    run = timed_command([sys.executable, "-c", code, *args])
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def median_run(make, repeats: int = 3):
    runs = [make() for _ in range(repeats)]
    runs.sort(key=lambda r: r.seconds)
    return runs[len(runs) // 2]


def measure(name: str, tmp: Path) -> None:
    model, _ = build(name)
    plain = tmp / f"{name}.skops"
    sio.dump(model, plain)
    del model
    trusted = json.dumps(sio.get_untrusted_types(file=plain))
    load = median_run(lambda: python(LOAD, str(plain), trusted))
    inspect_call = median_run(lambda: python(INSPECT, str(plain)))
    inspect_cli = median_run(lambda: skprune("inspect", str(plain), "--json"))
    trip = median_run(lambda: python(ROUND_TRIP, str(plain), trusted, str(tmp / "trip.skops")))
    shrink = median_run(lambda: skprune("shrink", str(plain), "-o", str(tmp / "lite.skops"), "--zip", "--force", "-q"))
    assert shrink.returncode == 0, shrink.stderr[-2000:]
    load_call, inspect_in = float(load.stdout), float(inspect_call.stdout)
    size = plain.stat().st_size / 1e6
    print(f"\n{name}: {size:.0f} MB .skops")
    print(f"  skops.io.load          {load.seconds:6.2f} s wall ({load_call:5.2f} s in the call)  peak {load.peak_mb:6.0f} MB")
    print(f"  skprune inspect        {inspect_cli.seconds:6.2f} s wall ({inspect_in:5.2f} s in the call)  peak "
          f"{inspect_cli.peak_mb:6.0f} MB")
    print(f"    inspect / load: {inspect_in / load_call:.3f}x in the call, {inspect_cli.seconds / load.seconds:.3f}x wall"
          "  (target <= 0.1x)")
    print(f"  load + DEFLATE dump    {trip.seconds:6.2f} s wall  peak {trip.peak_mb:6.0f} MB")
    print(f"  skprune shrink --zip   {shrink.seconds:6.2f} s wall  peak {shrink.peak_mb:6.0f} MB  "
          f"-> {(tmp / 'lite.skops').stat().st_size / 1e6:.1f} MB")
    print(f"    shrink / round trip: {shrink.seconds / trip.seconds:.2f}x time, {shrink.peak_mb / trip.peak_mb:.2f}x "
          "peak memory  (target <= 1.5x both)")


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            measure(name, Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:] or ["text_svd", "random_forest"])
