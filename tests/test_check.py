"""The fidelity check: the check command, checked shrinking, per-array fallback."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier

from conftest import load_plain, save
from skprune_cli import check
from skprune_cli.cli import app
from skprune_cli.fidelity.search import Candidate
from skprune_cli.pruning import PruneOptions, prune_model
from skprune_cli.fidelity.compare import check_against, reference_outputs
from skprune_cli.walk import walk
from zoo import data

HGB_TRUST = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def kmeans():
    X, _, _, _ = data()
    return KMeans(3, n_init=3, random_state=0).fit(X)


def test_check_exits_1_on_float16_centres_and_0_on_a_faithful_model(runner, tmp_path, kmeans):
    original = save(kmeans, tmp_path / "km.skops")
    broken = copy.deepcopy(kmeans)
    broken.cluster_centers_ = broken.cluster_centers_.astype(np.float16)
    bad = save(broken, tmp_path / "km16.skops")
    result = run(runner, "check", original, bad)
    assert result.exit_code == 1
    assert "predict" in result.stdout and "error" in result.stdout and "FAILED" in result.stdout
    good = tmp_path / "lite.skops"
    assert run(runner, "shrink", original, "-o", good).exit_code == 0
    ok = run(runner, "check", original, good, "--json")
    assert ok.exit_code == 0
    doc = json.loads(ok.stdout)
    assert doc["schema"] == "skprune.check/1" and doc["passed"] is True
    assert {m["method"] for m in doc["methods"]} >= {"predict", "transform"}


def test_check_reports_metrics_per_method(tmp_path, logreg, iris):
    X = iris[0]
    drifted = copy.deepcopy(logreg)
    drifted.steps[-1][1].coef_ = drifted.steps[-1][1].coef_ * 1.01
    report = check(logreg, drifted, X)
    by_method = {m.method: m for m in report.methods}
    assert not report.passed
    assert by_method["predict_proba"].status == "mismatch"
    assert 1e-3 < by_method["predict_proba"].max_rel_error < 0.1
    assert by_method["predict"].labels_equal in (True, False)
    same = check(logreg, copy.deepcopy(logreg), X)
    assert same.passed and all(m.max_rel_error in (None, 0.0) for m in same.methods)


def test_check_flags_nan_that_appears(logreg, iris):
    broken = copy.deepcopy(logreg)
    broken.steps[0][1].scale_ = broken.steps[0][1].scale_ * np.nan
    report = check(logreg, broken, iris[0])
    assert not report.passed


def minimal_hold_back(model, held, X):
    """Every array the check held back is needed: putting just that one at float16 fails the check.
    (An array held back by an invariant is refused before any check: not tested here.)"""
    reference = reference_outputs(model["original"], X, "test")
    pruned = model["pruned"]
    for path in [c.path for c in held if "float16: would break the invariant" not in c.reason]:
        trial = copy.deepcopy(pruned)
        (ref,) = [r for r in walk(trial) if r.path == path]
        ref.replace(ref.values().astype(np.float16))
        assert not check_against(reference, trial, 5e-4).passed, path


def test_hist_gradient_boosting_holds_back_exactly_what_needs_it():
    X, y, _, X_test = data()
    hgb = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X, y)
    blind = copy.deepcopy(hgb)
    for ref in walk(blind):
        if ref.replaceable and ref.dtype == np.float64 and ref.attr != "classes_":
            ref.replace(ref.values().astype(np.float16))
    assert np.abs(blind.predict_proba(X_test) - hgb.predict_proba(X_test)).max() > 1e-3
    result = prune_model(copy.deepcopy(hgb), PruneOptions(min_lossy_bytes=0))  # a small model: forced
    held = [c for c in result.changes if c.action == "held back"]
    assert held, "blind float16 drifts, so something must be held back"
    for c in held:
        assert "float16:" in c.reason and c.dtype_after in ("float32", "float64")
    assert result.check.passed
    np.testing.assert_array_equal(result.model.predict(X_test), hgb.predict(X_test))
    assert np.abs(result.model.predict_proba(X_test) - hgb.predict_proba(X_test)).max() <= 1e-3
    from skprune_cli.fidelity.probes import synthesize

    minimal_hold_back({"original": hgb, "pruned": result.model}, held, synthesize(hgb).X)


def test_text_naive_bayes_holds_back_exactly_what_needs_it(text_nb, docs):
    blind = copy.deepcopy(text_nb)
    for ref in walk(blind):
        if ref.replaceable and ref.dtype == np.float64 and ref.attr != "classes_":
            ref.replace(ref.values().astype(np.float16))
    drift = np.abs(blind.predict_proba(docs) - text_nb.predict_proba(docs)).max()
    assert drift > 1e-3
    result = prune_model(copy.deepcopy(text_nb), PruneOptions())
    held = {c.path: c for c in result.changes if c.action == "held back"}
    assert "steps.multinomialnb.feature_log_prob_" in held
    assert "feature_log_prob_" in held["steps.multinomialnb.feature_log_prob_"].reason or \
        "predict" in held["steps.multinomialnb.feature_log_prob_"].reason
    # arrays predict never reads can go to float16
    cast16 = {c.path for c in result.changes if c.dtype_after == "float16"}
    assert "steps.multinomialnb.feature_count_" in cast16
    new = result.model.predict_proba(docs)
    assert np.abs(new - text_nb.predict_proba(docs)).max() <= 1e-3
    np.testing.assert_array_equal(result.model.predict(docs), text_nb.predict(docs))
    from skprune_cli.fidelity.probes import synthesize

    minimal_hold_back({"original": text_nb, "pruned": result.model}, list(held.values()), synthesize(text_nb).X)


def test_report_names_held_back_arrays(runner, tmp_path, text_nb):
    source = save(text_nb, tmp_path / "nb.skops")
    result = run(runner, "shrink", source, "-o", tmp_path / "lite.skops")
    assert result.exit_code == 0, result.stderr
    assert "held back" in result.stdout and "feature_log_prob_" in result.stdout
    doc = json.loads(run(runner, "shrink", source, "-o", tmp_path / "l2.skops", "--json").stdout)
    held = [a for a in doc["arrays"] if a["action"] == "held back"]
    assert held and all(a["reason"] for a in held)
    assert doc["check"]["passed"] is True and doc["check"]["schema"] == "skprune.check/1"


def test_no_check_applies_rules_blindly(runner, tmp_path, text_nb):
    source = save(text_nb, tmp_path / "nb.skops")
    doc = json.loads(run(runner, "shrink", source, "--dry-run", "--json", "--no-check", "--preset", "float16").stdout)
    entry = next(a for a in doc["arrays"] if a["path"] == "steps.multinomialnb.feature_log_prob_")
    assert entry["dtype_after"] == "float16" and doc["check"] is None
    doc = json.loads(run(runner, "shrink", source, "--dry-run", "--json", "--no-check").stdout)
    entry = next(a for a in doc["arrays"] if a["path"] == "steps.multinomialnb.feature_log_prob_")
    assert entry["dtype_after"] == "float32"  # auto without a check means float32


def test_tolerance_option_moves_the_line(runner, tmp_path, text_nb):
    source = save(text_nb, tmp_path / "nb.skops")
    loose = json.loads(run(runner, "shrink", source, "--dry-run", "--json", "--tolerance", "0.5",
                           "--label-tolerance", "0.5").stdout)
    entry = next(a for a in loose["arrays"] if a["path"] == "steps.multinomialnb.feature_log_prob_")
    assert entry["dtype_after"] == "float16"
    bad = run(runner, "shrink", source, "--dry-run", "--tolerance", "-1")
    assert bad.exit_code == 2


class Flaky(BaseEstimator, ClassifierMixin):
    """Never deterministic: no pruned model can pass."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.weights_ = np.linspace(0, 1, X.shape[1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        p = np.random.default_rng().random((len(X), len(self.classes_)))
        return p / p.sum(axis=1, keepdims=True)


