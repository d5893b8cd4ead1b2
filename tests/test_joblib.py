"""joblib files in every form joblib writes: read by content, shrunk, written back, loaded without skprune.

Inputs are made here with ``joblib.dump`` (compress 0, 3 and 9; zlib, gzip, bz2,
xz and lzma; named ``.joblib``, ``.pkl`` or ``.sav``) from a RandomForest and from
a DataFrame pipeline (OneHotEncoder on a string column, StandardScaler on the
numeric ones, HistGradientBoosting). Every output of ``shrink`` is then loaded
in one separate process where skprune cannot be imported, with ``joblib.load``
or ``skops.io.load`` only, and its predictions on held-out rows are compared
with the original model's.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from skprune_cli import load_model
from skprune_cli.cli import app
from skprune_cli.errors import InputRefused
from skprune_cli.formats import read_model, target_for
from skprune_cli.formats.pickle_io import scan_globals

FORMS = {  # label: joblib.dump's compress argument
    "compress0": 0, "compress3": 3, "compress9": 9, "zlib": ("zlib", 3), "gzip": ("gzip", 3),
    "bz2": ("bz2", 3), "xz": ("xz", 3), "lzma": ("lzma", 3),
}
MAGIC = {"compress0": b"\x80", "compress3": b"\x78", "compress9": b"\x78", "zlib": b"\x78", "gzip": b"\x1f\x8b",
         "bz2": b"BZh", "xz": b"\xfd7zXZ", "lzma": b"\x5d\x00\x00"}
NAMES = (".joblib", ".pkl", ".sav")
OUTPUTS = (".joblib", ".pkl", ".skops")
# the DataFrame model: a sensible sample of the forms, each output format covered
DF_PLAN = [("compress0", ".sav", ".joblib"), ("compress3", ".pkl", ".skops"), ("xz", ".joblib", ".pkl"),
           ("gzip", ".sav", ".skops"), ("lzma", ".pkl", ".joblib"), ("bz2", ".joblib", ".pkl")]

LOADER = textwrap.dedent('''
    import importlib.util, json, pickle, sys
    sys.path.append({site!r})          # site-packages without its .pth files: no editable skprune
    assert importlib.util.find_spec("skprune_cli") is None, "skprune is importable here"
    import joblib, skops.io as sio
    jobs = json.loads(sys.argv[1])
    out = {{}}
    for path, trusted, rows in jobs:
        with open(rows, "rb") as handle:
            X = pickle.load(handle)   # the test's own held-out rows
        model = sio.load(path, trusted=trusted or None) if path.endswith(".skops") else joblib.load(path)
        out[path] = {{"predict": model.predict(X).tolist(), "proba": model.predict_proba(X).tolist()}}
    assert not [name for name in sys.modules if name.startswith("skprune")]
    print(json.dumps(out))
''').format(site=sysconfig.get_paths()["purelib"])


def load_elsewhere(jobs: list[tuple[str, list[str], str]], cwd: Path) -> dict[str, Any]:
    """Load every file with joblib / skops only, in one process that cannot import skprune."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-S", "-c", LOADER, json.dumps(jobs)], capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def numeric_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, random_state=0)
    return X[:300], y[:300], X[300:]


def frame_data() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"color": rng.choice(["red", "green", "blue", "grey"], n),
                          "size": rng.normal(10, 3, n), "weight": rng.gamma(2, 5, n),
                          "count": rng.integers(0, 20, n)})
    y = ((frame["color"].isin(["red", "blue"])) ^ (frame["size"] > 10)).astype(int).to_numpy()
    return frame[:300], y[:300], frame[300:].reset_index(drop=True)


def forest_model() -> tuple[Any, Any]:
    X, y, held_out = numeric_data()
    return RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0).fit(X, y), held_out


def frame_model() -> tuple[Any, Any]:
    X, y, held_out = frame_data()
    columns = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                                 ("num", StandardScaler(), ["size", "weight", "count"])])
    model = make_pipeline(columns, HistGradientBoostingClassifier(max_iter=15, random_state=0)).fit(X, y)
    return model, held_out


def shrink(source: Path, out: Path, *flags: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["shrink", str(source), "-o", str(out), "--json", *flags])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


