"""Training-only attributes: removed by default, listed in the report, kept with --keep.

Each registry entry is exercised: the attribute is gone, every output method
gives the same result as before, and ``check_is_fitted`` still passes.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest
from sklearn.ensemble import (
    BaggingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LarsCV, LassoCV, LogisticRegressionCV, RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_is_fitted

from conftest import save
from skprune_cli.cli import app
from skprune_cli.pruning import PruneOptions, prune_model
from zoo import data, outputs

X, y, y_reg, X_test = data()

# first owner of the registry entry -> (factory, target, attributes it must remove)
DROPS = {
    "LogisticRegressionCV": (lambda: LogisticRegressionCV(Cs=3, cv=3, max_iter=300), y, ["coefs_paths_", "scores_"]),
    "BaseSearchCV": (lambda: GridSearchCV(RidgeCV(), {"fit_intercept": [True, False]}, cv=3), y_reg, ["cv_results_"]),
    "LinearModelCV": (lambda: LassoCV(cv=3), y_reg, ["mse_path_"]),
    "Lars": (lambda: LarsCV(cv=3), y_reg, ["coef_path_", "mse_path_", "cv_alphas_"]),
    "BaseForest": (lambda: RandomForestClassifier(10, oob_score=True, random_state=0), y, ["oob_decision_function_"]),
    "BaseGradientBoosting": (lambda: GradientBoostingRegressor(n_estimators=20, subsample=0.8, random_state=0), y_reg,
                             ["train_score_", "oob_improvement_", "oob_scores_"]),
    "BaseHistGradientBoosting": (lambda: HistGradientBoostingClassifier(max_iter=10, early_stopping=True,
                                                                        validation_fraction=0.2, random_state=0),
                                 y, ["train_score_", "validation_score_"]),
    "BaseMultilayerPerceptron": (lambda: MLPClassifier((16,), max_iter=200, early_stopping=True, random_state=0), y,
                                 ["loss_curve_", "validation_scores_", "_optimizer", "_best_coefs", "_best_intercepts"]),
}


@pytest.mark.parametrize("owner", sorted(DROPS))
def test_training_only_attributes_go_and_nothing_changes(owner):
    factory, target, attrs = DROPS[owner]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = factory().fit(X, target)
    for attr in attrs:
        assert hasattr(model, attr), attr
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    for attr in attrs:
        assert not hasattr(result.model, attr), attr
    assert {d.path for d in result.dropped} >= set(attrs)
    assert all(d.reason.startswith("training only:") for d in result.dropped)
    check_is_fitted(result.model)
    before, after = outputs(model, X_test), outputs(result.model, X_test)
    for method, ref in before.items():
        if not isinstance(ref, Exception):
            np.testing.assert_array_equal(after[method], ref, err_msg=method)


def test_bagging_oob_is_dropped():
    model = BaggingClassifier(n_estimators=8, oob_score=True, random_state=0).fit(X, y)
    result = prune_model(copy.deepcopy(model), PruneOptions(preset="exact"))
    assert not hasattr(result.model, "oob_decision_function_") and hasattr(result.model, "oob_score_")


def test_stop_words_of_old_vectorizers_are_dropped(docs):
    vectorizer = TfidfVectorizer(max_df=0.5).fit(docs)
    vectorizer.stop_words_ = {"the", "a"}  # what sklearn < 1.5 left behind
    result = prune_model(vectorizer, PruneOptions(preset="exact", check=False))
    assert not hasattr(result.model, "stop_words_")
    assert [d.path for d in result.dropped] == ["stop_words_"]


def test_cli_reports_keeps_and_excludes(runner, tmp_path):
    model = LogisticRegressionCV(Cs=3, cv=3, max_iter=300).fit(X, y)
    source = save(model, tmp_path / "lrcv.skops")
    doc = json.loads(runner.invoke(app, ["shrink", str(source), "--dry-run", "--json"]).stdout)
    assert {d["path"] for d in doc["dropped"]} == {"coefs_paths_", "scores_"}
    assert all(d["bytes"] > 0 and d["reason"] for d in doc["dropped"])
    kept = json.loads(runner.invoke(app, ["shrink", str(source), "--dry-run", "--json", "--keep", "scores_"]).stdout)
    assert {d["path"] for d in kept["dropped"]} == {"coefs_paths_"}
    excluded = json.loads(runner.invoke(app, ["shrink", str(source), "--dry-run", "--json",
                                              "--exclude", "n_iter_"]).stdout)
    assert "n_iter_" in {d["path"] for d in excluded["dropped"]}
    assert any("--exclude" in d["reason"] for d in excluded["dropped"])


def test_excluding_something_needed_fails_the_check(runner, tmp_path):
    model = LogisticRegressionCV(Cs=3, cv=3, max_iter=300).fit(X, y)
    source = save(model, tmp_path / "lrcv.skops")
    out = tmp_path / "out.skops"
    result = runner.invoke(app, ["shrink", str(source), "-o", str(out), "--exclude", "coef_"])
    assert result.exit_code == 1 and "exact-only model fails" in result.stderr
    assert not out.exists()
