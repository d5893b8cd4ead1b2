"""The reviewed list of scikit-learn internals: what loads without --trust, and what still cannot.

Each family of the list (trust.py) is loaded without --trust from a real model, and a
crafted file per family shows that trust does not extend to what the file puts inside it.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingRegressor,
                              StackingClassifier)
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer, f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler
from sklearn.random_projection import SparseRandomProjection
from sklearn.tree import DecisionTreeClassifier

from conftest import save
from skprune_cli.cli import app
from skprune_cli.formats.trust import FAMILIES, REVIEWED, why
from trust_helpers import FOREIGN, Rescale

ROOT = Path(__file__).resolve().parents[1]


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y, X @ np.array([1.0, -2.0, 0.5, 0.0]) + 3.0


def _models(X: np.ndarray, y: np.ndarray, yr: np.ndarray) -> dict[str, Any]:
    binary = (y > 0).astype(int)
    out = {
        "mlp": MLPClassifier((6,), max_iter=30, random_state=0).fit(X, y),
        "gpr": GaussianProcessRegressor(ConstantKernel() * RBF() + WhiteKernel()).fit(X[:60], yr[:60]),
        "grid": GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, cv=StratifiedKFold(3),
                             scoring=make_scorer(f1_score, average="macro")).fit(X, y),
        "kd": KNeighborsClassifier(algorithm="kd_tree").fit(X, y),
        "ball": KNeighborsClassifier(algorithm="ball_tree", metric="minkowski", p=3).fit(X, y),
        "stack": StackingClassifier([("lr", LogisticRegression(max_iter=200)),
                                     ("dt", DecisionTreeClassifier(max_depth=3))]).fit(X, y),
        "hgb": HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X, np.abs(yr) + 1),
        "gb_exp": GradientBoostingClassifier(loss="exponential", n_estimators=3).fit(X, binary),
        "gb_huber": GradientBoostingRegressor(loss="huber", n_estimators=3).fit(X, yr),
        "spline": make_pipeline(SplineTransformer(n_knots=4), LogisticRegression(max_iter=200)).fit(X, y),
        "sparse_rp": make_pipeline(SparseRandomProjection(3, random_state=0), LogisticRegression()).fit(X, y),
        "sgd": SGDClassifier(random_state=0).fit(X, y),  # keeps a Cython loss object (Hinge)
    }
    return out


@pytest.fixture(scope="module")
def models(data) -> dict[str, Any]:
    return _models(*data)


NAMES = ["mlp", "gpr", "grid", "kd", "ball", "stack", "hgb", "gb_exp", "gb_huber", "spline", "sparse_rp"]

PLAIN_LOAD = """
import json, sys
import numpy as np, skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException
X = np.load(sys.argv[2])
out = {}
for name, (path, trusted) in json.loads(sys.argv[1]).items():
    model = sio.load(path, trusted=trusted)
    fewer = None
    if trusted:
        try:
            sio.load(path, trusted=trusted[1:])
            fewer = "loaded"
        except UntrustedTypesFoundException:
            fewer = "refused"
    out[name] = [model.predict(X).tolist(), fewer, "skprune" in sys.modules]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def shrunk(models, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Every model saved with skops.io.dump, then inspected and shrunk without --trust."""
    from typer.testing import CliRunner

    runner, folder, out = CliRunner(), tmp_path_factory.mktemp("shrunk"), {}
    for name in NAMES:
        source = save(models[name], folder / f"{name}.skops")
        assert sio.get_untrusted_types(file=source), name  # plain skops asks for these
        listed = run(runner, "inspect", source, "--json")
        assert listed.exit_code == 0, (name, listed.stderr)
        target = folder / f"{name}.lite.skops"
        result = run(runner, "shrink", source, "-o", target, "--json")
        assert result.exit_code == 0, (name, result.stderr)
        out[name] = (target, json.loads(result.stdout))
    return out


def test_sgd_loss_objects_are_judged_like_skops_does(runner, tmp_path, models):
    """skops trusts SGD's Cython losses; inspect (which judges types by name, without sklearn) must too."""
    source = save(models["sgd"], tmp_path / "sgd.skops")
    assert sio.get_untrusted_types(file=source) == []
    listed = run(runner, "inspect", source, "--json")
    assert listed.exit_code == 0, listed.stderr
    assert run(runner, "shrink", source, "-o", tmp_path / "lite.skops").exit_code == 0


@pytest.mark.parametrize("name", NAMES)
def test_sklearn_internals_need_no_trust(shrunk, name):
    """skops alone refuses these files; skprune reads them and names exactly what a reader must trust."""
    target, doc = shrunk[name]
    trusted = doc["trusted_types"]
    assert trusted == sio.get_untrusted_types(file=target)
    assert (f"trusted={trusted!r}" in doc["load_command"]) == bool(trusted)  # the optimizer may be dropped
    assert not any("--trust" in note and "untrusted" in note for note in doc["notes"])


def test_outputs_load_with_exactly_the_printed_trust(shrunk, models, data, tmp_path):
    """In a process without skprune: each output loads with its load command's list, predicts like
    the original, and is refused by skops with one type fewer."""
    X = data[0]
    np.save(tmp_path / "X.npy", X)
    spec = {name: [str(target), doc["trusted_types"]] for name, (target, doc) in shrunk.items()}
    proc = subprocess.run([sys.executable, "-c", PLAIN_LOAD, json.dumps(spec), str(tmp_path / "X.npy")],
                          capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    for name, (predicted, fewer, imported) in json.loads(proc.stdout).items():
        reference = models[name].predict(X)
        scale = np.abs(reference).max()
        assert np.abs(np.asarray(predicted) - reference).max() <= 1e-3 * scale, name
        assert fewer in (None, "refused") and not imported, name


# ---------------------------------------------------------------- crafted files, one per family

def _rewrite(source: Path, target: Path, edit) -> Path:
    """Copy a .skops archive with its schema (and optionally members) edited."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        schema = json.loads(zin.read("schema.json"))
        members = {name: zin.read(name) for name in zin.namelist() if name != "schema.json"}
        edit(schema, members)
        zout.writestr("schema.json", json.dumps(schema))
        for name, data in members.items():
            zout.writestr(name, data)
    return target


def _nodes(node: Any, cls: str | tuple[str, ...]):
    if isinstance(node, dict):
        if node.get("__class__") in ((cls,) if isinstance(cls, str) else cls):
            yield node
        for value in node.values():
            yield from _nodes(value, cls)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value, cls)


SYSTEM = {"__class__": "system", "__module__": "posix", "__loader__": "FunctionNode", "__id__": 1}


def _assert_refused(runner, tmp_path, path: Path, *needles: str) -> None:
    """Both commands refuse with one line naming the file and the reason; nothing is written."""
    for args in (["inspect", path], ["shrink", path, "-o", tmp_path / "never.skops"]):
        result = run(runner, *args)
        assert result.exit_code == 3, (args, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and str(path) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert all(n in result.stderr for n in needles), result.stderr
    assert not (tmp_path / "never.skops").exists()


@pytest.mark.parametrize("name, cls, attr", [
    ("gpr", "RBF", "length_scale"),  # kernels
    ("grid", "StratifiedKFold", "n_splits"),  # cv splitters
    ("grid", ("_Scorer", "_PredictScorer"), "_score_func"),  # scorers (named _PredictScorer before 1.4)
    ("mlp", "AdamOptimizer", "beta_1"),  # optimizer state
    ("stack", "Bunch", "lr"),  # containers
    ("hgb", "_BinMapper", "n_bins"),  # losses / binning
])
def test_reviewed_state_cannot_point_at_code(runner, tmp_path, models, name, cls, attr):
    """A reviewed class whose state holds os.system: skops still audits the function, refused."""
    def edit(schema, _members):
        node = next(_nodes(schema, cls))
        content = node["content"]["content"] if node["__loader__"] == "ObjectNode" else node["content"]
        content[attr] = dict(SYSTEM)

    path = _rewrite(save(models[name], tmp_path / "m.skops"), tmp_path / "crafted.skops", edit)
    _assert_refused(runner, tmp_path, path, "posix.system", "--trust posix.system")


def test_reviewed_class_name_cannot_be_a_function(runner, tmp_path, models):
    """Naming a reviewed class's module with another attribute (os.system) is still a foreign type."""
    def edit(schema, _members):
        node = next(_nodes(schema, "AdamOptimizer"))
        node["__class__"], node["__module__"] = "system", "os"

    path = _rewrite(save(models["mlp"], tmp_path / "m.skops"), tmp_path / "crafted.skops", edit)
    _assert_refused(runner, tmp_path, path, "os.system")


def _member(members: dict[str, bytes], node: dict) -> tuple[str, np.ndarray]:
    return node["file"], np.load(io.BytesIO(members[node["file"]]), allow_pickle=False)


def _store(members: dict[str, bytes], name: str, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    members[name] = buf.getvalue()


def test_kd_tree_with_indices_out_of_range_is_refused(runner, tmp_path, models):
    def edit(schema, members):
        state = next(_nodes(schema, "KDTree"))["content"]["content"]
        name, idx = _member(members, state[1])
        _store(members, name, idx + 10_000)

    path = _rewrite(save(models["kd"], tmp_path / "m.skops"), tmp_path / "crafted.skops", edit)
    _assert_refused(runner, tmp_path, path, "malformed tree", "index array")


def test_distance_weights_narrower_than_the_data_are_refused(runner, tmp_path, data):
    """Minkowski weights are read for every column: one weight for four columns would read past it."""
    X, y, _ = data
    model = KNeighborsClassifier(algorithm="ball_tree", metric="minkowski", p=3,
                                 metric_params={"w": np.ones(4)}).fit(X, y)

    def edit(schema, members):
        metric = next(_nodes(schema, ("MinkowskiDistance64", "MinkowskiDistance")))  # no suffix before 1.3
        vec = metric["content"]["content"][1]
        name, weights = _member(members, vec)
        _store(members, name, weights[:1])

    path = _rewrite(save(model, tmp_path / "m.skops"), tmp_path / "crafted.skops", edit)
    result = run(runner, "shrink", path, "-o", tmp_path / "never.skops")
    assert result.exit_code == 3 and "1 weights for 4 features" in result.stderr, result.stderr
    assert not (tmp_path / "never.skops").exists()


def test_sparse_indices_out_of_range_are_refused(runner, tmp_path, models):
    def edit(schema, members):
        node = next(_nodes(schema, "csr_matrix"))
        with np.load(io.BytesIO(members[node["file"]]), allow_pickle=False) as npz:
            parts = {key: npz[key] for key in npz.files}
        parts["indices"] = parts["indices"] + 1000
        buf = io.BytesIO()
        np.savez(buf, **parts)
        members[node["file"]] = buf.getvalue()

    path = _rewrite(save(models["sparse_rp"], tmp_path / "m.skops"), tmp_path / "crafted.skops", edit)
    result = run(runner, "shrink", path, "-o", tmp_path / "never.skops")
    assert result.exit_code == 3 and "malformed sparse matrix" in result.stderr, result.stderr


def test_bspline_with_too_few_knots_is_refused(runner, tmp_path, models):
    def edit(schema, members):
        spline = next(_nodes(schema, "BSpline"))["content"]["content"]
        name, knots = _member(members, spline["_t"] if "_t" in spline else spline["t"])
        _store(members, name, knots[:3])

    path = _rewrite(save(models["spline"], tmp_path / "m.skops"), tmp_path / "crafted.skops", edit)
    result = run(runner, "shrink", path, "-o", tmp_path / "never.skops")
    assert result.exit_code == 3 and "malformed B-spline" in result.stderr, result.stderr


def test_functions_hidden_in_plain_containers_are_judged_by_inspect_too(runner, tmp_path, models):
    """A function inside a parameter dict or a set is refused by inspect exactly as by shrink."""
    def in_dict(schema, _members):
        grid = next(_nodes(schema, "dict"))["content"]["param_grid"]
        grid["content"]["C"] = dict(SYSTEM)

    def in_set(schema, _members):
        node = next(_nodes(schema, "GridSearchCV"))["content"]["content"]
        node["extra_"] = {"__class__": "set", "__module__": "builtins", "__loader__": "SetNode",
                          "content": [dict(SYSTEM)], "__id__": 2}

    for edit in (in_dict, in_set):
        path = _rewrite(save(models["grid"], tmp_path / "m.skops"), tmp_path / f"{edit.__name__}.skops", edit)
        _assert_refused(runner, tmp_path, path, "posix.system")


# ---------------------------------------------------------------- foreign objects

@pytest.fixture(scope="module")
def custom_pipe(data):
    X, y, _ = data
    return make_pipeline(StandardScaler(), Rescale(), LogisticRegression(max_iter=300)).fit(X, y)


@pytest.mark.parametrize("suffix", [".pkl", ".skops"])
def test_foreign_class_is_refused_then_left_untouched_when_trusted(runner, tmp_path, custom_pipe, data, suffix):
    X = data[0]
    source = save(custom_pipe, tmp_path / f"custom{suffix}")
    refused = run(runner, "shrink", source, "-o", tmp_path / f"never{suffix}")
    assert refused.exit_code == 3 and FOREIGN in refused.stderr and "--trust" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1
    listed = run(runner, "inspect", source)
    assert listed.exit_code == 3 and FOREIGN in listed.stderr

    out = tmp_path / f"lite{suffix}"
    result = run(runner, "shrink", source, "-o", out, "--trust", FOREIGN, "--preset", "float32", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert any(FOREIGN in note and "left untouched" in note for note in doc["notes"])
    assert doc["check"] is not None and doc["check"]["passed"]
    paths = {entry["path"]: entry for entry in doc["arrays"]}
    assert not any("rescale" in p for p in paths)  # nothing inside the user's object is planned
    changed = [e for e in doc["arrays"] if e["dtype_after"] != e["dtype_before"]]
    assert changed  # the scikit-learn parts are pruned
    trust = [FOREIGN] + (sio.get_untrusted_types(file=out) if suffix == ".skops" else [])
    if suffix == ".skops":
        pruned = sio.load(out, trusted=sorted(set(trust)))
    else:
        with open(out, "rb") as handle:
            pruned = pickle.load(handle)
    factors = pruned.named_steps["rescale"].factors_
    assert factors.dtype == np.float64
    np.testing.assert_array_equal(factors, custom_pipe.named_steps["rescale"].factors_)
    assert pruned.named_steps["logisticregression"].coef_.dtype == np.float32
    np.testing.assert_array_equal(pruned.predict(X), custom_pipe.predict(X))


# ---------------------------------------------------------------- the all_estimators() sweep

@pytest.mark.slow  # shares the zoo that test_inspect_schema.py fits
def test_every_zoo_estimator_saved_by_skops_needs_no_trust(tmp_path):
    """Each estimator of the sweep, saved with skops.io.dump, loads and lists without --trust, and the
    shrunk file names exactly what plain skops needs."""
    from zoo import fitted_zoo
    from skprune_cli.formats import read_model
    from skprune_cli.formats.schema_inspect import list_arrays
    from skprune_cli import save_model

    failures = {}
    for fitted in fitted_zoo():
        if fitted.name == "Birch":  # skops cannot save Birch at all
            continue
        path = tmp_path / f"{fitted.name}.skops"
        sio.dump(fitted.estimator, path)
        try:
            list_arrays(str(path))
            model = read_model(path).model
            out = tmp_path / f"{fitted.name}.lite.skops"
            save_model(model, out)  # skprune's writer; pruning itself is swept in test_sweep_*.py
            trusted = sio.get_untrusted_types(file=out)
            sio.load(out, trusted=trusted)
        except Exception as exc:  # noqa: BLE001 - collected, reported together
            failures[fitted.name] = f"{type(exc).__name__}: {exc}"[:300]
    assert not failures, failures


def _full_audit(schema: dict) -> list[str]:
    from skops.io._audit import get_tree
    from skops.io._utils import LoadContext

    from skprune_cli.formats.skops_io import _NoData

    return sorted(get_tree(schema, LoadContext(src=_NoData(), protocol=schema["protocol"]), trusted=None).get_unsafe_set())


def test_the_audit_of_the_type_view_is_skops_own_audit():
    """Leaving JSON values and repeated key types out of the audit finds exactly what skops finds."""
    from sklearn.datasets import load_iris
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    from corpus import documents
    from skops.io._utils import SaveContext, get_state

    from skprune_cli.formats.skops_io import audit_schema
    from zoo import fitted_zoo

    text = documents(200, lines_per_doc=10)
    X, y = load_iris(return_X_y=True)
    extra = [make_pipeline(CountVectorizer(), MultinomialNB()).fit(text, np.arange(200) % 3),
             GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=StratifiedKFold(3),
                          scoring=make_scorer(f1_score, average="macro")).fit(X, y),
             {"mixed": [1, "a", Rescale().fit(X), (None, 3.5)], "by_type": {1: "x", "y": 2.0}}]
    models = [f.estimator for f in fitted_zoo() if f.name != "Birch"] + extra
    unsafe_seen = 0
    for model in models:
        with zipfile.ZipFile(io.BytesIO(), "w") as scratch:
            context = SaveContext(zip_file=scratch)
            state = get_state(model, context)  # as write_skops audits it: in memory, with tuples
            state["protocol"] = context.protocol
        parsed = json.loads(json.dumps(state))  # as a reader sees it
        expected = _full_audit(parsed)
        assert audit_schema(state) == audit_schema(parsed) == expected, type(model).__name__
        unsafe_seen += bool(expected)
    assert unsafe_seen >= 5  # the comparison saw untrusted types, not only empty sets


def test_the_type_view_leaves_out_a_big_vocabulary():
    """The point of the view: a vocabulary's JSON values are not built into nodes to be audited."""
    from skops.io._utils import SaveContext, get_state
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import make_pipeline

    from corpus import documents
    from skprune_cli.formats.skops_io import type_view

    model = make_pipeline(CountVectorizer(), LogisticRegression()).fit(documents(300, 10), np.arange(300) % 2)
    with zipfile.ZipFile(io.BytesIO(), "w") as scratch:
        state = get_state(model, SaveContext(zip_file=scratch))
    size = len(json.dumps(state))
    assert len(json.dumps(type_view(state))) < size / 10 and len(model[0].vocabulary_) > 1000