class Session:
    """All inputs written, inspected and shrunk once; every output loaded in one outside process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models: dict[str, tuple[Any, Any, Path]] = {}
        self.runs: dict[tuple[str, str, str, str], dict[str, Any]] = {}  # (model, form, name, output) -> report
        self.inspected: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.loaded: dict[str, Any] = {}

    def add_model(self, key: str, model: Any, held_out: Any) -> None:
        rows = self.root / f"{key}_rows.pkl"
        rows.write_bytes(pickle.dumps(held_out, protocol=5))
        self.models[key] = (model, held_out, rows)

    def source(self, key: str, form: str, name: str) -> Path:
        path = self.root / f"{key}_{form}{name}"
        if not path.exists():
            joblib.dump(self.models[key][0], path, compress=FORMS[form])
        return path

    def run(self, key: str, form: str, name: str, output: str) -> None:
        source = self.source(key, form, name)
        out = self.root / f"{key}_{form}{name}.lite{output}"
        self.runs[(key, form, name, output)] = shrink(source, out)

    def inspect(self, key: str, form: str, name: str) -> None:
        result = CliRunner().invoke(app, ["inspect", str(self.source(key, form, name)), "--json"])
        assert result.exit_code == 0, result.stderr
        self.inspected[(key, form, name)] = json.loads(result.stdout)

    def load_all(self) -> None:
        jobs = [(report["output"]["path"], report["trusted_types"], str(self.models[key[0]][2]))
                for key, report in self.runs.items()]
        self.loaded = load_elsewhere(jobs, self.root)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    done = Session(tmp_path_factory.mktemp("joblib"))
    done.add_model("forest", *forest_model())
    done.add_model("frame", *frame_model())
    for form in FORMS:
        for name in NAMES:
            done.inspect("forest", form, name)
        for i, output in enumerate(OUTPUTS):
            done.run("forest", form, NAMES[(list(FORMS).index(form) + i) % len(NAMES)], output)
    for form, name, output in DF_PLAN:
        done.inspect("frame", form, name)
        done.run("frame", form, name, output)
    done.load_all()
    return done


FOREST_RUNS = [(form, NAMES[(list(FORMS).index(form) + i) % len(NAMES)], output)
               for form in FORMS for i, output in enumerate(OUTPUTS)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", FORMS)
def test_inspect_reads_every_form_by_content(session: Session, form: str, name: str) -> None:
    source = session.source("forest", form, name)
    assert source.read_bytes().startswith(MAGIC[form])
    report = session.inspected[("forest", form, name)]
    tree_arrays = [a for a in report["arrays"] if "tree_" in a["path"]]
    assert len(tree_arrays) >= 8, report["arrays"][:3]
    assert report["total_bytes"] > 10_000


@pytest.mark.parametrize("form, name, output", FOREST_RUNS + [("frame:" + f, n, o) for f, n, o in DF_PLAN],
                         ids=lambda v: str(v))
def test_shrunk_output_loads_without_skprune_and_predicts_alike(session: Session, form: str, name: str,
                                                                output: str) -> None:
    key, _, form = form.rpartition(":")
    key = key or "forest"
    report = session.runs[(key, form, name, output)]
    model, held_out, _ = session.models[key]
    assert report["input"]["format"] == "joblib"
    expected_format = {".joblib": "joblib", ".pkl": "pickle", ".skops": "skops"}[output]
    assert report["output"]["format"] == expected_format
    loader = {".joblib": "joblib.load(", ".pkl": "pickle.load(", ".skops": "sio.load("}[output]
    assert loader in report["load_command"]
    outputs = session.loaded[report["output"]["path"]]
    np.testing.assert_array_equal(outputs["predict"], model.predict(held_out))
    np.testing.assert_allclose(outputs["proba"], model.predict_proba(held_out), rtol=0, atol=1e-3)


# --------------------------------------------------------------------------- joblib output

@pytest.mark.parametrize("flags, magic", [((), b"\x80"), (("--zip",), b"\x78"), (("--compression", "deflate"), b"\x78"),
                                          (("--compression", "lzma"), b"\xfd7zXZ"),
                                          (("--compression", "bzip2"), b"BZh"),
                                          (("--compression", "best"), b"\xfd7zXZ")])
def test_joblib_output_uses_joblib_compression(tmp_path: Path, flags: tuple[str, ...], magic: bytes) -> None:
    model, held_out = forest_model()
    source = tmp_path / "m.joblib"
    joblib.dump(model, source)
    out = tmp_path / "lite.joblib"
    report = shrink(source, out, *flags)
    assert out.read_bytes().startswith(magic)
    assert report["load_command"] == f'python -c "import joblib; model = joblib.load({str(out)!r})"'
    np.testing.assert_array_equal(joblib.load(out).predict(held_out), model.predict(held_out))
    if flags:
        assert out.stat().st_size < 0.6 * source.stat().st_size


def test_joblib_output_names_and_errors(tmp_path: Path) -> None:
    assert target_for(tmp_path / "m.joblib").format == "joblib"
    assert target_for(tmp_path / "m.joblib", zip=True).compression == "deflate"
    result = CliRunner().invoke(app, ["shrink", str(tmp_path / "x.pkl"), "-o", str(tmp_path / "out.sav")])
    assert result.exit_code == 2


# --------------------------------------------------------------------------- reading by content

def test_plain_pickle_named_sav_or_without_suffix_loads(tmp_path: Path) -> None:
    model, held_out = forest_model()
    for name, protocol in (("m.sav", 5), ("m", 4), ("m.model", 2), ("old.sav", 0)):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(model, protocol=protocol))
        loaded = read_model(path)
        assert loaded.info.format == "pickle"
        np.testing.assert_array_equal(loaded.model.predict(held_out), model.predict(held_out))


def test_old_sklearn_vendored_joblib_records_are_read(tmp_path: Path) -> None:
    """Files from scikit-learn's vendored joblib name sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper."""
    model, held_out = forest_model()
    buffer = io.BytesIO()
    joblib.dump(model, buffer, protocol=2)
    data = buffer.getvalue().replace(b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n",
                                     b"csklearn.externals.joblib.numpy_pickle\nNumpyArrayWrapper\n")
    assert b"sklearn.externals.joblib" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data)
    np.testing.assert_array_equal(load_model(path).predict(held_out), model.predict(held_out))


