"""Packed tree records and forests streamed tree by tree, checked where a user would notice.

Every output is loaded with plain ``skops.io.load`` in a process where skprune
is not importable; its trees must be sklearn's native records again, and
predict/predict_proba/apply/decision_path must be bit-identical to the
original's at every split value and its float32 neighbours.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree._tree import NODE_DTYPE, Tree

from skprune_cli.cli import app
from skprune_cli.errors import InputRefused
from skprune_cli.formats import stream_trees
from skprune_cli.formats.archive import parse_npy_header
from skprune_cli.formats.tree_codec import PACKED_NODE, PACKED_NODE_SMALL, encode_member, pack_nodes
from skprune_cli.options import PruneOptions
from skprune_cli.pruning import prune_model
from skprune_cli.shrinking import shrink

rng = np.random.default_rng(1)
X = rng.normal(size=(400, 5)) * np.array([1, 100, 0.01, 1e4, 1])
X[:, 4] = rng.integers(0, 4, size=400)
y_cls = (X[:, 0] + X[:, 1] / 100 + rng.normal(size=400) > 0).astype(int) + (X[:, 4] > 1)
y_reg = np.c_[X[:, 0] * 3 + np.sin(X[:, 1]), X[:, 2] * 100]  # two outputs

MODELS = {
    "random_forest": lambda: RandomForestClassifier(8, random_state=0).fit(X, y_cls),
    "extra_trees_2_outputs": lambda: ExtraTreesRegressor(5, random_state=0).fit(X, y_reg),
    "isolation_forest": lambda: IsolationForest(n_estimators=10, random_state=0).fit(X),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=8, random_state=0).fit(X, y_cls),
}
METHODS = ("predict", "predict_proba", "decision_function", "score_samples", "apply")

LOADER = textwrap.dedent('''
    import importlib.util, json, sys
    sys.path.append({site!r})          # site-packages without its .pth files: no editable skprune
    assert importlib.util.find_spec("skprune_cli") is None
    import numpy as np, skops.io as sio
    from sklearn.tree._tree import NODE_DTYPE
    for path, trusted, rows, out in json.load(open(sys.argv[1])):
        model, rows = sio.load(path, trusted=trusted or None), np.load(rows)
        found = {{}}
        for m in {methods!r}:
            if hasattr(model, m):
                found[m] = np.asarray(getattr(model, m)(rows))
        if hasattr(model, "decision_path"):
            indicator = model.decision_path(rows)[0]
            found["decision_path_indices"], found["decision_path_indptr"] = indicator.indices, indicator.indptr
        trees = [e.tree_ for e in np.ravel(model.estimators_)]
        assert all(t.__getstate__()["nodes"].dtype == NODE_DTYPE for t in trees), "not native records"
        found["importances"] = getattr(model, "feature_importances_", np.zeros(0))
        np.savez(out, **found)
    assert not [name for name in sys.modules if name.startswith("skprune")]
''').format(site=sysconfig.get_paths()["purelib"], methods=METHODS)
CASES = [(name, stream) for name in sorted(MODELS) for stream in (False, True) if name != "gradient_boosting" or not stream]


def fitted(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MODELS[name]()


def trees_of(model):
    return [e.tree_ for e in np.ravel(model.estimators_)]


def split_rows(model, limit=400):
    """Split values and their float32 neighbours (up to ``limit`` splits), on top of random rows."""
    rows = []
    for tree in trees_of(model):
        inner = tree.children_left >= 0
        for feature, threshold in zip(tree.feature[inner], tree.threshold[inner]):
            t32 = np.float32(threshold)
            for value in (np.nextafter(t32, np.float32(-np.inf)), t32, np.nextafter(t32, np.float32(np.inf)), threshold):
                row = X[rng.integers(0, len(X))].copy()
                row[feature] = value
                rows.append(row)
    rows = np.array(rows)
    return rows[rng.choice(len(rows), min(len(rows), 4 * limit), replace=False)]


def outputs(model, rows):
    found = {m: np.asarray(getattr(model, m)(rows)) for m in METHODS if hasattr(model, m)}
    if hasattr(model, "decision_path"):
        indicator = model.decision_path(rows)[0]
        found["decision_path_indices"], found["decision_path_indptr"] = indicator.indices, indicator.indptr
    return found


def member_dtypes(path):
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".npy"):
                yield parse_npy_header(archive.open(name).read(4096))[1]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every case shrunk (exact transforms only), then all loaded in one process without skprune."""
    folder = tmp_path_factory.mktemp("plain")
    cases, jobs = {}, []
    for name, stream in CASES:
        model = fitted(name)
        source, out = folder / f"{name}.skops", folder / f"{name}-{stream}-lite.skops"
        if not source.exists():
            sio.dump(model, source)
        # LZMA gets the 48-byte big-endian records, DEFLATE the 41-byte little-endian ones
        report = shrink(source, out, compression="deflate" if stream else "lzma", stream=stream, preset="exact",
                        check=False)
        rows = np.concatenate([split_rows(model), X[:50]])
        np.save(folder / f"{name}-{stream}-rows.npy", rows)
        jobs.append([str(out), report.trusted_types, str(folder / f"{name}-{stream}-rows.npy"),
                     str(folder / f"{name}-{stream}-out.npz")])
        cases[name, stream] = (model, source, out, report, rows, jobs[-1][-1])
    (folder / "jobs.json").write_text(json.dumps(jobs))
    result = subprocess.run([sys.executable, "-S", "-c", LOADER, str(folder / "jobs.json")], capture_output=True,
                            text=True, cwd=folder, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr
    return cases


@pytest.mark.parametrize("name, stream", CASES)
def test_outputs_bit_identical_after_plain_load(name, stream, written):
    model, source, out, report, rows, loaded = written[name, stream]
    assert ("streamed tree by tree" in " ".join(report.notes)) == stream
    assert out.stat().st_size < 0.5 * source.stat().st_size
    # the nodes were written as packed records, and come back as sklearn's own
    dtypes = list(member_dtypes(out))
    assert (PACKED_NODE_SMALL if stream else PACKED_NODE) in dtypes and NODE_DTYPE not in dtypes
    loaded = dict(np.load(loaded))
    for key, expected in outputs(model, rows).items():
        assert np.array_equal(loaded[key], expected), key
    if hasattr(model, "feature_importances_"):
        ref = model.feature_importances_
        assert np.abs(loaded["importances"] - ref).max() <= 1e-3 * np.abs(ref).max()  # the default tolerance


@pytest.mark.parametrize("drop_importances", [False, True])
def test_streamed_trees_equal_the_in_memory_ones(drop_importances, tmp_path):
    model = fitted("random_forest")
    source = tmp_path / "model.skops"
    sio.dump(model, source)
    files = {}
    for stream in (False, True):
        files[stream] = tmp_path / f"lite-{stream}.skops"
        shrink(source, files[stream], zip=True, stream=stream, drop_importances=drop_importances)
    a, b = (sio.load(files[s], trusted=sio.get_untrusted_types(file=files[s])) for s in (False, True))
    for ta, tb in zip(trees_of(a), trees_of(b)):
        sa, sb = ta.__getstate__(), tb.__getstate__()
        assert sa["node_count"] == sb["node_count"] and sa["max_depth"] == sb["max_depth"]
        for field in NODE_DTYPE.names:  # padding bytes are whatever astype left there on loading
            assert sa["nodes"][field].tobytes() == sb["nodes"][field].tobytes(), field
        assert sa["values"].tobytes() == sb["values"].tobytes()
    assert np.array_equal(a.predict_proba(X), model.predict_proba(X))
    if drop_importances:
        assert not np.any(trees_of(b)[0].impurity)


def test_packed_records_fall_back_when_an_index_needs_64_bits():
    nodes = RandomForestClassifier(2, random_state=0).fit(X, y_cls).estimators_[0].tree_.__getstate__()["nodes"]
    for layout in (PACKED_NODE, PACKED_NODE_SMALL):
        packed = pack_nodes(nodes, layout)
        assert packed is not None and packed.dtype.itemsize == layout.itemsize < nodes.dtype.itemsize
        for name in nodes.dtype.names:
            assert np.array_equal(packed[name], nodes[name]), name
    big = nodes.copy()
    big["n_node_samples"][0] = 2**40
    assert pack_nodes(big) is None
    buffer = io.BytesIO()
    np.save(buffer, big)
    assert bytes(encode_member("n.npy", buffer.getvalue())) == buffer.getvalue()


def test_auto_streams_only_big_forest_archives(tmp_path, monkeypatch):
    model = fitted("random_forest")
    source = tmp_path / "model.skops"
    sio.dump(model, source)
    assert stream_trees.stream_plan(source, (), None) is None  # a few MB: in memory
    monkeypatch.setattr(stream_trees, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(stream_trees, "TREE_SHARE", 0.5)  # a small forest: its trees hold ~40%
    assert stream_trees.stream_plan(source, (), None) is None
    monkeypatch.setattr(stream_trees, "TREE_SHARE", 0.3)
    plan = stream_trees.stream_plan(source, (), None)
    assert plan is not None and len(plan.trees) == 8 and plan.trees[3].path == "estimators_.3.tree_"
    assert stream_trees.stream_plan(source, ("estimators_.3.*",), None) is None  # --keep: in memory
    assert stream_trees.stream_plan(source, (), False) is None
    piped = tmp_path / "pipe.skops"
    sio.dump(make_pipeline(StandardScaler(), RandomForestClassifier(3, random_state=0)).fit(X, y_cls), piped)
    assert stream_trees.stream_plan(piped, (), None) is None


def test_cli_streams_and_reports_it(tmp_path, monkeypatch, runner):
    model = fitted("random_forest")
    source = tmp_path / "model.skops"
    sio.dump(model, source)
    data = tmp_path / "rows.npy"
    np.save(data, X[:200])
    monkeypatch.setattr(stream_trees, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(stream_trees, "TREE_SHARE", 0.3)
    out = tmp_path / "lite.skops"
    result = runner.invoke(app, ["shrink", str(source), "-o", str(out), "--zip", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("streamed tree by tree" in n for n in report["notes"])
    assert report["check"]["passed"] and report["output"]["bytes"] == out.stat().st_size
    assert any("8 trees" in t["detail"] and "streamed" in t["detail"] for t in report["transformed"])


def _corrupt_one_tree(source, target):
    """A forest archive whose third tree has a child index pointing outside the tree."""
    plan = stream_trees.stream_plan(source, (), True)
    victim = plan.trees[2].nodes_file
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == victim:
                nodes = np.load(io.BytesIO(data))
                nodes["right_child"][0] = 10**6
                buffer = io.BytesIO()
                np.save(buffer, nodes)
                data = buffer.getvalue()
            new.writestr(info, data)


def test_streaming_refuses_a_crafted_tree_and_writes_nothing(tmp_path, monkeypatch, runner):
    source, crafted = tmp_path / "model.skops", tmp_path / "crafted.skops"
    sio.dump(fitted("random_forest"), source)
    _corrupt_one_tree(source, crafted)
    before = crafted.read_bytes()
    monkeypatch.setattr(stream_trees, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(stream_trees, "TREE_SHARE", 0.3)
    out = tmp_path / "lite.skops"
    result = runner.invoke(app, ["shrink", str(crafted), "-o", str(out), "--zip"])
    assert result.exit_code == 3
    assert "estimators_.2.tree_" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("*.skprune-tmp"))
    assert crafted.read_bytes() == before
    with pytest.raises(InputRefused):
        shrink(crafted, tmp_path / "lite2.skops", stream=True)


def test_streaming_refuses_a_tree_declaring_another_input_width(tmp_path, monkeypatch, runner):
    """A tree claiming 10^12 input columns would make the importances pass allocate terabytes."""
    source, crafted = tmp_path / "model.skops", tmp_path / "crafted.skops"
    sio.dump(fitted("random_forest"), source)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(crafted, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "schema.json":
                schema = json.loads(data)
                victim = stream_trees.find_trees(schema)[1].node
                victim["__reduce__"]["args"]["content"][0]["content"] = str(10**12)
                data = json.dumps(schema).encode()
            new.writestr(info, data)
    monkeypatch.setattr(stream_trees, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(stream_trees, "TREE_SHARE", 0.3)
    out = tmp_path / "lite.skops"
    result = runner.invoke(app, ["shrink", str(crafted), "-o", str(out), "--zip"])
    assert result.exit_code == 3, result.stderr
    line, = result.stderr.strip().splitlines()
    assert "estimators_.1.tree_" in line and "input features" in line
    assert not out.exists() and not list(tmp_path.glob("*.skprune-tmp"))


def test_stream_verification_catches_a_changed_leaf(tmp_path, monkeypatch):
    """If a transform ever changed a leaf, the per-tree comparison stops before anything is written."""
    from skprune_cli import streaming
    from skprune_cli.errors import FidelityError

    source = tmp_path / "model.skops"
    sio.dump(fitted("random_forest"), source)
    original = streaming.transform_tree

    def broken(tree, summary, drop):
        original(tree, summary, drop)
        values = tree.__getstate__()["values"]
        values[tree.children_left < 0] = 1.0 - values[tree.children_left < 0]

    monkeypatch.setattr(streaming, "transform_tree", broken)
    out = tmp_path / "lite.skops"
    with pytest.raises(FidelityError):
        shrink(source, out, stream=True)
    assert not out.exists()


def test_first_pass_rounds_and_sums_like_the_tree_itself():
    """The streamed first pass computes importances without rewriting the tree: same numbers."""
    from skprune_cli.estimators.trees import IMPORTANCE_LEVELS, _Fields
    from skprune_cli.streaming import rounded_importances

    for tree in trees_of(fitted("random_forest"))[:3] + trees_of(fitted("extra_trees_2_outputs"))[:2]:
        exact, levels = rounded_importances(tree.__getstate__()["nodes"].copy(), tree.n_features)
        np.testing.assert_allclose(exact, tree.compute_feature_importances(), rtol=1e-12, atol=1e-15)
        fields = _Fields(tree.__getstate__()["nodes"])
        for bits, level in zip(IMPORTANCE_LEVELS, levels):
            fields.round(bits)  # bitround on the tree's own records
            np.testing.assert_allclose(level, tree.compute_feature_importances(), rtol=1e-12, atol=1e-15)
        fields.restore()
