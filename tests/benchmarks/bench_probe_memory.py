"""Peak memory of a checked ``shrink`` of a 50k-row KNeighbors model (issue 11: under 2x its loaded size).

Run: python tests/benchmarks/bench_probe_memory.py [folder]. Prints the loaded size of the model,
the child's peak RSS for ``skprune shrink`` and for a plain ``skops.io.load`` of the same file, and
their difference (what skprune adds on top of loading).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.neighbors import KNeighborsClassifier


def peak_rss(args: list[str]) -> tuple[int, int]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    X = rng.integers(0, 17, size=(50_000, 50)).astype(float)
    model = KNeighborsClassifier().fit(X, rng.integers(0, 10, size=len(X)))
    path = folder / "knn.skops"
    sio.dump(model, path)
    loaded = X.nbytes
    code, shrink = peak_rss([sys.executable, "-m", "skprune_cli", "shrink", str(path), "-o", str(folder / "lite.skops"),
                             "--force", "--zip"])
    _, plain = peak_rss([sys.executable, "-c", "import sys, skops.io as s; "
                         "s.load(sys.argv[1], trusted=s.get_untrusted_types(file=sys.argv[1]))", str(path)])
    print(f"model arrays {loaded / 2**20:.1f} MiB; shrink exit {code}, peak RSS {shrink / 2**20:.0f} MiB; "
          f"plain skops.io.load peak {plain / 2**20:.0f} MiB; shrink - load = {(shrink - plain) / 2**20:.0f} MiB "
          f"({(shrink - plain) / loaded:.2f}x the model)")


if __name__ == "__main__":
    main()
