"""Models fitted on pandas DataFrames: checked on DataFrame probes, or on a CSV matched by name."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skprune_cli.fidelity.probes as probes_pkg
import skprune_cli.fidelity.probes.frames as frames
from conftest import save
from skprune_cli.cli import app
from skprune_cli.errors import UsageError
from skprune_cli.fidelity.data import check_fits, read_data
from skprune_cli.fidelity.probes import synthesize
from skprune_cli.options import PruneOptions
from skprune_cli.pruning import prune_model
from test_data import frame_model

NAMES = ["city", "size", "zip", "age"]


@pytest.fixture(autouse=True)
def one_thread():
    """HistGradientBoosting's OpenMP threads crawl on a loaded two-core machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def hgb_model() -> tuple[object, pd.DataFrame]:
    _, df = frame_model()
    y = ((df["size"] > 50) ^ (df["city"] == "rome")).astype(int)
    ct = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city", "zip"]),
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["size", "age"]),
    ])
    return make_pipeline(ct, HistGradientBoostingClassifier(max_iter=10, random_state=0)).fit(df, y), df


def test_probes_are_dataframes_in_the_fitted_columns():
    model, df = frame_model()
    probes = synthesize(model)
    assert isinstance(probes.X, pd.DataFrame) and list(probes.X.columns) == NAMES
    assert "DataFrame rows" in probes.source and "OneHotEncoder" in probes.source
    cities = set(probes.X["city"].dropna())
    assert {"paris", "rome", "oslo"} <= cities <= {"paris", "rome", "oslo", "skprune-unseen"}
    assert set(probes.X["zip"].dropna()) >= {"02139", "10001"}  # text categories stay text
    assert abs(probes.X["size"].mean() - df["size"].mean()) < 5  # from the scaler's statistics
    assert probes.X["size"].dtype == np.float64


def test_missing_values_only_where_the_model_takes_them():
    model, _ = hgb_model()  # the imputer takes NaN in numeric columns; the encoder takes NaN as unseen
    probes = synthesize(model)
    assert probes.X.isna().any().any() and "missing values" in probes.source
    lr, _ = frame_model()  # no imputer: a NaN would make it raise, so none are offered
    assert not synthesize(lr).X[["size", "age"]].isna().any().any()


@pytest.mark.parametrize("build", [frame_model, hgb_model], ids=["logistic", "hgb"])
def test_shrink_checks_a_dataframe_model_without_data(runner, tmp_path, build):
    model, df = build()
    source = save(model, tmp_path / "m.pkl")  # the .skops reviewed list for HGB is another change
    out = tmp_path / "lite.pkl"
    result = runner.invoke(app, ["shrink", str(source), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["check"] is not None and doc["check"]["passed"] is True
    assert "DataFrame rows" in doc["check"]["data_source"]
    with open(out, "rb") as handle:
        lite = pickle.load(handle)
    np.testing.assert_array_equal(lite.predict(df), model.predict(df))


def test_shrink_with_a_reordered_csv_holding_text_columns(runner, tmp_path):
    model, df = hgb_model()
    source = save(model, tmp_path / "m.pkl")
    df[["age", "zip", "size", "city"]].head(200).to_csv(tmp_path / "rows.csv", index=False)
    result = runner.invoke(app, ["shrink", str(source), "-o", str(tmp_path / "lite.pkl"), "--json",
                                 "--data", str(tmp_path / "rows.csv")])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["check"]["passed"] is True and "rows.csv" in doc["check"]["data_source"]
    assert doc["check"]["rows"] == 200


def test_shrink_with_a_csv_missing_a_column_is_a_usage_error(runner, tmp_path):
    model, df = hgb_model()
    source = save(model, tmp_path / "m.pkl")
    df[["zip", "size", "city"]].head(20).to_csv(tmp_path / "rows.csv", index=False)
    result = runner.invoke(app, ["shrink", str(source), "-o", str(tmp_path / "lite.pkl"),
                                 "--data", str(tmp_path / "rows.csv")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"skprune: {tmp_path / 'rows.csv'}: missing column 'age' that the model needs"
    assert not (tmp_path / "lite.pkl").exists()


def test_without_pandas_only_exact_changes_and_one_line_saying_why(monkeypatch, tmp_path):
    model, df = frame_model()
    monkeypatch.setattr(probes_pkg, "pandas_or_none", lambda: None)
    monkeypatch.setattr(frames, "pandas_or_none", lambda: None)
    import skprune_cli.fidelity.data as data_module
    monkeypatch.setattr(data_module, "pandas_or_none", lambda: None)
    assert synthesize(model) is None
    result = prune_model(model, PruneOptions.build("float16", (), ()))  # asked for: tried even when tiny
    assert result.check is None
    held = {h for d in result.decisions for h in d.held}
    assert held and all("pip install 'skprune[pandas]'" in h for h in held)
    assert all(c.dtype_after == c.dtype_before or c.action != "lossy" for c in result.changes)
    df.head(5).to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(UsageError, match=r"needs pandas: pip install 'skprune\[pandas\]'"):
        check_fits(model, read_data(tmp_path / "rows.csv"), tmp_path / "rows.csv")