def test_exact_only_failure_exits_1_and_writes_nothing(runner, tmp_path, iris):
    X, y = iris
    source = tmp_path / "flaky.pkl"
    source.write_bytes(pickle.dumps(Flaky().fit(X, y)))
    out = tmp_path / "out.pkl"
    result = run(runner, "shrink", source, "-o", out, "--trust", "test_check.Flaky")
    assert result.exit_code == 1
    assert "exact-only model fails" in result.stderr and str(source) not in result.stdout
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["flaky.pkl"]


def test_check_uses_user_data(runner, tmp_path, logreg, iris):
    X = iris[0]
    source = save(logreg, tmp_path / "m.skops")
    np.save(tmp_path / "rows.npy", X)
    result = run(runner, "shrink", source, "-o", tmp_path / "lite.skops", "--data", tmp_path / "rows.npy", "--json")
    doc = json.loads(result.stdout)
    assert doc["check"]["data_source"] == "150 rows from rows.npy" and doc["check"]["rows"] == 150
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, X[:, :2])
    bad = run(runner, "shrink", source, "-o", tmp_path / "x.skops", "--data", wrong)
    assert bad.exit_code == 2 and "2 columns but the model expects 4" in bad.stderr
    assert not (tmp_path / "x.skops").exists()


def test_candidate_restores_values_exactly():
    from skprune_cli.plan import decide
    from skprune_cli.rules import rule_table
    from sklearn.linear_model import Ridge

    model = Ridge()
    model.coef_ = np.array([1 / 3, 2 / 3, 1e-9])
    (ref,) = walk(model)
    candidate = Candidate(decide(ref, rule_table("float16")))
    candidate.take_rung()
    assert model.coef_.dtype == np.float16
    candidate.take_safe()
    assert model.coef_.dtype == np.float64 and model.coef_[0] == 1 / 3


