"""--data files for the check: every format, named columns, and hostile files refused cheaply."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import save
from skprune_cli.cli import app
from skprune_cli.errors import UsageError
from skprune_cli.fidelity.data import MAX_LINE_BYTES, check_fits, read_data

MiB = 1 << 20


def test_npy_npz_and_key(tmp_path, iris):
    X = iris[0]
    np.save(tmp_path / "a.npy", X)
    np.testing.assert_array_equal(read_data(tmp_path / "a.npy").X, X)
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    np.testing.assert_array_equal(read_data(tmp_path / "f.npy").X, X)
    np.savez(tmp_path / "b.npz", first=X[:10], second=X[:20])
    np.testing.assert_array_equal(read_data(tmp_path / "b.npz").X, X[:10])
    assert read_data(tmp_path / "b.npz", key="second").X.shape == (20, 4)
    with pytest.raises(UsageError, match="no array 'third'"):
        read_data(tmp_path / "b.npz", key="third")


def test_csv_positional_with_and_without_header(tmp_path, iris, logreg):
    X = iris[0][:5]
    rows = "\n".join(",".join(str(v) for v in row) for row in X)
    (tmp_path / "h.csv").write_text("a,b,c,d\n" + rows + "\n")
    (tmp_path / "n.csv").write_text(rows + "\n")
    for name in ("h.csv", "n.csv"):
        data = check_fits(logreg, read_data(tmp_path / name), tmp_path / name)
        np.testing.assert_array_equal(data.X, X)
    (tmp_path / "bad.csv").write_text("1,2,3,4\n3,x,1,2\n")
    with pytest.raises(UsageError, match="cannot use this data"):
        check_fits(logreg, read_data(tmp_path / "bad.csv"), tmp_path / "bad.csv")


def test_text_and_jsonl(tmp_path, text_nb, docs):
    (tmp_path / "d.txt").write_text("\n".join(d.replace("\n", " ") for d in docs[:30]))
    assert len(read_data(tmp_path / "d.txt").X) == 30
    with open(tmp_path / "d.jsonl", "w") as handle:
        for d in docs[:12]:
            handle.write(json.dumps({"body": d, "id": 1}) + "\n")
    probes = read_data(tmp_path / "d.jsonl", field="body")
    assert probes.X == docs[:12]
    check_fits(text_nb, probes, tmp_path / "d.jsonl")
    with pytest.raises(UsageError, match="no 'text' field"):
        check_fits(text_nb, read_data(tmp_path / "d.jsonl"), tmp_path / "d.jsonl")
    with open(tmp_path / "t.jsonl", "w") as handle:
        for d in docs[:7]:
            handle.write(json.dumps({"text": d}) + "\n")
    assert check_fits(text_nb, read_data(tmp_path / "t.jsonl"), tmp_path / "t.jsonl").X == docs[:7]


def test_rows_are_capped(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((20000, 3)))
    assert read_data(tmp_path / "big.npy", max_rows=5000).X.shape == (5000, 3)
    (tmp_path / "big.csv").write_text("1,2\n" * 20000)
    assert len(read_data(tmp_path / "big.csv", max_rows=5000).X) == 5000


def test_data_that_does_not_fit(tmp_path, logreg, text_nb):
    np.save(tmp_path / "w.npy", np.zeros((5, 7)))
    with pytest.raises(UsageError, match="7 columns but the model expects 4"):
        check_fits(logreg, read_data(tmp_path / "w.npy"), tmp_path / "w.npy")
    with pytest.raises(UsageError, match="cannot use this data"):
        check_fits(text_nb, read_data(tmp_path / "w.npy"), tmp_path / "w.npy")
    with pytest.raises(UsageError, match="unknown data format"):
        (tmp_path / "x.parquet").write_bytes(b"x")
        read_data(tmp_path / "x.parquet")


# -- named columns (models fitted on DataFrames) ---------------------------------------------------

def frame_model():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"city": rng.choice(["paris", "rome", "oslo"], 300), "size": rng.normal(50, 10, 300),
                       "zip": rng.choice(["02139", "10001"], 300), "age": rng.integers(0, 90, 300).astype(float)})
    y = ((df["size"] > 50) ^ (df["city"] == "rome")).astype(int)
    ct = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "zip"]),
                            ("num", StandardScaler(), ["size", "age"])])
    return make_pipeline(ct, LogisticRegression()).fit(df, y), df


def test_csv_columns_matched_by_name_and_typed(tmp_path):
    model, df = frame_model()
    shuffled = df[["age", "zip", "city", "size"]].copy()
    shuffled.insert(2, "extra", "x")
    shuffled.head(40).to_csv(tmp_path / "d.csv", index=False)
    data = check_fits(model, read_data(tmp_path / "d.csv"), tmp_path / "d.csv")
    assert list(data.X.columns) == ["city", "size", "zip", "age"]
    assert data.X["zip"].tolist() == df["zip"].head(40).tolist()  # "02139" stays text: the encoder's categories are
    assert data.X["size"].dtype == np.float64
    np.testing.assert_array_equal(model.predict(data.X), model.predict(df.head(40)))
    assert "ignored columns: extra" in data.source


def test_jsonl_records_and_missing_column(tmp_path):
    model, df = frame_model()
    with open(tmp_path / "r.jsonl", "w") as handle:
        for record in df.head(25)[["size", "age", "city", "zip"]].to_dict("records"):
            handle.write(json.dumps(record) + "\n")
    data = check_fits(model, read_data(tmp_path / "r.jsonl"), tmp_path / "r.jsonl")
    np.testing.assert_array_equal(model.predict(data.X), model.predict(df.head(25)))
    df.drop(columns=["age"]).head(10).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(UsageError, match="missing column 'age'"):
        check_fits(model, read_data(tmp_path / "m.csv"), tmp_path / "m.csv")


def test_cli_check_with_a_reordered_csv_and_a_missing_column(runner, tmp_path):
    model, df = frame_model()
    source = save(model, tmp_path / "m.skops")
    df[["size", "zip", "age", "city"]].head(60).to_csv(tmp_path / "ok.csv", index=False)
    result = runner.invoke(app, ["check", str(source), str(source), "--data", str(tmp_path / "ok.csv"), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["passed"] is True and "ok.csv" in doc["data_source"]
    df[["size", "zip", "city"]].head(60).to_csv(tmp_path / "bad.csv", index=False)
    result = runner.invoke(app, ["check", str(source), str(source), "--data", str(tmp_path / "bad.csv")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "bad.csv" in result.stderr
    assert "'age'" in result.stderr and "Traceback" not in result.stderr


# -- hostile data files (issue 14 item 5) -------------------------------------------------------

def _one_line_csv(path: Path) -> None:
    with open(path, "wb") as handle:
        chunk = b"1," * (MiB // 2)
        for _ in range(256):
            handle.write(chunk)


def _million_columns(path: Path) -> None:
    path.write_bytes(",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n" + b"0," * 999_999 + b"0\n")


def _big_jsonl_field(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.write(b'{"text": "')
        for _ in range(100):
            handle.write(b"a" * MiB)
        handle.write(b'"}\n')


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {SENTINEL}",))


SENTINEL = Path("/tmp") / f"skprune-data-sentinel-{os.getpid()}"


def _object_npy(path: Path) -> None:
    np.save(path, np.array([Payload()], dtype=object), allow_pickle=True)


def _pickle_npz(path: Path) -> None:
    path.write_bytes(pickle.dumps(Payload(), protocol=4))


HOSTILE = {
    "one_line.csv": (_one_line_csv, f"longer than {MAX_LINE_BYTES // MiB} MiB"),
    "wide.csv": (_million_columns, "1000000 columns"),
    "field.jsonl": (_big_jsonl_field, f"longer than {MAX_LINE_BYTES // MiB} MiB"),
    "objects.npy": (_object_npy, "never unpickled"),
    "pickle.npz": (_pickle_npz, "never unpickled"),
}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-data")
    for name, (make, _) in HOSTILE.items():
        make(folder / name)
    return folder


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_data_file_in_process(runner, tmp_path, hostile_dir, logreg, name):
    """``shrink`` and ``check``: exit 2, one line naming the file and the reason, nothing written or run."""
    source = save(logreg, tmp_path / "m.skops")
    data = hostile_dir / name
    before = data.stat().st_mtime_ns, data.stat().st_size
    for args in (["shrink", source, "-o", tmp_path / "out.skops", "--data", data],
                 ["check", source, source, "--data", data]):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 2, (args[0], result.stderr, result.exception)
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and str(data) in line and HOSTILE[name][1] in line, line
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skops"]
    assert (data.stat().st_mtime_ns, data.stat().st_size) == before
    assert not SENTINEL.exists()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _forked(args: list[str]) -> tuple[int, str, int, float]:
    """The CLI in a forked child (no second import of sklearn): exit code, stderr, RSS growth, seconds."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report, leave without running the parent's cleanup
        code = 99
        try:
            os.close(read_end)
            rss = _status_kib("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
            start = time.monotonic()
            result = CliRunner().invoke(app, args)
            seconds = time.monotonic() - start
            grown = (_status_kib("VmHWM") - rss) * 1024
            os.write(write_end, json.dumps([result.exit_code, result.stderr, grown, seconds]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        payload = handle.read()
    os.waitpid(pid, 0)
    return tuple(json.loads(payload))  # type: ignore[return-value]


def test_hostile_data_files_cost_little(tmp_path, hostile_dir, logreg):
    """Refused before parsing: a 256 MiB line or a 100 MB field costs tens of MB, not gigabytes."""
    source = save(logreg, tmp_path / "m.skops")
    for name in ("one_line.csv", "field.jsonl", "wide.csv"):
        code, err, grown, seconds = _forked(["check", str(source), str(source), "--data", str(hostile_dir / name)])
        assert code == 2 and name in err, err
        assert grown < 200 * MiB, (name, grown)
        assert seconds < 30, (name, seconds)


def test_a_header_of_text_over_text_columns_is_found_by_the_model_names(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    df = pd.DataFrame({"a": ["x", "y", "a", "b"] * 10, "b": ["b", "a", "q", "r"] * 10})
    model = make_pipeline(ColumnTransformer([("c", OneHotEncoder(), ["a", "b"])]), LogisticRegression())
    model.fit(df, np.arange(40) % 2)
    df[["b", "a"]].to_csv(tmp_path / "t.csv", index=False)  # header cells are also values below
    data = check_fits(model, read_data(tmp_path / "t.csv"), tmp_path / "t.csv")
    assert len(data.X) == 40 and list(data.X.columns) == ["a", "b"]
    np.testing.assert_array_equal(model.predict(data.X), model.predict(df))
