"""The zoo through joblib: every estimator of ``all_estimators()`` saved with ``joblib.dump`` (compress 0 and 3)
is read by skprune without ``--trust`` into a model that behaves exactly like the original, and ``shrink``
writes a ``.joblib`` that plain ``joblib.load`` reads, with the same predicted labels."""

from __future__ import annotations

import json
import warnings
import zlib
from pathlib import Path

import joblib
import numpy as np
import pytest
from typer.testing import CliRunner

from skprune_cli import load_model
from skprune_cli.cli import app
from zoo import fitted_zoo, outputs

ZOO = {f.name: f for f in fitted_zoo()}


def labels_like(values: np.ndarray) -> bool:
    return not np.issubdtype(values.dtype, np.floating)


@pytest.mark.slow
@pytest.mark.parametrize("compress", [0, 3])
@pytest.mark.parametrize("name", sorted(ZOO))
def test_joblib_file_loads_and_shrinks_without_trust(name: str, compress: int, tmp_path: Path) -> None:
    fitted = ZOO[name]
    source = tmp_path / ("model.joblib" if compress == 0 else "model.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joblib.dump(fitted.estimator, source, compress=compress)
    expected = outputs(fitted.estimator, fitted.X_test)

    loaded = load_model(source)
    again = outputs(loaded, fitted.X_test)
    for method, ref in expected.items():
        if not isinstance(ref, Exception):
            np.testing.assert_array_equal(again[method], ref, err_msg=method)

    out = tmp_path / "lite.joblib"
    result = CliRunner().invoke(app, ["shrink", str(source), "-o", str(out), "--json", "--zip"])
    assert result.exit_code == 0, result.stderr
    # joblib.dump of an object without numpy arrays writes a plain pickle, and skprune says so
    raw = source.read_bytes() if compress == 0 else zlib.decompress(source.read_bytes())
    kind = "joblib" if b"NumpyArrayWrapper" in raw else "pickle"
    assert json.loads(result.stdout)["input"]["format"] == kind
    pruned = joblib.load(out)
    after = outputs(pruned, fitted.X_test)
    for method, ref in expected.items():
        if isinstance(ref, Exception):
            continue
        assert not isinstance(after[method], Exception), f"{method} now raises {after[method]!r}"
        if method == "predict" and labels_like(ref):
            np.testing.assert_array_equal(after[method], ref)