def test_loads_after_checked_shrink(tmp_path, runner):
    X, y, _, X_test = data()
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    source = save(hgb, tmp_path / "hgb.skops")
    out = tmp_path / "lite.skops"
    assert run(runner, "shrink", source, "-o", out, "--trust", HGB_TRUST[0]).exit_code == 0
    np.testing.assert_array_equal(load_plain(out, HGB_TRUST).predict(X_test), hgb.predict(X_test))
    assert sio.get_untrusted_types(file=out) == HGB_TRUST


def test_bundles_are_pruned_and_checked_estimator_by_estimator(runner, tmp_path, logreg, text_nb, iris, docs):
    bundle = {"numbers": logreg, "words": text_nb, "threshold": 0.5}
    source = tmp_path / "bundle.pkl"
    source.write_bytes(pickle.dumps(bundle))
    out = tmp_path / "lite.pkl"
    result = run(runner, "shrink", source, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    methods = {m["method"] for m in doc["check"]["methods"]}
    assert {"numbers.predict_proba", "words.predict_proba"} <= methods
    assert "numbers:" in doc["check"]["data_source"] and "words:" in doc["check"]["data_source"]
    assert any(a["dtype_after"] == "float16" for a in doc["arrays"])
    lite = load_plain(out)
    assert lite["threshold"] == 0.5
    np.testing.assert_array_equal(lite["numbers"].predict(iris[0]), logreg.predict(iris[0]))
    np.testing.assert_array_equal(lite["words"].predict(docs), text_nb.predict(docs))


def test_a_pipeline_reads_the_probe_documents_once_per_check(docs):
    """predict, predict_proba and predict_log_proba share one vectoriser pass; the outputs are the
    pipeline's own, and a changed final step is still caught."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    calls = []

    class Counting(CountVectorizer):
        def transform(self, raw_documents):
            calls.append(len(raw_documents))
            return super().transform(raw_documents)

    model = make_pipeline(Counting(), MultinomialNB()).fit(docs, np.arange(len(docs)) % 3)
    reference = reference_outputs(model, docs, "docs")
    assert len(calls) == 1 and {"predict", "predict_proba", "predict_log_proba"} <= set(reference.outputs)
    np.testing.assert_array_equal(reference.outputs["predict_proba"], model.predict_proba(docs))
    np.testing.assert_array_equal(reference.outputs["predict"], model.predict(docs))
    calls.clear()
    assert check_against(reference, model).passed and len(calls) == 1
    changed = copy.deepcopy(model)
    changed[-1].feature_log_prob_ = changed[-1].feature_log_prob_.astype(np.float16).astype(np.float64)
    report = check_against(reference, changed, tolerance=1e-6)
    assert not report.passed and "predict_proba" in {m.method for m in report.methods if m.status == "mismatch"}