def test_big_endian_and_fortran_arrays_come_back_equal(tmp_path: Path) -> None:
    from sklearn.preprocessing import StandardScaler as Scaler

    X = np.asfortranarray(np.random.default_rng(0).normal(size=(50, 4)))
    model = Scaler().fit(X)
    model.scale_ = model.scale_.astype(">f8")
    model.extra_ = np.asfortranarray(X[:10])
    path = tmp_path / "m.joblib"
    joblib.dump(model, path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.scale_, model.scale_)
    assert loaded.scale_.dtype.isnative
    np.testing.assert_array_equal(loaded.extra_, model.extra_)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_object_arrays_inside_joblib_files_are_read(tmp_path: Path) -> None:
    model, _ = frame_model()  # OneHotEncoder.categories_ holds object arrays of strings
    path = tmp_path / "m.joblib"
    joblib.dump(model, path)
    loaded = load_model(path)
    encoder = loaded[0].named_transformers_["cat"]
    assert encoder.categories_[0].dtype == object
    assert list(encoder.categories_[0]) == ["blue", "green", "grey", "red"]


def test_joblib_refusal_lists_every_foreign_global(tmp_path: Path) -> None:
    import decimal
    import fractions

    model, _ = forest_model()
    path = tmp_path / "m.joblib"
    joblib.dump({"model": model, "a": fractions.Fraction(1, 3), "b": decimal.Decimal(2)}, path)
    with pytest.raises(InputRefused) as caught:
        read_model(path)
    assert "fractions.Fraction" in caught.value.message and "decimal.Decimal" in caught.value.message
    assert "NumpyArrayWrapper" not in caught.value.message
    trusted = read_model(path, trust=["fractions.Fraction", "decimal.Decimal"])
    assert trusted.info.format == "joblib"


@pytest.mark.parametrize("protocol", [4, 5])
def test_scan_globals_finds_names_split_by_a_frame(protocol: int) -> None:
    """The pickler commits a frame between a global's module and name strings; the name is still found."""
    import fractions

    for n in range(65500, 65540):
        data = pickle.dumps(["x" * n, fractions.Fraction(1, 3)], protocol=protocol)
        assert scan_globals(io.BytesIO(data)) == ["fractions.Fraction"], n


def test_refusal_of_a_framed_pickle_names_the_real_global(tmp_path: Path) -> None:
    import fractions

    path = tmp_path / "m.sav"
    path.write_bytes(pickle.dumps(["x" * 65520, fractions.Fraction(1, 3)], protocol=4))
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 3
    assert "fractions.Fraction" in result.stderr and "built at run time" not in result.stderr


@pytest.mark.parametrize("head, reason", [(b"\x04\x22\x4d\x18" + bytes(60), "lz4"),
                                          (b"ZF0x1f" + bytes(60), "joblib 0.9 or older")])
def test_unsupported_joblib_containers_are_refused_clearly(tmp_path: Path, head: bytes, reason: str) -> None:
    path = tmp_path / "m.pkl"
    path.write_bytes(head)
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 3
    assert reason in result.stderr and len(result.stderr.splitlines()) == 1


def test_companion_file_layout_is_refused_clearly(tmp_path: Path) -> None:
    """joblib < 0.10 kept arrays beside the pickle (NDArrayWrapper): refused, the companion never opened."""
    from joblib.numpy_pickle_compat import NDArrayWrapper

    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(NDArrayWrapper("m.pkl_01.npy", np.ndarray), protocol=2))
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 3
    assert "companion files" in result.stderr and len(result.stderr.splitlines()) == 1


def test_joblib_input_written_to_pkl_loads_with_joblib_and_pickle(tmp_path: Path) -> None:
    model, held_out = forest_model()
    source = tmp_path / "m.joblib"
    joblib.dump(model, source, compress=3)
    out = tmp_path / "lite.pkl"
    shrink(source, out)
    np.testing.assert_array_equal(joblib.load(out).predict(held_out), model.predict(held_out))
    with open(out, "rb") as handle:
        np.testing.assert_array_equal(pickle.load(handle).predict(held_out), model.predict(held_out))
