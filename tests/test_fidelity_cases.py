"""Issue 11's cases: what held-out real rows found and the probes missed, each judged on held-out rows.

Also the registry's computation-exactness entries, invariants before outputs, the
worth-the-risk threshold, bundles in ``skprune check`` and the report describing the file.
"""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from collections import Counter

import numpy as np
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegressionCV, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from conftest import save
from corpus import labelled_documents
from skprune_cli.cli import app
from skprune_cli.fidelity.invariants import Invariants
from skprune_cli.pruning import PruneOptions, prune_model
from skprune_cli.walk import walk

# registry entries whose test lives here (test_registry.test_every_entry_has_a_test reads this)
COMPUTATION_CASES = {"KNeighborsMixin", "BaseHistGradientBoosting", "IsotonicRegression", "AffinityPropagation"}


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def quiet_prune(model, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prune_model(copy.deepcopy(model), PruneOptions(**options))


def file_matches_report(path, changes, trusted=None):
    """Every reported array path has, in the written file, the dtype and shape the report gives."""
    loaded = sio.load(path, trusted=trusted or sio.get_untrusted_types(file=path)) if path.suffix == ".skops" \
        else pickle.loads(path.read_bytes())
    held = {}
    for ref in walk(loaded):
        for p in (ref.path, *ref.alias_paths):
            held[p] = (str(ref.dtype), list(ref.shape))
    wrong = [(c.path, c.dtype_after, c.shape, held.get(c.path)) for c in changes
             if held.get(c.path) != (c.dtype_after, list(c.shape))]
    assert not wrong, wrong
    return loaded


# --- value-exact is not computation-exact (registry "computation") -----------------------------

def test_knn_on_integer_features_keeps_float64_samples_and_its_tie_order():
    X, y = load_digits(return_X_y=True)  # integer-valued pixels: many equal distances
    knn = KNeighborsClassifier().fit(X[:1000], y[:1000])
    held_out = X[1000:]
    blind = copy.deepcopy(knn)
    blind._fit_X = blind._fit_X.astype(np.float16)  # holds every value exactly...
    assert np.array_equal(blind._fit_X, knn._fit_X)
    assert np.abs(blind.predict_proba(held_out) - knn.predict_proba(held_out)).max() >= 0.1  # ...yet ties move
    result = quiet_prune(knn)
    assert result.model._fit_X.dtype == np.float64
    reason = next(c.reason for c in result.changes if c.path == "_fit_X")
    assert "value-exact is not computation-exact" in reason
    np.testing.assert_array_equal(result.model.predict_proba(held_out), knn.predict_proba(held_out))


def test_hist_gradient_boosting_baseline_keeps_its_dtype():
    from skprune_cli.plan import decide
    from skprune_cli.rules import rule_table

    X, _ = make_classification(300, 6, random_state=0)
    y = np.r_[np.zeros(150), np.ones(150)].astype(int)  # balanced: the baseline log-odds is exactly 0
    X[y == 1] += 0.5
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    assert hgb._baseline_prediction.ravel()[0] == 0.0
    blind = copy.deepcopy(hgb)
    blind._baseline_prediction = blind._baseline_prediction.astype(np.float16)  # the same value
    assert np.abs(blind.predict_proba(X) - hgb.predict_proba(X)).max() > 0  # summed in float16
    (ref,) = [r for r in walk(hgb) if r.path == "_baseline_prediction"]
    decision = decide(ref, rule_table("float16"))
    assert decision.exact is None and decision.locked == "dtype"
    assert "value-exact is not computation-exact" in decision.reason


# --- isotonic calibration: no NaN, invariants, the report describes the file -----------------------

@pytest.fixture(scope="module")
def calibrated():
    X, y = make_classification(3000, 20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CalibratedClassifierCV(LinearSVC(), method="isotonic").fit(X[:1500], y[:1500])
    return model, X[1500:]


@pytest.mark.parametrize("cast", [(), ("--cast", "float64=float16")])
def test_isotonic_calibration_no_nan_and_the_report_describes_the_file(runner, tmp_path, calibrated, cast):
    model, held_out = calibrated
    source = save(model, tmp_path / "cal.pkl")
    out = tmp_path / "lite.skops"
    result = run(runner, "shrink", source, "-o", out, "--json", *cast)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert not any(".f_." in a["path"] for a in doc["arrays"])  # f_ is rebuilt on load, not saved
    from skprune_cli.report import ArrayChange

    changes = [ArrayChange(**a) for a in doc["arrays"]]
    lite = file_matches_report(out, changes)
    proba = lite.predict_proba(held_out)
    assert not np.isnan(proba).any()
    if not cast:  # a 10 KB model: not worth a lossy cast, so nothing moves
        np.testing.assert_array_equal(proba, model.predict_proba(held_out))
        assert all(a["dtype_after"] == a["dtype_before"] or "exact" in a["action"] for a in doc["arrays"])
    for c in lite.calibrated_classifiers_:  # knots stay strictly increasing: no collapsed knot
        knots = c.calibrators[0].X_thresholds_
        assert np.all(np.diff(knots.astype(np.float64)) > 0)
        np.testing.assert_array_equal(c.calibrators[0].f_.x, knots)


def test_invariants_stop_casts_before_any_check():
    knots = np.cumsum(np.full(60, 1e-4)) + 1.0  # float16 spacing near 1 is ~1e-3: knots collide
    assert "strictly increasing" in Invariants.of(knots).names
    broken = Invariants.of(knots).broken(knots, knots.astype(np.float16).astype(np.float64))
    assert broken.startswith("strictly increasing")
    iso = IsotonicRegression().fit(knots, np.linspace(0, 1, 60))
    from skprune_cli.fidelity.probes import Probes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = prune_model(iso, PruneOptions(min_lossy_bytes=0), Probes(np.linspace(0.9, 1.1, 500), "a grid"))
    assert not any(c.path.startswith("f_") for c in result.changes)  # rebuilt on load: never cast apart
    np.testing.assert_array_equal(result.model.f_.x, result.model.X_thresholds_)
    entry = next(c for c in result.changes if c.path == "X_thresholds_")
    assert "float16: would break the invariant 'strictly increasing'" in entry.reason
    assert entry.dtype_after in ("float32", "float64")
    probabilities = np.random.default_rng(0).dirichlet(np.ones(7), size=50)
    assert Invariants.of(probabilities).broken(probabilities, probabilities.astype(np.float16)).startswith(
        "rows sum to one")
    scales = np.array([1e-9, 2.0, 3.0])
    assert Invariants.of(scales).broken(scales, scales.astype(np.float16)).startswith("strictly positive")
    counts = np.array([0.0, 3.0, 7.0, 1.0])
    assert "integer-valued" in Invariants.of(counts).names
    assert Invariants.of(counts).broken(counts, counts + 0.25) == "integer-valued"


# --- worth the risk --------------------------------------------------------------------------------

def test_tiny_models_get_no_lossy_cast_unless_asked(runner, tmp_path):
    X, y = make_classification(400, 10, random_state=1)
    model = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X, y)
    default = quiet_prune(model)
    assert all(c.dtype_after in ("float64", "int64", "int32", "int8") or c.action == "exact" for c in default.changes)
    assert any("worth the risk" in c.reason for c in default.changes)
    source = save(model, tmp_path / "m.pkl")
    forced = json.loads(run(runner, "shrink", source, "--dry-run", "--json", "--cast", "float64=float16").stdout)
    assert any(a["dtype_after"] == "float16" and a["action"] == "cast" for a in forced["arrays"])


def test_scaler_sgd_keeps_every_label_on_rows_next_to_the_boundary():
    X, y = make_classification(6000, 200, n_informative=30, random_state=0)
    model = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(X[:3000], y[:3000])
    scaler, sgd = model.steps[0][1], model.steps[1][1]
    rows = X[3000:]
    w = sgd.coef_.ravel() / scaler.scale_  # the boundary in input space
    margin = model.decision_function(rows)
    near = rows - ((margin - np.sign(margin) * 1e-6) / (w @ w))[:, None] * w  # held-out rows moved next to it
    reference = model.predict(near)
    assert len(set(reference)) == 2
    blind = copy.deepcopy(model)
    for ref in walk(blind):
        if ref.dtype == np.float64 and ref.attr != "classes_":
            ref.replace(ref.values().astype(np.float16))
    assert (blind.predict(near) != reference).sum() > 0  # a blind float16 flips labels here
    result = quiet_prune(model)
    assert (result.model.predict(near) != reference).sum() == 0


# --- text models -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def labelled():
    docs, labels = labelled_documents(600, lines_per_doc=30)
    labels = np.array([label.split(".")[1] if "." in label else "top" for label in labels])
    top = [k for k, _ in Counter(labels).most_common(3)]
    labels = np.where(np.isin(labels, top), labels, "other")
    train = [d for i, d in enumerate(docs) if i % 3]
    held_out = [d for i, d in enumerate(docs) if i % 3 == 0]
    return train, labels[[i for i in range(len(docs)) if i % 3]], held_out


def test_tfidf_logistic_regression_cv_on_held_out_documents(labelled):
    train, y, held_out = labelled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_pipeline(TfidfVectorizer(min_df=2, max_features=2000, sublinear_tf=True),
                              LogisticRegressionCV(Cs=[30.0], cv=2, max_iter=100)).fit(train, y)
    result = quiet_prune(model)
    assert any(c.dtype_after == "float16" for c in result.changes)  # big enough to be worth a cast
    ref, new = model.predict_proba(held_out), result.model.predict_proba(held_out)
    assert np.abs(new - ref).max() / np.abs(ref).max() <= 1e-3
    np.testing.assert_array_equal(result.model.predict(held_out), model.predict(held_out))


def test_count_vectorizer_checks_without_crashing(runner, tmp_path, labelled):
    train, _, held_out = labelled
    vectorizer = CountVectorizer(min_df=2, max_features=3000).fit(train)
    source = save(vectorizer, tmp_path / "cv.skops")
    out = tmp_path / "lite.skops"
    assert run(runner, "shrink", source, "-o", out).exit_code == 0
    result = run(runner, "check", source, out, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    transform = next(m for m in doc["methods"] if m["method"] == "transform")
    assert transform["status"] == "ok" and transform["max_rel_error"] == 0.0
    broken = copy.deepcopy(vectorizer)
    first, second = sorted(broken.vocabulary_)[:2]
    broken.vocabulary_[first], broken.vocabulary_[second] = broken.vocabulary_[second], broken.vocabulary_[first]
    bad = run(runner, "check", source, save(broken, tmp_path / "bad.skops"))
    assert bad.exit_code == 1 and "internal error" not in bad.stderr


# --- skprune check on a bundle -----------------------------------------------------------------------

def test_check_on_a_dict_bundle_exits_0_when_faithful_and_1_when_broken(runner, tmp_path, logreg, iris):
    X, y = iris
    knn = KNeighborsClassifier().fit(X, y)
    bundle = {"model": logreg, "neighbours": knn, "version": 3}
    source = tmp_path / "bundle.pkl"
    source.write_bytes(pickle.dumps(bundle))
    out = tmp_path / "lite.pkl"
    assert run(runner, "shrink", source, "-o", out).exit_code == 0
    ok = run(runner, "check", source, out, "--json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    methods = {m["method"] for m in json.loads(ok.stdout)["methods"]}
    assert {"model.predict_proba", "neighbours.predict_proba"} <= methods
    broken = copy.deepcopy(bundle)
    broken["model"].steps[-1][1].coef_ = broken["model"].steps[-1][1].coef_[:, ::-1].copy()
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(broken))
    result = run(runner, "check", source, bad)
    assert result.exit_code == 1
    assert "model.predict" in result.stdout and "no output method" not in result.stdout


def test_affinity_propagation_centres_stay_at_float32_or_wider():
    from sklearn.cluster import AffinityPropagation

    from zoo import data

    X, _, _, held_out = data()
    hard = np.concatenate([held_out, np.round(held_out)])  # integer rows: near-ties between centres
    model = AffinityPropagation(random_state=0).fit(X)
    result = quiet_prune(model)
    assert result.model.cluster_centers_.dtype in (np.float32, np.float64)
    np.testing.assert_array_equal(result.model.predict(hard), model.predict(hard))
