"""Every registry entry is needed: without it the cast breaks the model; with it, prune keeps it working."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from sklearn.cluster import BisectingKMeans, KMeans, MiniBatchKMeans
from sklearn.decomposition import NMF, LatentDirichletAllocation
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import SplineTransformer
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier

from skprune_cli import prune
from skprune_cli.estimators import REGISTRY
from skprune_cli.walk import walk

rng = np.random.default_rng(0)
X = np.abs(rng.normal(size=(80, 4))) + 0.1
y = (X[:, 0] > X[:, 1]).astype(int)


def fitted(factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = factory()
        try:
            return model.fit(X, y)
        except TypeError:
            return model.fit(X)


def run_outputs(model):
    out = {}
    for method in ("predict", "predict_proba", "transform"):
        if hasattr(model, method):
            out[method] = getattr(model, method)(X)
    return out


def force_cast(model, attrs, dtype):
    """Cast the named attributes anyway, as a registry-less tool would."""
    model = copy.deepcopy(model)
    for ref in walk(model):
        if ref.attr in attrs and ref.replaceable and ref.dtype.kind == "f":
            ref.replace(ref.values().astype(dtype))
    return model


# first owner name of the entry -> (model factory, attributes to force, dtype that breaks it)
BREAKS = {
    "KMeans": [(lambda: KMeans(3, n_init=2, random_state=0), ["cluster_centers_"], np.float32),
               (lambda: MiniBatchKMeans(3, n_init=2, random_state=0), ["cluster_centers_"], np.float32),
               (lambda: BisectingKMeans(3, random_state=0), ["cluster_centers_", "center"], np.float32)],
    "BaseLibSVM": [(lambda: SVC(), ["support_vectors_", "_dual_coef_"], np.float32),
                   (lambda: SVR(), ["support_vectors_", "_dual_coef_"], np.float32)],
    "NMF": [(lambda: NMF(2, init="nndsvda", max_iter=50), ["components_"], np.float32)],
    "LatentDirichletAllocation": [(lambda: LatentDirichletAllocation(2, max_iter=3, random_state=0),
                                   ["components_", "exp_dirichlet_component_"], np.float16)],
    "BSpline": [(lambda: SplineTransformer(), ["_t", "_c"], np.float32)],
}


def cases():
    for owner, items in BREAKS.items():
        for factory, attrs, dtype in items:
            yield pytest.param(factory, attrs, dtype, id=f"{owner}-{factory().__class__.__name__}-{np.dtype(dtype).name}")


@pytest.mark.parametrize("factory, attrs, dtype", list(cases()))
def test_entry_prevents_a_breaking_cast(factory, attrs, dtype):
    model = fitted(factory)
    reference = run_outputs(model)
    broken = force_cast(model, attrs, dtype)
    with pytest.raises((ValueError, TypeError)):
        run_outputs(broken)
    preset = "float16" if dtype == np.float16 else "float32"
    pruned = prune(model, preset=preset)
    for name, ref in reference.items():
        new = getattr(pruned, name)(X)
        if name == "predict" and hasattr(model, "classes_"):
            np.testing.assert_array_equal(new, ref)
        else:  # values of dtype-locked arrays may still be rounded, within the tolerance
            assert np.abs(new - ref).max() <= 1e-3 * np.abs(ref).max()
    kept = [r for r in walk(pruned) if r.attr in attrs and r.dtype.kind == "f"]
    assert kept and all(r.dtype == np.float64 for r in kept)


def test_labels_stay_exact_under_float16():
    labels = np.where(y == 1, 1.0, 2049.0)  # 2049 has no float16 twin
    model = LogisticRegression().fit(X, labels)
    pruned = prune(model, preset="float16")
    assert pruned.classes_.dtype == np.float64
    np.testing.assert_array_equal(pruned.predict(X), model.predict(X))
    assert pruned.predict(X).dtype == np.float64
    broken = force_cast(model, ["classes_"], np.float16)
    assert not set(broken.predict(X)) <= set(labels)


def test_tree_and_kd_tree_state_keep_their_dtype():
    tree = DecisionTreeClassifier(max_depth=3).fit(X, y)
    knn = KNeighborsClassifier(algorithm="kd_tree").fit(X, y)
    for model in (tree, knn):
        pruned = prune(model, preset="float16")
        np.testing.assert_array_equal(pruned.predict(X), model.predict(X))
        assert pruned.tree_.value.dtype == np.float64 if model is tree else pruned._fit_X.dtype == np.float64
    # sklearn itself refuses a Tree with float32 values when it is rebuilt from its state
    state = tree.tree_.__getstate__()
    state["values"] = state["values"].astype(np.float32)
    rebuilt = type(tree.tree_)(tree.n_features_in_, np.array([2]), 1)
    with pytest.raises(ValueError):
        rebuilt.__setstate__(state)


def test_dictionary_learning_stays_at_float32_or_wider():
    from sklearn.decomposition import DictionaryLearning

    from zoo import data

    train, _, _, held_out = data()
    model = DictionaryLearning(random_state=0).fit(train)
    ref = model.transform(held_out)
    blind = force_cast(model, ["components_"], np.float16).transform(held_out)
    assert np.abs(blind - ref).max() / np.abs(ref).max() > 1e-3  # a code switched atoms
    pruned = prune(model)
    assert pruned.components_.dtype in (np.float32, np.float64)
    assert np.abs(pruned.transform(held_out) - ref).max() / np.abs(ref).max() <= 1e-3


SAMPLE_MODELS = {
    "KNeighborsMixin": lambda: KNeighborsClassifier(),
    "GaussianProcessRegressor": lambda: __import__("sklearn.gaussian_process", fromlist=["x"]).GaussianProcessRegressor(),
    "BaseLibSVM": lambda: SVC(),
    "KMeans": lambda: KMeans(2, n_init=2, random_state=0),
    "Birch": lambda: __import__("sklearn.cluster", fromlist=["x"]).Birch(n_clusters=2),
    "BaseLabelPropagation": lambda: __import__("sklearn.semi_supervised", fromlist=["x"]).LabelSpreading(),
    "NearestCentroid": lambda: __import__("sklearn.neighbors", fromlist=["x"]).NearestCentroid(),
    "GaussianNB": lambda: __import__("sklearn.naive_bayes", fromlist=["x"]).GaussianNB(),
    "LinearDiscriminantAnalysis": lambda: __import__("sklearn.discriminant_analysis", fromlist=["x"]).LinearDiscriminantAnalysis(),
    "Nystroem": lambda: __import__("sklearn.kernel_approximation", fromlist=["x"]).Nystroem(n_components=20),
    "KernelPCA": lambda: __import__("sklearn.decomposition", fromlist=["x"]).KernelPCA(2),
    "EmpiricalCovariance": lambda: __import__("sklearn.covariance", fromlist=["x"]).EllipticEnvelope(random_state=0),
}


@pytest.mark.parametrize("owner", sorted(SAMPLE_MODELS))
def test_input_samples_feed_the_probes(owner):
    from skprune_cli.fidelity.probes import synthesize

    model = fitted(SAMPLE_MODELS[owner])
    probes = synthesize(model)
    assert f"stored samples of {type(model).__name__}" in probes.source
    assert probes.X.shape[1] == X.shape[1]


def test_every_entry_has_a_test():
    from test_fidelity_cases import COMPUTATION_CASES
    from test_training_only import DROPS

    tested = set(BREAKS) | set(SAMPLE_MODELS) | set(DROPS) | COMPUTATION_CASES | {
        "*", "Tree", "TreePredictor", "BinaryTree64", "CountVectorizer", "DictionaryLearning", "BaseDecisionTree"}
    assert {entry.owners[0] for entry in REGISTRY} <= tested


def test_vocabulary_values_become_python_ints_in_column_order(tmp_path, text_nb, docs):
    import zipfile

    import skops.io as sio

    vectorizer = text_nb.steps[0][1]
    assert all(isinstance(v, np.integer) for v in vectorizer.vocabulary_.values())  # max_features leaves numpy ints
    pruned = prune(text_nb, preset="exact")
    assert all(type(v) is int for v in pruned.steps[0][1].vocabulary_.values())
    assert pruned.steps[0][1].vocabulary_ == vectorizer.vocabulary_
    assert list(vectorizer.vocabulary_.values()) != sorted(vectorizer.vocabulary_.values())  # first-seen order
    assert list(pruned.steps[0][1].vocabulary_.values()) == list(range(len(vectorizer.vocabulary_)))
    np.testing.assert_array_equal(pruned.predict_proba(docs), text_nb.predict_proba(docs))
    before, after = tmp_path / "before.skops", tmp_path / "after.skops"
    sio.dump(text_nb, before)
    sio.dump(pruned, after)
    with zipfile.ZipFile(before) as a, zipfile.ZipFile(after) as b:
        assert len(a.namelist()) > len(vectorizer.vocabulary_) > 100 > len(b.namelist())
    assert after.stat().st_size < 0.8 * before.stat().st_size


def test_fitted_random_states_of_sub_estimators_become_none():
    import zipfile

    import skops.io as sio
    from sklearn.ensemble import GradientBoostingRegressor

    from zoo import data

    X_train, _, y_train, X_test = data()
    model = GradientBoostingRegressor(n_estimators=30, random_state=0).fit(X_train, y_train)
    assert isinstance(model.estimators_[0, 0].random_state, np.random.RandomState)
    pruned = prune(model, preset="exact")
    assert all(t.random_state is None for t in pruned.estimators_.ravel())
    assert pruned.random_state == 0  # the parameter the user set is untouched
    np.testing.assert_array_equal(pruned.predict(X_test), model.predict(X_test))
    with zipfile.ZipFile(__import__("io").BytesIO(sio.dumps(model))) as before, \
            zipfile.ZipFile(__import__("io").BytesIO(sio.dumps(pruned))) as after:
        assert len(before.namelist()) - len(after.namelist()) >= 30  # one RandomState copy per tree gone


def test_entries_with_base_classes_name_their_concrete_estimators():
    """``inspect`` matches a .skops schema's class names without importing them."""
    from sklearn.utils import all_estimators

    from skprune_cli.estimators.registry import ARRAY_EFFECTS

    classes = [cls for _, cls in all_estimators()]
    from sklearn.neighbors import BallTree, KDTree

    classes += [KDTree, BallTree]
    for entry in REGISTRY:
        if entry.effect not in (*ARRAY_EFFECTS, "drop") or "*" in entry.owners:
            continue
        for cls in classes:
            if {c.__name__ for c in cls.__mro__} & set(entry.owners):
                assert cls.__name__ in entry.owners, (entry.owners[0], cls.__name__)


def test_a_big_vocabulary_in_column_order_is_much_smaller(tmp_path):
    """Terms in column order share prefixes and count up: the same mapping, 1.3x+ smaller on disk."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from corpus import documents
    from skprune_cli.formats import target_for, write_model

    text = documents(1500, lines_per_doc=20)
    model = TfidfVectorizer(ngram_range=(1, 2)).fit(text)
    assert len(model.vocabulary_) > 40000
    pruned = prune(model, preset="exact")
    assert pruned.vocabulary_ == model.vocabulary_
    assert pruned.get_feature_names_out().tolist() == model.get_feature_names_out().tolist()
    before, after = tmp_path / "before.skops", tmp_path / "after.skops"
    write_model(model, before, target_for(before, compression="best"))
    write_model(pruned, after, target_for(after, compression="best"))
    assert after.stat().st_size * 1.3 < before.stat().st_size
    import skops.io as sio

    loaded = sio.load(after, trusted=[])
    assert (loaded.transform(text[:50]) != model.transform(text[:50])).nnz == 0
