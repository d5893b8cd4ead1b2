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


sys.path.insert(0, str(HERE))
from common import MB, Run, skprune, timed_python  # noqa: E402

PLAIN = """
import sys, zipfile, skops.io as sio
src, out = sys.argv[1:3] if len(sys.argv) > 2 else ({src!r}, {out!r})
model = sio.load(src, trusted=sio.get_untrusted_types(file=src))
sio.dump(model, out, compression=zipfile.ZIP_DEFLATED)
"""
IN_MEMORY = """
from skprune_cli.shrinking import shrink
shrink({src!r}, {out!r}, zip=True, stream=False)
"""
COMPARE = """
import json, numpy as np, skops.io as sio
src, out, rows = {src!r}, {out!r}, np.load({rows!r})
a = sio.load(src, trusted=sio.get_untrusted_types(file=src))
ref = (a.predict_proba(rows), a.apply(rows), a.feature_importances_)
del a
b = sio.load(out, trusted=sio.get_untrusted_types(file=out))
new = (b.predict_proba(rows), b.apply(rows), b.feature_importances_)
print(json.dumps({{"proba_identical": bool(np.array_equal(ref[0], new[0])),
                  "apply_identical": bool(np.array_equal(ref[1], new[1])),
                  "importance_error": float(np.abs(ref[2] - new[2]).max() / np.abs(ref[2]).max())}}))
"""


def node_count(path: Path) -> int:
    """Nodes of every tree in a .skops archive, from its schema alone."""
    import json
    import zipfile

    total, stack = 0, [json.loads(zipfile.ZipFile(path).read("schema.json"))]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("__class__") == "Tree":
                total += int(node["content"]["content"]["node_count"]["content"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def env_python(code: str) -> Run:
    os.environ["PYTHONPATH"] = str(ROOT)
    return timed_python(code)


def bench_big(folder: Path) -> None:
    if not BIG.exists():
        print(f"fitting the big forest into {CACHE} (once) ...", flush=True)
        subprocess.run([sys.executable, __file__, "--build"], check=True)
    size_in = BIG.stat().st_size
    nodes = node_count(BIG)
    print(f"big forest: {size_in / MB:.0f} MB plain .skops, {nodes} nodes")
    plain_out, stream_out, memory_out = folder / "plain.skops", folder / "stream.skops", folder / "memory.skops"
    runs = {
        "plain skops load + DEFLATE dump": (env_python(PLAIN.format(src=str(BIG), out=str(plain_out))), plain_out),
        "skprune --zip (streamed)": (skprune("shrink", str(BIG), "-o", str(stream_out), "--zip", "--quiet"),
                                     stream_out),
        "skprune --zip (in memory)": (env_python(IN_MEMORY.format(src=str(BIG), out=str(memory_out))), memory_out),
    }
    base = runs["plain skops load + DEFLATE dump"][0]
    print(f"{'':34} {'wall s':>8} {'peak MB':>8} {'out MB':>8} {'out/in':>7} {'wall x':>7} {'peak x':>7} {'B/node':>7}")
    for label, (run, out) in runs.items():
        if run.returncode != 0:
            print(f"{label:34} failed: {run.stderr.strip().splitlines()[-1:]}")
            continue
        size = out.stat().st_size
        print(f"{label:34} {run.seconds:8.1f} {run.peak_mb:8.0f} {size / MB:8.1f} {size / size_in:7.3f} "
              f"{run.seconds / base.seconds:7.2f} {run.peak_mb / base.peak_mb:7.2f} {size / nodes:7.2f}")
    if stream_out.exists():
        verdict = env_python(COMPARE.format(src=str(BIG), out=str(stream_out), rows=str(HELD_OUT)))
        print("streamed output vs original on held-out rows:", verdict.stdout.strip() or verdict.stderr[-300:])


def bench_sizes(folder: Path) -> None:
    """RandomForest(100) and ExtraTrees(40) of bench_models, as .skops, against joblib's xz."""
    import joblib
    import skops.io as sio

    from models import build

    print(f"{'model':24} {'variant':38} {'MB':>7} {'B/node':>7} {'s':>7}")
    for name in ("random_forest", "extra_trees"):
        model, _ = build(name)
        source = folder / f"{name}.skops"
        sio.dump(model, source)
        nodes = node_count(source)
        xz = folder / f"{name}.joblib"
        start = time.perf_counter()
        joblib.dump(model, xz, compress=("xz", 9))
        print(f"{name:24} {'joblib.dump(compress=(xz, 9))':38} {xz.stat().st_size / MB:7.2f} "
              f"{xz.stat().st_size / nodes:7.2f} {time.perf_counter() - start:7.1f}")
        del model
        for flags in (["--zip"], ["--compression", "best"], ["--compression", "best", "--drop-importances"],
                      ["--zip", "--drop-importances"]):
            out = folder / f"{name}-{'-'.join(f.strip('-') for f in flags)}.skops"
            run = skprune("shrink", str(source), "-o", str(out), "--quiet", *flags)
            if run.returncode != 0:
                print(f"{name:24} {' '.join(flags):38} failed: {run.stderr.strip()[-200:]}")
                continue
            size = out.stat().st_size
            print(f"{name:24} {' '.join(flags):38} {size / MB:7.2f} {size / nodes:7.2f} {run.seconds:7.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=("big", "sizes"))
    parser.add_argument("--build", action="store_true", help="only fit and cache the big forest")
    args = parser.parse_args()
    if args.build:
        build_big_forest()
        return
    os.environ["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(dir=CACHE if CACHE.exists() else None) as tmp:
        if args.only in (None, "big"):
            bench_big(Path(tmp))
        if args.only in (None, "sizes"):
            bench_sizes(Path(tmp))


if __name__ == "__main__":
    main()
