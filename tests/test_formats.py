"""Reading and writing model files: trust, the pickle allowlist, suffix-driven formats, atomic writes."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator

from conftest import TREE, load_plain, save
from skprune_cli import formats, load_model, save_model
from skprune_cli.errors import InputRefused, OutputError, UsageError
from skprune_cli.formats.allowlist import Refused, check_global
from skprune_cli.formats.pickle_io import scan_globals


class Custom(BaseEstimator):
    def fit(self, X, y=None):
        self.weights_ = np.ones(3)
        return self


def evil_pickle(sentinel: Path, protocol: int = 2) -> bytes:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    return pickle.dumps(Payload(), protocol=protocol)


def test_skops_untrusted_types_are_listed_and_trust_is_exact(tmp_path, iris):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from trust_helpers import Rescale

    X, y = iris
    knn = make_pipeline(Rescale(), KNeighborsClassifier()).fit(X, y)
    path = save(knn, tmp_path / "knn.skops")
    untrusted = [name for name in sio.get_untrusted_types(file=path) if not name.startswith("sklearn.")]
    assert untrusted == ["trust_helpers.Rescale"]  # scikit-learn's own types are on the reviewed list
    with pytest.raises(InputRefused) as err:
        load_model(path)
    assert all(name in err.value.message for name in untrusted) and str(path) == err.value.path
    model = load_model(path, trust=untrusted)
    np.testing.assert_array_equal(model.predict(X), knn.predict(X))


def test_valid_trees_need_no_trust(tmp_path, forest, iris):
    path = save(forest, tmp_path / "forest.skops")
    assert TREE in sio.get_untrusted_types(file=path)
    loaded = formats.read_model(path)
    assert any("validated" in note for note in loaded.notes)
    np.testing.assert_array_equal(loaded.model.predict(iris[0]), forest.predict(iris[0]))


def test_skops_custom_class_is_refused(tmp_path):
    path = tmp_path / "custom.skops"
    sio.dump(Custom().fit(None), path)
    with pytest.raises(InputRefused, match=r"test_formats\.Custom"):
        load_model(path)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_payload_is_refused_before_it_runs(tmp_path, protocol):
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(evil_pickle(sentinel, protocol))
    with pytest.raises(InputRefused, match=r"(posix|os)\.system"):
        load_model(path)
    assert not sentinel.exists()


def test_every_refused_global_is_listed(tmp_path):
    payload = pickle.dumps({"a": os.system, "b": eval, "c": np.ones(2)}, protocol=4)
    path = tmp_path / "many.pkl"
    path.write_bytes(payload)
    with pytest.raises(InputRefused) as err:
        load_model(path)
    assert "system" in err.value.message and "builtins.eval" in err.value.message
    assert "--trust" in err.value.message


def test_scan_sees_stack_global_names():
    names = scan_globals(io.BytesIO(pickle.dumps([os.path.join, np.ones(1)], protocol=4)))
    assert "posixpath.join" in names
    assert any(name.endswith("_reconstruct") or name.endswith("_frombuffer") for name in names)


def test_allowlist_judges_the_resolved_object():
    check_global("sklearn.linear_model._logistic", "LogisticRegression")
    check_global("numpy", "float64")
    for module, name in [("sklearn.utils.fixes", "os.system"), ("numpy", "load"), ("numpy", "memmap"),
                         ("sklearn.datasets", "fetch_openml"), ("builtins", "getattr"),
                         ("functools", "partial"), ("sklearn", "__builtins__"), ("numpy", "ctypeslib")]:
        with pytest.raises(Refused):
            check_global(module, name)
    assert check_global("functools", "partial", frozenset({"functools.partial"}))


def test_trust_admits_a_named_global(tmp_path):
    path = tmp_path / "custom.pkl"
    path.write_bytes(pickle.dumps(Custom().fit(None)))
    with pytest.raises(InputRefused, match="test_formats.Custom"):
        load_model(path)
    assert isinstance(load_model(path, trust=["test_formats.Custom"]), Custom)


def test_pickle_to_skops_conversion(tmp_path, svc_pipe, iris):
    source = save(svc_pipe, tmp_path / "svc.pkl")
    model = load_model(source)
    save_model(model, tmp_path / "svc.skops")
    again = load_plain(tmp_path / "svc.skops")
    np.testing.assert_array_equal(again.predict(iris[0]), svc_pipe.predict(iris[0]))


@pytest.mark.parametrize("suffix, opener", [(".pkl.gz", gzip.open), (".pkl.xz", lzma.open)])
def test_compressed_pickles_load_with_standard_tools(tmp_path, logreg, iris, suffix, opener):
    path = save_model(logreg, tmp_path / f"m{suffix}")
    with opener(path) as handle:
        np.testing.assert_array_equal(pickle.load(handle).predict(iris[0]), logreg.predict(iris[0]))
    np.testing.assert_array_equal(joblib.load(path).predict(iris[0]), logreg.predict(iris[0]))
    assert isinstance(load_model(path), type(logreg))


def test_compression_needs_a_telling_pickle_name(tmp_path):
    with pytest.raises(UsageError, match=r"\.gz"):
        formats.target_for(tmp_path / "m.pkl", zip=True)
    with pytest.raises(UsageError, match="contradicts"):
        formats.target_for(tmp_path / "m.pkl.gz", compression="lzma")
    with pytest.raises(UsageError, match="unknown output format"):
        formats.target_for(tmp_path / "m.sav")
    assert formats.target_for(tmp_path / "m.skops", zip=True).compression == "auto"


def test_skops_zip_members_are_compressed_and_schema_is_minified(tmp_path, text_svd):
    path = save_model(text_svd, tmp_path / "m.skops", compression="deflate")
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}
        schema = archive.read("schema.json")
    assert b"\n" not in schema and b": " not in schema[:200]
    plain = tmp_path / "plain.skops"
    sio.dump(text_svd, plain, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < plain.stat().st_size


def test_existing_output_and_input_are_never_overwritten(tmp_path, logreg):
    out = save_model(logreg, tmp_path / "m.skops")
    before = out.read_bytes()
    with pytest.raises(OutputError, match="--force"):
        save_model(logreg, out)
    assert out.read_bytes() == before
    save_model(logreg, out, force=True)
    with pytest.raises(OutputError, match="input"):
        formats.check_target(out, True, (out,))


def test_failed_write_leaves_nothing(tmp_path, logreg, monkeypatch):
    def explode(*args, **kwargs):
        args[1].write(b"partial bytes")
        raise OSError(28, "No space left on device")

    from skprune_cli.formats import skops_io

    monkeypatch.setattr(skops_io, "write_skops", explode)
    with pytest.raises(OutputError, match="no space left"):
        save_model(logreg, tmp_path / "m.skops")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_nothing(tmp_path, logreg, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    from skprune_cli.formats import pickle_io

    monkeypatch.setattr(pickle_io, "write_pickle", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_model(logreg, tmp_path / "m.pkl")
    assert list(tmp_path.iterdir()) == []


def test_pickle_disguised_as_skops_is_never_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"
    path = tmp_path / "model.skops"
    path.write_bytes(evil_pickle(sentinel))
    with pytest.raises(InputRefused, match="pickle in disguise"):
        load_model(path)
    assert not sentinel.exists()


@pytest.mark.parametrize("payload", [42, "text", np.arange(4), None])
def test_root_must_be_a_model(tmp_path, payload):
    path = tmp_path / "thing.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(InputRefused, match="not a scikit-learn model"):
        load_model(path)


def test_bundles_of_estimators_are_accepted(tmp_path, logreg):
    path = tmp_path / "bundle.pkl"
    path.write_bytes(pickle.dumps({"model": logreg, "threshold": 0.5}))
    assert load_model(path)["threshold"] == 0.5


def test_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe.skops"
    os.mkfifo(fifo)
    with pytest.raises(InputRefused, match="not a regular file"):
        load_model(fifo)


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_model(tmp_path / "nope.skops")


def test_best_compression_mixes_methods_and_loads_plainly(tmp_path, text_svd, docs):
    import struct

    from skprune_cli.formats.compression import Policy

    path = save_model(text_svd, tmp_path / "best.skops", compression="best")
    plain = save_model(text_svd, tmp_path / "deflate.skops", compression="deflate")
    assert path.stat().st_size < plain.stat().st_size
    with zipfile.ZipFile(path) as archive:
        methods = {i.compress_type for i in archive.infolist()}
        lzma_members = [i for i in archive.infolist() if i.compress_type == zipfile.ZIP_LZMA]
        assert lzma_members and methods <= {zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_STORED}
        # the LZMA properties are tuned to the array's element size (lc/lp/pb differ from zipfile's 3/0/2)
        with open(path, "rb") as raw:
            raw.seek(lzma_members[0].header_offset + 26)
            name_len, extra_len = struct.unpack("<HH", raw.read(4))
            raw.seek(name_len + extra_len, 1)
            props = raw.read(9)[4]
        assert props != 3 + 9 * (0 + 5 * 2)
    model = load_plain(path)
    np.testing.assert_allclose(model.transform(docs[:20]), text_svd.transform(docs[:20]))
    assert Policy("best").choose("x.bin", b"").method == zipfile.ZIP_STORED


def test_deflate_estimates_what_best_would_save(tmp_path, text_svd, runner):
    import json as _json

    from skprune_cli.cli import app

    source = save(text_svd, tmp_path / "m.skops")
    doc = _json.loads(runner.invoke(app, ["shrink", str(source), "-o", str(tmp_path / "z.skops"), "--zip",
                                          "--json"]).stdout)
    assert doc["compression"] == "auto" and doc["best_saving_estimate"] > 0
    assert set(doc["compression_members"]) <= {"deflate", "lzma"}  # --zip: fast LZMA for big members


def test_an_array_member_is_checked_whatever_its_name(tmp_path):
    """numpy allocates what a header declares: a short array under another name is refused by its header."""
    from hostile_payloads import skops_npy_renamed

    from skprune_cli.errors import InputRefused
    from skprune_cli.formats import read_model

    path = skops_npy_renamed(tmp_path, tmp_path / "sentinel")
    with pytest.raises(InputRefused, match=r"'coef.dat' declares \(1000, 1000\)"):
        read_model(path)
