"""Probes that look like real data: each finds a change that plain normals or uniform words miss."""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, make_classification
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, QuantileTransformer, StandardScaler
from sklearn.svm import LinearSVC

from skprune_cli.fidelity.probes import synthesize
from skprune_cli.fidelity.probes.numeric import generic


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits(return_X_y=True)


def test_knn_on_integer_data_gets_stored_rows_duplicates_and_ties(digits):
    X, y = digits
    knn = KNeighborsClassifier().fit(X[:1500], y[:1500])
    probes = synthesize(knn).X
    stored = {row.tobytes() for row in X[:1500]}
    assert sum(row.tobytes() in stored for row in probes) >= 50  # stored samples as they are
    assert len({row.tobytes() for row in probes}) < len(probes)  # exact duplicates
    on_grid = np.all(probes == np.round(probes), axis=1) & np.all((probes >= 0) & (probes <= 16), axis=1)
    assert on_grid.sum() >= 200  # integer rows in the stored range
    dist, _ = knn.kneighbors(probes, n_neighbors=6)
    assert (dist[:, 4] == dist[:, 5]).sum() >= 3  # the 5th and 6th neighbours tie
    # _fit_X in float16 keeps every value, yet moves predict_proba: the probes see it, normals do not
    cast = copy.deepcopy(knn)
    cast._fit_X = cast._fit_X.astype(np.float16)
    assert np.abs(knn.predict_proba(probes) - cast.predict_proba(probes)).max() >= 0.1
    normals = generic(64, 512, np.random.default_rng(0))[0][0]
    assert np.abs(knn.predict_proba(normals) - cast.predict_proba(normals)).max() == 0


def test_probing_a_big_knn_copies_only_sampled_rows():
    X = np.random.default_rng(0).normal(size=(50_000, 50))
    knn = KNeighborsClassifier().fit(X, np.arange(len(X)) % 3)
    tracemalloc.start()
    try:
        synthesize(knn)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2, peak  # the 20 MB of stored rows are never copied whole


def _document_frequency(vectorizer, docs) -> np.ndarray:
    return np.asarray((vectorizer.transform(docs) > 0).sum(axis=0)).ravel()


def test_documents_follow_document_frequency(docs):
    vectorizer = TfidfVectorizer(min_df=2).fit(docs[:300])
    model = make_pipeline(vectorizer, LogisticRegression(max_iter=300)).fit(docs[:300], np.arange(300) % 3)
    probes = synthesize(model)
    assert "document frequencies" in probes.source
    real = _document_frequency(vectorizer, docs[:300])
    seen = _document_frequency(vectorizer, probes.X)
    assert spearmanr(real, seen).statistic > 0.5
    frequent, rare = real >= np.quantile(real, 0.9), real <= np.quantile(real, 0.5)
    assert seen[frequent].mean() > 5 * seen[rare].mean()
    lengths = np.array([len(d.split()) for d in probes.X])
    assert (lengths == 0).sum() >= 5 and (lengths <= 3).sum() >= 30 and (lengths >= 1000).sum() >= 5
    assert any("zqxjv" in d for d in probes.X)  # words the vocabulary has never seen


def test_ngram_terms_come_as_contiguous_words_weighted_by_counts(docs):
    y = np.arange(len(docs)) % 3
    model = make_pipeline(CountVectorizer(ngram_range=(1, 2), min_df=2), MultinomialNB()).fit(docs, y)
    probes = synthesize(model)
    assert "term counts" in probes.source
    vectorizer = model[0]
    bigrams = np.array([" " in t for t in vectorizer.get_feature_names_out()])
    counts = np.asarray(vectorizer.transform(probes.X).sum(axis=0)).ravel()
    assert counts[bigrams].sum() > 0.1 * counts.sum()  # the bigrams' unigrams co-occur with them
    stored = model[-1].feature_count_.sum(axis=0)
    assert spearmanr(stored, counts).statistic > 0.4


