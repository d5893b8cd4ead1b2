"""Compression that users notice: smaller ``--zip``, a ``best`` that stays fast, honest format advice,
and big float arrays rounded to an absolute grid only where the check allows.

Every archive is loaded back with plain ``skops.io.load`` in a process that never imports skprune.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import pickle
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from conftest import TREE
from corpus import documents
from skprune_cli import prune, shrink
from skprune_cli.formats import target_for, write_model
from skprune_cli.formats.compression import FAST_MIN
from skprune_cli.rounding import grid_round, grid_step
from skprune_cli.rules import Rung


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "skprune_cli", *args], capture_output=True, text=True, env=env)


def plain_load(path, trusted=(), call: str = "predict", X=None) -> list:
    """Load with skops alone (no skprune on the path) and return a method's output."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (f"import json, numpy as np, skops.io as sio; m = sio.load({str(path)!r}, trusted={list(trusted)!r}); "
            f"X = np.array(json.loads({json.dumps(X.tolist())!r})); "
            f"print(json.dumps(np.asarray(m.{call}(X)).tolist())); import sys; assert 'skprune_cli' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def wide_forest():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32000, 8))
    y = (X[:, 0] + X[:, 1] ** 2 + rng.normal(scale=1.5, size=32000) > 1).astype(int)  # noisy: deep trees
    return RandomForestClassifier(3, random_state=0).fit(X, y), X[:200]


def test_zip_puts_big_members_in_lzma_and_is_smaller_than_deflate(wide_forest, tmp_path):
    model, X = wide_forest
    deflate, zipped, best = tmp_path / "d.skops", tmp_path / "z.skops", tmp_path / "b.skops"
    sio.dump(model, deflate, compression=zipfile.ZIP_DEFLATED)
    write_model(model, zipped, target_for(zipped, zip=True))
    written = write_model(model, best, target_for(best, compression="best"))
    with zipfile.ZipFile(zipped) as archive:
        methods = {i.filename: i.compress_type for i in archive.infolist()}
        sizes = {i.filename: i.file_size for i in archive.infolist()}
    assert any(sizes[n] >= FAST_MIN for n in sizes), "the forest must have big members for this test"
    assert all(methods[n] == zipfile.ZIP_LZMA for n in sizes if sizes[n] >= FAST_MIN)
    assert all(methods[n] == zipfile.ZIP_DEFLATED for n in sizes if sizes[n] < FAST_MIN and n != "schema.json")
    assert zipped.stat().st_size < 0.9 * deflate.stat().st_size
    assert best.stat().st_size <= zipped.stat().st_size * 1.01 and written.methods
    expected = model.predict(X).tolist()
    for path in (zipped, best):
        assert plain_load(path, [TREE], "predict", X) == expected


def test_parallel_writer_keeps_member_order_and_content(tmp_path):
    """Big members go through the thread pool; the archive lists them in skops' order, byte-exact."""
    arrays = {f"a{i}": np.random.default_rng(i).random(40_000 + 1000 * i) for i in range(6)}
    model = LogisticRegression().fit(np.random.default_rng(0).random((30, 3)), np.arange(30) % 2)
    model.extra_ = arrays  # a dict of big arrays: several members compressed at once
    reference, ours = tmp_path / "r.skops", tmp_path / "o.skops"
    sio.dump(model, reference)
    write_model(model, ours, target_for(ours, zip=True))
    with zipfile.ZipFile(reference) as r, zipfile.ZipFile(ours) as o:  # members renamed 0.npy, 1.npy...
        assert [o.read(n) for n in o.namelist() if n != "schema.json"] == \
            [r.read(n) for n in r.namelist() if n != "schema.json"]
    loaded = sio.load(ours)
    assert all(np.array_equal(loaded.extra_[k], v) for k, v in arrays.items())


