"""Forests: a ~0.75 GB RandomForest shrunk tree by tree, and forest sizes against joblib's xz.

Run: ``python tests/benchmarks/bench_big_forest.py [--only big|sizes]``. The
big forest (80 fully grown trees on 200k rows, a plain ``.skops``) is fitted
once into ``$SKPRUNE_BENCH_CACHE`` (default ``~/.cache/skprune-bench``, outside
the repository). Every timed command runs in its own subprocess, so its peak
memory (max RSS) is its own; ratios are against a plain ``skops.io.load`` +
``skops.io.dump(compression=ZIP_DEFLATED)`` round trip of the same file.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = Path(os.environ.get("SKPRUNE_BENCH_CACHE", Path.home() / ".cache" / "skprune-bench"))
BIG = CACHE / "big_forest.skops"
HELD_OUT = CACHE / "big_forest_heldout.npy"


def build_big_forest() -> None:
    """80 fully grown trees on 200k noisy rows: ~0.75 GB as a plain .skops."""
    import skops.io as sio
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    CACHE.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(202_000, 20, n_informative=10, n_classes=5, flip_y=0.4, random_state=0)
    model = RandomForestClassifier(80, random_state=0, n_jobs=2).fit(X[:200_000], y[:200_000])
    np.save(HELD_OUT, X[200_000:])
    partial = BIG.with_suffix(".partial")
    sio.dump(model, partial)
    partial.rename(BIG)


if __name__ == "__main__" and sys.argv[1:] == ["--build"]:
    build_big_forest()
    sys.exit(0)
