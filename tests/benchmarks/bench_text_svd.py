"""Issue 3 benchmark: TfidfVectorizer + TruncatedSVD(300) on ~11k real documents.

Compares the plain .skops file, skops with DEFLATE, the original idea (every
float array cast to float16, then DEFLATE) and
``skprune shrink --zip --cast float64=float16``; checks that skprune's file
loads with plain ``skops.io.load`` and that ``transform`` on held-out
documents stays within 1e-3 relative error.

    python tests/benchmarks/bench_text_svd.py
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import skops.io as sio

from common import rel_error, size_mb, skprune
from models import build, naive_float16


def main() -> None:
    model, held_out = build("text_svd")
    reference = model.transform(held_out)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        plain = tmp_path / "plain.skops"
        sio.dump(model, plain)
        deflate = tmp_path / "deflate.skops"
        sio.dump(model, deflate, compression=zipfile.ZIP_DEFLATED)
        # the baseline starts, as a user would, from the model loaded from the file (array
        # layout matters to DEFLATE: a freshly fitted TruncatedSVD holds a strided view)
        naive = tmp_path / "naive16.skops"
        sio.dump(naive_float16(sio.load(plain)), naive, compression=zipfile.ZIP_DEFLATED)
        naive_err = rel_error(reference, sio.load(naive).transform(held_out))

        out = tmp_path / "lite.skops"
        run = skprune("shrink", str(plain), "-o", str(out), "--zip", "--cast", "float64=float16", "--quiet")
        assert run.returncode == 0, run.stderr
        lite = sio.load(out)  # plain skops, no trusted types needed
        err = rel_error(reference, lite.transform(held_out))

        print(f"Tfidf + TruncatedSVD(300), {len(model.steps[0][1].vocabulary_)} words, "
              f"held-out docs: {len(held_out)}")
        print(f"{'file':44s} {'MB':>8s} {'rel err':>9s}")
        print(f"{'plain .skops':44s} {size_mb(plain):8.1f}")
        print(f"{'skops + DEFLATE':44s} {size_mb(deflate):8.1f}")
        print(f"{'float16 everything + DEFLATE':44s} {size_mb(naive):8.1f} {naive_err:9.2e}")
        print(f"{'skprune shrink --zip --cast float64=float16':44s} {size_mb(out):8.1f} {err:9.2e}"
              f"   ({run.seconds:.1f} s, peak {run.peak_mb:.0f} MB)")
        verdict = size_mb(out) < size_mb(naive) and err <= 1e-3
        print(f"smaller than float16+DEFLATE and within 1e-3: {'yes' if verdict else 'NO'}")


if __name__ == "__main__":
    main()
