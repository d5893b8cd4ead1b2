"""Issues 4 and 11 benchmark: what the fidelity check costs on the TruncatedSVD(300) text model.

Times ``skprune shrink --zip`` (checked, the default) against the same run
with ``--no-check --preset float16`` (the same casts, unverified), three runs
each, and prints the median wall times, their ratio and peak memory.

    python tests/benchmarks/bench_check_cost.py
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import skops.io as sio

from common import skprune
from models import build


def main() -> None:
    model, _ = build("text_svd")
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.skops"
        sio.dump(model, plain)
        del model
        out = Path(tmp) / "lite.skops"
        runs: dict[str, list] = {"checked": [], "unchecked": []}
        for _ in range(3):
            runs["checked"].append(skprune("shrink", str(plain), "-o", str(out), "--zip", "--force", "-q"))
            runs["unchecked"].append(skprune("shrink", str(plain), "-o", str(out), "--zip", "--force", "-q",
                                             "--no-check", "--preset", "float16"))
        for name, results in runs.items():
            assert all(r.returncode == 0 for r in results), results[0].stderr
        checked = statistics.median(r.seconds for r in runs["checked"])
        unchecked = statistics.median(r.seconds for r in runs["unchecked"])
        print(f"model: {plain.stat().st_size / 1e6:.0f} MB .skops (Tfidf + TruncatedSVD(300))")
        print(f"shrink --zip, checked:   {checked:6.2f} s  peak {max(r.peak_mb for r in runs['checked']):5.0f} MB")
        print(f"shrink --zip, unchecked: {unchecked:6.2f} s  peak {max(r.peak_mb for r in runs['unchecked']):5.0f} MB")
        print(f"checked / unchecked: {checked / unchecked:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
