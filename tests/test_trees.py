"""Exact tree transforms: predictions, probabilities and leaf indices stay bit-identical.

Inputs: random rows, rows holding every split value exactly, and rows at the
float32 neighbours of every split value (where a threshold moved to the
float32 grid would show, if the argument behind it were wrong).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeRegressor
from sklearn.tree._tree import Tree

from skprune_cli.estimators.trees import first_leaves, float32_floor, padding_ranges
from skprune_cli.pruning import PruneOptions, prune_model
from skprune_cli.walk import graph

rng = np.random.default_rng(0)
X = rng.normal(size=(600, 6)) * np.array([1, 10, 0.01, 1e4, 1, 3])
X[:, 4] = rng.integers(0, 5, size=600)  # ties and repeated values
y_cls = (X[:, 0] + X[:, 1] / 10 + rng.normal(size=600) > 0).astype(int) + (X[:, 4] > 2)
y_reg = X[:, 0] * 3 + np.sin(X[:, 1]) + rng.normal(size=600)

FACTORIES = {
    "DecisionTreeClassifier": (lambda: DecisionTreeClassifier(random_state=0), y_cls),
    "DecisionTreeRegressor": (lambda: DecisionTreeRegressor(random_state=0), y_reg),
    # best-first builder: nodes are numbered in the order they were split, not depth-first
    "DecisionTreeRegressor-best-first": (lambda: DecisionTreeRegressor(max_leaf_nodes=40, random_state=0), y_reg),
    "ExtraTreeRegressor": (lambda: ExtraTreeRegressor(random_state=0), y_reg),
    "RandomForestClassifier": (lambda: RandomForestClassifier(10, random_state=0), y_cls),
    "RandomForestRegressor": (lambda: RandomForestRegressor(10, random_state=0), y_reg),
    "ExtraTreesClassifier": (lambda: ExtraTreesClassifier(10, random_state=0), y_cls),
    "ExtraTreesRegressor": (lambda: ExtraTreesRegressor(10, random_state=0), y_reg),
    "GradientBoostingClassifier": (lambda: GradientBoostingClassifier(n_estimators=20, random_state=0), y_cls),
    "GradientBoostingRegressor": (lambda: GradientBoostingRegressor(n_estimators=20, random_state=0), y_reg),
    "IsolationForest": (lambda: IsolationForest(n_estimators=20, random_state=0), None),
    "BaggingRegressor": (lambda: BaggingRegressor(DecisionTreeRegressor(), n_estimators=8, random_state=0), y_reg),
    "AdaBoostClassifier": (lambda: AdaBoostClassifier(DecisionTreeClassifier(max_depth=3), n_estimators=10,
                                                      random_state=0), y_cls),
}
METHODS = ("predict", "predict_proba", "decision_function", "score_samples", "apply", "decision_path")


def trees_of(model):
    return [obj for _, obj in graph(model).compiled if isinstance(obj, Tree)]


def split_rows(model):
    """One row per split: the split value itself, on top of a random row."""
    rows = []
    for tree in trees_of(model):
        inner = tree.children_left >= 0
        for feature, threshold in zip(tree.feature[inner], tree.threshold[inner]):
            row = X[rng.integers(0, len(X))].copy()
            row[feature] = threshold
            rows.append(row)
    return np.array(rows)


def float32_neighbours(rows):
    as32 = rows.astype(np.float32)
    return [np.nextafter(as32, np.float32(-np.inf)).astype(float), as32.astype(float),
            np.nextafter(as32, np.float32(np.inf)).astype(float)]


def same(a, b):
    if hasattr(a, "toarray"):
        return (a != b).nnz == 0
    if isinstance(a, tuple):
        return all(same(p, q) for p, q in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_exact_transforms_are_bit_identical(name):
    factory, target = FACTORIES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = factory().fit(X) if target is None else factory().fit(X, target)
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    pruned = result.model
    assert any(t.effect == "tree-exact" for t in result.transformed)
    rows = split_rows(model)
    for probe in [rng.normal(size=(300, 6)) * X.std(axis=0), rows, *float32_neighbours(rows)]:
        for method in METHODS:
            if hasattr(model, method):
                assert same(getattr(model, method)(probe), getattr(pruned, method)(probe)), method
    # thresholds really moved to the float32 grid, internal values really are their first leaf's
    for tree in trees_of(pruned):
        inner = tree.children_left >= 0
        assert np.array_equal(tree.threshold[inner], tree.threshold[inner].astype(np.float32).astype(float))
        first = np.arange(tree.node_count)
        while (tree.children_left[first] >= 0).any():
            first = np.where(tree.children_left[first] >= 0, tree.children_left[first], first)
        assert np.array_equal(tree.value[inner], tree.value[first[inner]])
        assert (first[inner] > np.flatnonzero(inner)).all()
    if hasattr(model, "feature_importances_"):
        ref, new = model.feature_importances_, pruned.feature_importances_
        assert np.abs(new - ref).max() <= 1e-3 * np.abs(ref).max()


def test_float32_floor_is_the_largest_float32_not_above():
    values = np.array([0.1, -0.1, 1 / 3, 2.0, -2.0, 1e-40, 3.5e38, -3.5e38, 1e300])
    floor = float32_floor(values)
    assert (floor <= values).all()
    assert np.array_equal(floor, floor.astype(np.float32).astype(float))
    above = np.nextafter(floor.astype(np.float32), np.float32(np.inf)).astype(float)
    assert ((above > values) | ~np.isfinite(above)).all()


def test_padding_bytes_are_zeroed():
    model = DecisionTreeClassifier(random_state=0).fit(X, y_cls)
    nodes = model.tree_.__getstate__()["nodes"]
    ((start, end),) = padding_ranges(nodes.dtype)
    raw = nodes.view(np.uint8).reshape(len(nodes), -1)
    raw[:, start:end] = 0xAB  # whatever memory the tree was built in
    prune_model(model, PruneOptions(preset="exact"))
    assert not raw[:, start:end].any()


def test_drop_importances_zeroes_them_and_predictions_stay():
    model = RandomForestClassifier(5, random_state=0).fit(X, y_cls)
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact", drop_importances=True))
    tree = result.model.estimators_[0].tree_
    assert not tree.impurity.any() and not tree.weighted_n_node_samples.any()
    assert np.array_equal(result.model.predict_proba(X), model.predict_proba(X))
    assert "zeroed (--drop-importances)" in result.transformed[0].detail


def test_tree_transforms_shrink_the_file(tmp_path):
    import zipfile

    import skops.io as sio

    model = RandomForestRegressor(10, random_state=0).fit(X, y_reg)
    before = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    after = sio.dumps(result.model, compression=zipfile.ZIP_DEFLATED)
    assert len(after) < 0.85 * len(before)


def test_internal_values_repeat_their_first_leaf_and_compress_smaller():
    """A zero row per split costs the values member more than a copy of the leaf that follows it."""
    import bz2

    model = RandomForestClassifier(10, random_state=0).fit(np.tile(X, (4, 1)), np.tile(y_cls, 4))
    zeroed = [t.value.copy() for t in trees_of(model)]
    for values, tree in zip(zeroed, trees_of(model)):
        values[tree.children_left >= 0] = 0.0
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    copied = [t.value for t in trees_of(result.model)]
    size = lambda arrays: sum(len(bz2.compress(a.tobytes(), 9)) for a in arrays)  # noqa: E731
    assert size(copied) < 0.92 * size(zeroed)
    assert np.array_equal(result.model.predict_proba(X), model.predict_proba(X))
    assert "internal values set to their first leaf's" in result.transformed[0].detail


def test_first_leaves_refuses_a_cycle():
    left = np.array([1, 2, 1, -1])  # 1 -> 2 -> 1: no leaf is ever reached
    assert first_leaves(left) is None
    assert first_leaves(np.array([1, 2, -1, -1])).tolist() == [2, 2, 2, 3]


def test_hist_gradient_boosting_internal_values_and_gains():
    model = HistGradientBoostingRegressor(max_iter=15, random_state=0).fit(X, y_reg)
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    assert any(t.effect == "hgb-exact" for t in result.transformed)
    for predictors in result.model._predictors:
        nodes = predictors[0].nodes
        assert not nodes["value"][nodes["is_leaf"] == 0].any() and not nodes["gain"].any()
    probe = np.concatenate([X, rng.normal(size=(200, 6)) * X.std(axis=0)])
    assert np.array_equal(model.predict(probe), result.model.predict(probe))


def test_sample_counts_stay_readable_and_weights_may_drop_a_bit():
    """``n_node_samples`` is display only: the root's count within 1%, every count within 1.5x, never 0."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(np.tile(X, (8, 1)), np.tile(y_cls, 8))
    before = [t.n_node_samples.copy() for t in trees_of(model)]
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    detail = next(t.detail for t in result.transformed if t.effect == "tree-exact")
    assert "impurity at " in detail and "node weights at " in detail, detail
    for old, tree in zip(before, trees_of(result.model)):
        new = tree.n_node_samples
        assert abs(new[0] - old[0]) <= 0.01 * old[0]
        assert (new > 0).all() and (np.maximum(new / old, old / new) <= 1.5).all()
    ref, new = model.feature_importances_, result.model.feature_importances_
    assert np.abs(new - ref).max() <= 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize("tolerance", [0.0, 1e-12])  # 1e-12: the 52-bit level (sums differ by 4e-16)
def test_a_tolerance_only_the_finest_level_meets_keeps_the_sample_counts(tolerance):
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y_cls)
    before = [t.__getstate__()["nodes"].copy() for t in trees_of(model)]
    pruned = prune_model(copy.deepcopy(model), PruneOptions(preset="exact", tolerance=tolerance)).model
    for old, tree in zip(before, trees_of(pruned)):
        new = tree.__getstate__()["nodes"]
        assert np.array_equal(old["n_node_samples"], new["n_node_samples"])
    assert np.abs(pruned.feature_importances_ - model.feature_importances_).max() <= tolerance