def test_boundary_rows_flip_a_linear_label_for_a_hair():
    X, y = make_classification(3000, 10, random_state=1)
    model = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X, y)
    probes = synthesize(model)
    assert "decision boundary" in probes.source
    decision = model.decision_function(probes.X)
    assert (np.abs(decision) < 1e-3 * np.median(np.abs(decision))).sum() >= 10
    cast = copy.deepcopy(model)
    cast[-1].coef_ = cast[-1].coef_.astype(np.float16).astype(np.float64)
    assert (cast.predict(probes.X) != model.predict(probes.X)).any()
    normals = generic(10, 512, np.random.default_rng(0))[0][0]
    assert (cast.predict(normals) == model.predict(normals)).all()


def test_boundary_rows_for_multiclass():
    X, y = make_classification(1500, 6, n_informative=4, n_classes=3, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    decision = model.decision_function(synthesize(model).X)
    top2 = np.sort(decision, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0] < 1e-3).sum() >= 10


def _has_values(column: np.ndarray, values: np.ndarray) -> int:
    return int(np.isin(values, column).sum())


def test_knots_of_quantile_transformer_and_bins():
    X, y = make_classification(600, 5, random_state=0)
    quantile = make_pipeline(QuantileTransformer(n_quantiles=50), Ridge()).fit(X, y)
    probes = synthesize(quantile)
    assert "quantiles_" in probes.source
    for j in range(5):
        knots = quantile[0].quantiles_[:, j]
        assert _has_values(probes.X[:, j], knots) >= 10
        assert _has_values(probes.X[:, j], np.nextafter(knots, np.inf)) >= 3
    bins = make_pipeline(KBinsDiscretizer(n_bins=6), LogisticRegression()).fit(X, y)
    probes = synthesize(bins)
    assert "bin_edges_" in probes.source
    for j, edges in enumerate(bins[0].bin_edges_):
        assert _has_values(probes.X[:, j], edges[1:-1]) >= 3


def test_knots_of_isotonic_regression():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 400)
    model = IsotonicRegression().fit(x, np.sin(x) + x + rng.normal(0, 0.3, 400))
    probes = synthesize(model)
    assert _has_values(probes.X[:, 0], model.X_thresholds_) >= 20


def test_calibrator_knots_are_reached_through_the_classifier():
    X, y = make_classification(3000, 20, n_informative=10, random_state=0)
    model = CalibratedClassifierCV(LinearSVC(), method="isotonic").fit(X[:2000], y[:2000])
    probes = synthesize(model)
    assert "calibrators' knots" in probes.source
    member = model.calibrated_classifiers_[0]
    decision = member.estimator.decision_function(probes.X)
    knots = member.calibrators[0].X_thresholds_
    gaps = np.abs(decision[:, None] - knots[None, :]).min(axis=0)
    assert (gaps < 1e-9 * np.abs(knots).max()).sum() >= 5
    # knots that collide after a cast give NaN: the probes find it
    cast = copy.deepcopy(model)
    for m in cast.calibrated_classifiers_:
        for c in m.calibrators:
            c.f_.x = c.X_thresholds_ = c.X_thresholds_.astype(np.float16).astype(np.float64)
    assert np.isnan(cast.predict_proba(probes.X)).any()


def test_split_values_behind_a_scaler_are_reached_through_it():
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(800, 6, random_state=0)
    model = make_pipeline(StandardScaler(), RandomForestClassifier(5, random_state=0)).fit(X, y)
    probes = synthesize(model)
    assert "through the steps before it" in probes.source
    scaled = model[0].transform(probes.X)
    tree = model[-1].estimators_[0].tree_
    for j in range(6):
        thresholds = tree.threshold[tree.feature == j]
        if len(thresholds):
            gaps = np.abs(scaled[:, j][:, None] - thresholds[None, :]).min(axis=0)
            assert (gaps < 1e-9).sum() >= min(3, len(thresholds))
