"""The walker finds every array, names it by a stable dotted path, and can replace it."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import Birch
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.linear_model import LogisticRegression, Ridge

from skprune_cli.walk import walk


def paths(model):
    return [ref.path for ref in walk(model)]


def test_pipeline_steps_are_named(logreg):
    found = paths(logreg)
    assert "steps.standardscaler.mean_" in found
    assert "steps.logisticregression.coef_" in found


def test_column_transformer_and_feature_union(iris):
    X, y = iris
    ct = ColumnTransformer([("num", StandardScaler(), [0, 1]), ("mm", MinMaxScaler(), np.array([2, 3]))])
    union = FeatureUnion([("pca", PCA(2)), ("scale", StandardScaler())])
    model = make_pipeline(ct, union, LogisticRegression(max_iter=300)).fit(X, y)
    found = paths(model)
    assert "steps.columntransformer.transformers_.num.mean_" in found
    assert "steps.columntransformer.transformers_.mm.data_min_" in found
    # the third tuple item (the column selection) is addressed with ~2; the same
    # array sits in the constructor parameter and the fitted list
    (cols,) = [r for r in walk(model) if r.path == "steps.columntransformer.transformers.mm~2"]
    assert "steps.columntransformer.transformers_.mm~2" in cols.alias_paths
    assert "steps.featureunion.transformer_list.pca.components_" in found


def test_meta_estimators_and_object_arrays(iris):
    X, y = iris
    grid = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert "best_estimator_.coef_" in paths(grid)
    assert any(p.startswith("cv_results_.mean_test_score") for p in paths(grid))
    ovr = OneVsRestClassifier(LogisticRegression(max_iter=300)).fit(X, y)
    assert "estimators_.2.coef_" in paths(ovr)
    gb = GradientBoostingRegressor(n_estimators=3, max_depth=2).fit(X, X[:, 0])
    assert "estimators_.2.0.tree_.nodes" in paths(gb)  # 2-D object array of trees


def test_tree_state_is_reported_and_read_only(forest):
    refs = {ref.path: ref for ref in walk(forest)}
    nodes = refs["estimators_.0.tree_.nodes"]
    values = refs["estimators_.0.tree_.values"]
    assert nodes.dtype.names and "threshold" in nodes.dtype.names
    assert values.dtype == np.float64
    assert not nodes.replaceable and not values.replaceable
    # the state arrays are views: changing them in place changes the tree
    values.array[0] = 0.0
    assert np.all(forest.estimators_[0].tree_.value[0] == 0.0)


def test_shared_array_reported_once_with_all_holders(iris):
    X, y = iris
    knn = KNeighborsClassifier(algorithm="kd_tree").fit(X, y)
    refs = [r for r in walk(knn) if r.array is knn._fit_X]
    assert len(refs) == 1
    ref = refs[0]
    assert ref.path == "_fit_X" and ref.alias_paths == ["_tree.0"]
    assert not ref.replaceable  # one holder is compiled KD-tree state


def test_cycles_terminate(iris):
    X, _ = iris
    birch = Birch(n_clusters=3).fit(X)
    found = paths(birch)
    assert "subcluster_centers_" in found
    assert len(found) == len(set(found))


def test_sparse_matrix_is_one_entry_and_casts_its_data():
    model = Ridge()
    model.coef_ = sp.random(1, 50, density=0.2, format="csr", random_state=0)
    (ref,) = [r for r in walk(model) if r.path == "coef_"]
    assert ref.is_sparse and ref.nbytes == ref.array.data.nbytes + ref.array.indices.nbytes + ref.array.indptr.nbytes
    ref.replace(ref.values().astype(np.float32))
    assert model.coef_.dtype == np.float32


def test_replace_through_tuples_and_dicts():
    holder = Ridge()
    a, b = np.arange(3.0), np.ones(2)
    holder.pair = ("x", a)
    holder.table = {"k": b}
    holder.listed = [("one", a)]  # same array again, through a named list
    refs = {r.path: r for r in walk(holder)}
    ref = refs["pair.1"]
    assert ref.alias_paths == ["listed.one"]
    ref.replace(a.astype(np.float32))
    assert holder.pair[1].dtype == np.float32 and isinstance(holder.pair, tuple)
    assert holder.listed[0][1].dtype == np.float32
    refs["table.k"].replace(b.astype(np.float16))
    assert holder.table["k"].dtype == np.float16


def test_paths_are_stable(logreg):
    assert paths(logreg) == paths(logreg)
