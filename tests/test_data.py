"""--data files for the check: every format, and clear errors when they do not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skprune_cli.fidelity.data import check_fits, read_data
from skprune_cli.errors import UsageError


def test_npy_npz_and_key(tmp_path, iris):
    X = iris[0]
    np.save(tmp_path / "a.npy", X)
    assert read_data(tmp_path / "a.npy").X.shape == X.shape
    np.savez(tmp_path / "b.npz", first=X[:10], second=X[:20])
    assert read_data(tmp_path / "b.npz").X.shape == (10, 4)
    assert read_data(tmp_path / "b.npz", key="second").X.shape == (20, 4)
    with pytest.raises(UsageError, match="no array 'third'"):
        read_data(tmp_path / "b.npz", key="third")


def test_object_npy_is_never_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UsageError, match="cannot read"):
        read_data(tmp_path / "o.npy")


def test_csv_with_and_without_header(tmp_path, iris):
    X = iris[0][:5]
    rows = "\n".join(",".join(str(v) for v in row) for row in X)
    (tmp_path / "h.csv").write_text("a,b,c,d\n" + rows + "\n")
    (tmp_path / "n.csv").write_text(rows + "\n")
    np.testing.assert_array_equal(read_data(tmp_path / "h.csv").X, X)
    np.testing.assert_array_equal(read_data(tmp_path / "n.csv").X, X)
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    with pytest.raises(UsageError, match="line 2 is not numeric"):
        read_data(tmp_path / "bad.csv")


def test_text_and_jsonl(tmp_path, text_nb, docs):
    (tmp_path / "d.txt").write_text("\n".join(d.replace("\n", " ") for d in docs[:30]))
    assert len(read_data(tmp_path / "d.txt").X) == 30
    with open(tmp_path / "d.jsonl", "w") as handle:
        for d in docs[:12]:
            handle.write(json.dumps({"body": d}) + "\n")
    probes = read_data(tmp_path / "d.jsonl", field="body")
    assert len(probes.X) == 12
    check_fits(text_nb, probes, tmp_path / "d.jsonl")
    with pytest.raises(UsageError, match="no 'text' field"):
        read_data(tmp_path / "d.jsonl")


def test_rows_are_capped(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((20000, 3)))
    assert read_data(tmp_path / "big.npy", max_rows=5000).X.shape == (5000, 3)


def test_data_that_does_not_fit(tmp_path, logreg, text_nb):
    np.save(tmp_path / "w.npy", np.zeros((5, 7)))
    with pytest.raises(UsageError, match="7 columns but the model expects 4"):
        check_fits(logreg, read_data(tmp_path / "w.npy"), tmp_path / "w.npy")
    with pytest.raises(UsageError, match="cannot use this data"):
        check_fits(text_nb, read_data(tmp_path / "w.npy"), tmp_path / "w.npy")
    with pytest.raises(UsageError, match="unknown data format"):
        (tmp_path / "x.parquet").write_bytes(b"x")
        read_data(tmp_path / "x.parquet")