def test_report_names_a_far_smaller_format(tmp_path):
    """A small boosted model as .skops: the report says .pkl.xz would be far smaller, with its size."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 8))
    model = GradientBoostingRegressor(n_estimators=60, random_state=0).fit(X, X[:, 0] - X[:, 1] ** 2)
    source = tmp_path / "gb.pkl"
    source.write_bytes(pickle.dumps(model, protocol=5))
    out = tmp_path / "gb.skops"
    run = cli("shrink", str(source), "-o", str(out), "--zip", "--json")
    assert run.returncode == 0, run.stderr
    advice = json.loads(run.stdout)["format_advice"]
    assert advice["better_format"] == ".pkl.xz" and advice["measured"]
    assert advice["better_bytes"] <= 0.6 * out.stat().st_size
    xz = tmp_path / "gb.pkl.xz"
    assert cli("shrink", str(source), "-o", str(xz), "--quiet").returncode == 0
    assert abs(xz.stat().st_size - advice["better_bytes"]) <= 0.25 * advice["better_bytes"]
    human = cli("shrink", str(source), "-o", str(tmp_path / "gb2.skops"), "--zip")
    shown = human.stdout + human.stderr
    assert ".pkl.xz" in shown and "format:" in shown


def test_report_says_when_the_output_grew(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    source = tmp_path / "small.pkl.gz"
    with gzip.open(source, "wb") as handle:
        pickle.dump(model, handle, protocol=5)
    out = tmp_path / "small.skops"
    run = cli("shrink", str(source), "-o", str(out), "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["output"]["bytes"] > doc["input"]["bytes"]
    advice = doc["format_advice"]
    assert advice["output_larger_than_input"] and "larger than the input" in advice["message"]


def test_grid_round_is_an_absolute_grid_exact_in_float32():
    values = np.random.default_rng(0).normal(size=(50, 400)) * np.logspace(0, -6, 400)
    for bits in (10, 13):
        step = grid_step(values, bits)
        rounded = grid_round(values, bits)
        assert np.abs(rounded - values).max() < step
        assert np.array_equal(np.round(rounded / step), rounded / step)
        stored = Rung(np.dtype(np.float32), grid=bits).apply(values)
        assert stored.dtype == np.float32 and np.array_equal(stored.astype(np.float64), rounded)
    assert np.array_equal(grid_round(np.array([np.nan, np.inf, 1.0]), 4)[:2], [np.nan, np.inf], equal_nan=True)


def test_grid_round_keeps_the_sum_of_tails_below_half_a_step():
    """Thousands of same-signed entries below half a step (an SVD component's tail) must not all become 0:
    a document touching many of them would sum that loss into its output."""
    values = np.full((200, 1000), 3e-4)
    values[0, 0] = 1.0
    step = grid_step(values, 10)
    assert 3e-4 < step / 2
    rounded = grid_round(values, 10)
    assert abs(rounded.sum() / values.sum() - 1) < 0.01  # rounding to nearest: 1 / 61 of the sum left
    assert np.array_equal(rounded, grid_round(values, 10))  # the same file every time
    fortran = np.asfortranarray(values)
    assert grid_round(fortran, 10).flags.f_contiguous  # the layout the model had (it compresses differently)


def test_text_svd_takes_a_grid_rung_and_stays_within_tolerance_on_held_out_documents():
    docs = documents(1400, lines_per_doc=30)
    train, held_out = docs[:1100], docs[1100:]
    model = make_pipeline(TfidfVectorizer(max_features=3000), TruncatedSVD(60, random_state=0)).fit(train)
    assert model[-1].components_.nbytes >= 1 << 20
    lite = prune(model)
    components = lite[-1].components_
    ref, new = model.transform(held_out), lite.transform(held_out)
    assert np.abs(new - ref).max() / np.abs(ref).max() <= 1e-3
    step = grid_step(model[-1].components_, 15)
    on_a_grid = any(np.array_equal(np.round(components / (step * 2 ** k)), components / (step * 2 ** k))
                    for k in range(6))  # some grid of 10..15 bits
    assert on_a_grid and components.dtype in (np.float16, np.float32)


def test_best_writes_tree_nodes_as_lzma_records(wide_forest, tmp_path):
    """The packed 48-byte node records are laid out for LZMA's position contexts; bzip2 or DEFLATE
    on them would give back most of what the layout won (a 100-tree forest: 6.85 MB with bzip2, 5.33 with LZMA)."""
    model, X = wide_forest
    best = tmp_path / "b.skops"
    write_model(model, best, target_for(best, compression="best"))
    with zipfile.ZipFile(best) as archive:
        nodes = [i for i in archive.infolist() if b"left_child" in archive.open(i).read(256)]
    assert len(nodes) == 3 and all(i.compress_type == zipfile.ZIP_LZMA for i in nodes)
    assert sum(i.compress_size for i in nodes) < 0.14 * sum(i.file_size for i in nodes)
    assert plain_load(best, [TREE], "predict", X) == model.predict(X).tolist()


def test_identical_small_members_are_written_once(tmp_path):
    """A boosted forest's per-tree small arrays are stored once, under short names; plain skops loads it."""
    from sklearn.ensemble import GradientBoostingRegressor

    X = np.random.default_rng(0).random((300, 4))
    model = GradientBoostingRegressor(n_estimators=60, max_depth=2, random_state=0).fit(X, X @ [1.0, 2, 3, 4])
    reference, ours = tmp_path / "r.skops", tmp_path / "o.skops"
    sio.dump(model, reference)
    write_model(model, ours, target_for(ours, compression="best"))
    with zipfile.ZipFile(ours) as archive:
        contents = [archive.read(n) for n in archive.namelist() if n != "schema.json"]
        assert len(set(contents)) == len(contents), "an identical member was written twice"
        assert all(len(n) <= 8 for n in archive.namelist() if n != "schema.json")  # "12.npy", not id() names
    with zipfile.ZipFile(reference) as archive:
        assert len(archive.namelist()) > len(contents) + 50  # skops writes one per tree
    assert ours.stat().st_size < 0.75 * tmp_path.joinpath("r.skops").stat().st_size
    assert plain_load(ours, [TREE], "predict", X) == model.predict(X).tolist()


def test_json_values_lose_their_ids_and_shared_objects_keep_theirs(tmp_path):
    """skops memoizes by ``__id__``: immutable JSON values need none, a list held twice still loads once."""
    X = np.random.default_rng(0).random((60, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    shared = [1.5, "a", 7]
    model.first_, model.second_ = shared, shared
    model.names_ = {f"term{i}": i for i in range(300)}
    out = tmp_path / "o.skops"
    write_model(model, out, target_for(out, compression="best"))
    with zipfile.ZipFile(out) as archive:
        schema = json.loads(archive.read("schema.json"))
    ids, json_ids, stack = [], [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "__id__" in node:
                (json_ids if node.get("__loader__") == "JsonNode" else ids).append(node["__id__"])
            stack.extend(node.values())
    assert json_ids == [] and min(ids) >= 1
    loaded = sio.load(out, trusted=[])
    assert loaded.first_ is loaded.second_ and loaded.first_ == shared
    assert loaded.names_ == model.names_
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_sharing_is_refused_for_big_members_and_beyond_a_total(tmp_path):
    """Readers accept skprune's shared small members, never a big one or a fan-out past 64 MiB."""
    from skprune_cli.errors import InputRefused
    from skprune_cli.formats.archive import SHARED_MEMBER_MAX, SHARED_TOTAL, check_references

    def schema(refs: int) -> dict:
        node = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "file": "m.npy"}
        return {"__class__": "list", "__loader__": "ListNode",
                "content": [dict(node, __id__=i) for i in range(refs)]}

    check_references(schema(200), "f.skops", {"m.npy": SHARED_MEMBER_MAX})
    with pytest.raises(InputRefused, match="shared by different objects"):
        check_references(schema(2), "f.skops", {"m.npy": SHARED_MEMBER_MAX + 1})
    with pytest.raises(InputRefused, match="shared by different objects"):
        check_references(schema(SHARED_TOTAL // SHARED_MEMBER_MAX + 2), "f.skops", {"m.npy": SHARED_MEMBER_MAX})
    with pytest.raises(InputRefused, match="shared by different objects"):
        check_references(schema(2), "f.skops")  # sizes unknown: no sharing


def test_two_threads_meeting_a_new_kind_sample_it_once(monkeypatch):
    """The first two tree members reach the pool together: one samples the methods, the other waits for it."""
    import threading

    from skprune_cli.formats import compression

    trials: list[str] = []
    original = compression.compressed_size

    def counted(method, data, itemsize, strong=False, preset=6):
        trials.append(method)
        return original(method, data, itemsize, strong, preset)

    monkeypatch.setattr(compression, "compressed_size", counted)
    policy = compression.Policy("best")
    rng = np.random.default_rng(0)
    data = np.round(rng.normal(size=200_000), 2).tobytes()
    start, decisions = threading.Barrier(2), []

    def choose() -> None:
        start.wait()
        decisions.append(policy._best_method(memoryview(data), 8, "float64:big"))

    threads = [threading.Thread(target=choose) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(decisions) == 2 and decisions[0] == decisions[1]
    assert trials.count("bzip2") == 1, trials  # one ladder of trials, not two
    assert not policy.deciding


def test_time_budget_affords_the_strongest_step_only_when_the_job_stays_within_its_factor():
    """Weakest first: --zip's own method, a middle step, the strongest (seconds per byte)."""
    from skprune_cli.formats.time_budget import TimeBudget

    steps = [("zip", 1e-8), ("middle", 4e-8), ("strong", 1e-7)]
    mb = 1 << 20
    # nothing before the writing: 3.25x --zip's seconds cannot pay for a step 10x slower, nor always for 4x
    tight = TimeBudget(time.perf_counter(), total=40 * mb, free=0.0, workers=2)
    picked = [tight.pick(steps, mb)[0] for _ in range(40)]
    assert picked[0] == "zip" and tight.held_back == 40 - picked.count("strong")
    assert tight.spent <= tight.factor * tight.zip_seconds * 1.05  # the members together stay within the factor
    assert "middle" in picked  # the allowance a cheap member leaves goes to the next ones
    # 20 s of loading and checking before it (as --zip would have too): every member gets the strongest
    loose = TimeBudget(time.perf_counter() - 20.0, total=40 * mb, free=0.0, workers=2)
    assert [loose.pick(steps, mb)[0] for _ in range(40)] == ["strong"] * 40 and loose.held_back == 0
    # a repeat skops produced but did not write: half the bytes expected, the rest afford more
    half = TimeBudget(time.perf_counter() - 0.5, total=40 * mb, free=0.0, workers=2)
    half.produced, half.written = 2, 1
    whole = TimeBudget(time.perf_counter() - 0.5, total=40 * mb, free=0.0, workers=2)
    assert half.pick(steps, mb)[0] == "strong" and whole.pick(steps, mb)[0] != "strong"
    # a model that takes a second at full strength gets it, whatever --zip takes
    small = TimeBudget(time.perf_counter(), total=10 * mb, workers=2)
    assert [small.pick(steps, mb)[0] for _ in range(10)] == ["strong"] * 10
    with pytest.raises(ValueError, match="factor"):
        TimeBudget(0.0, factor=0.5)


def test_best_within_its_time_budget_still_writes_a_smaller_forest_that_plain_skops_loads(tmp_path, monkeypatch):
    """A budget no bigger than --zip's own time: the forest's members take --zip's method, as small as
    --zip, and the report says so; with the whole budget they take the strongest LZMA, smaller again."""
    from skprune_cli.formats import time_budget

    rng = np.random.default_rng(1)
    X = rng.random((20000, 8))
    y = ((X @ np.arange(8) > 14) ^ (rng.random(20000) < 0.2)).astype(int)  # noisy labels: big trees
    model = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
    assert all(t.tree_.node_count * 48 >= FAST_MIN for t in model.estimators_)  # --zip gives them fast LZMA
    src, zipped, roomy, hurried = (tmp_path / f"{n}.skops" for n in ("src", "zip", "roomy", "hurried"))
    sio.dump(model, src)
    shrink(src, zipped, zip=True)
    report = shrink(src, roomy, compression="best")
    assert not any("faster method" in n for n in report.notes)
    monkeypatch.setattr(time_budget, "BEST_TIME_FACTOR", 1.0)
    monkeypatch.setattr(time_budget, "BEST_FREE_SECONDS", 0.0)
    report = shrink(src, hurried, compression="best")
    assert any("faster method of their kind" in n and "within 1x the time of --zip" in n for n in report.notes)
    sizes = {p.name: p.stat().st_size for p in (zipped, roomy, hurried)}
    assert sizes["roomy.skops"] < sizes["hurried.skops"] <= sizes["zip.skops"] * 1.02, sizes
    for path in (roomy, hurried):
        assert plain_load(path, [TREE], "predict_proba", X[:500]) == model.predict_proba(X[:500]).tolist()
