"""A zoo of fitted scikit-learn estimators for sweeps, built from ``all_estimators``.

Every classifier, regressor, transformer and clusterer that fits on a small
numeric dataset is built with its defaults (meta-estimators get a small base
estimator) and fitted. Held-out rows, drawn from the same distribution but
never seen by fit or by skprune's probes, are returned for comparisons.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, is_classifier
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import all_estimators

OUTPUT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform", "score_samples")
N_FEATURES = 6
SKIP = {
    # needs a fitted estimator or special input, not a numeric table
    "FrozenEstimator", "SparseCoder", "DictVectorizer", "FeatureHasher", "HashingVectorizer",
    "CountVectorizer", "TfidfVectorizer", "TfidfTransformer", "LabelBinarizer", "LabelEncoder",
    "MultiLabelBinarizer", "IsotonicRegression", "PatchExtractor", "ColumnTransformer",
    "FeatureUnion", "Pipeline", "TransformedTargetRegressor",
}


@dataclass
class Fitted:
    name: str
    estimator: Any
    X_test: np.ndarray


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Non-negative features (NB, chi2 and NMF need them), 3 classes, and a real target."""
    X, y = make_classification(
        n_samples=300, n_features=N_FEATURES, n_informative=4, n_redundant=0, n_classes=3,
        n_clusters_per_class=1, random_state=seed,
    )
    X = X - X.min(axis=0) + 0.5
    X_train, X_test = X[:200], X[200:]
    y_cls = y[:200]
    y_reg = X_train @ np.array([1.5, -2.0, 0.5, 3.0, 0.0, 1.0]) + 0.1 * np.sin(7 * X_train[:, 0])
    return X_train, y_cls, y_reg, X_test


def _params(cls: type) -> dict[str, Any]:
    classifier = issubclass(cls, ClassifierMixin)
    base = LogisticRegression(max_iter=500) if classifier else Ridge()
    tree = DecisionTreeClassifier(max_depth=4, random_state=0) if classifier else DecisionTreeRegressor(max_depth=4, random_state=0)
    out: dict[str, Any] = {}
    signature = inspect.signature(cls.__init__)
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is not param.empty and name != "estimators":
            continue
        if name in ("estimator", "base_estimator"):
            out[name] = base
        elif name == "estimators":
            if "Stacking" in cls.__name__ or "Voting" in cls.__name__:
                out[name] = [("lin", base), ("tree", tree)]
        elif name == "param_grid":
            out[name] = {"alpha": [0.1, 1.0]} if not classifier else {"C": [0.1, 1.0]}
        elif name == "param_distributions":
            out[name] = {"alpha": [0.1, 1.0]} if not classifier else {"C": [0.1, 1.0]}
    if "n_iter" in signature.parameters and "Randomized" in cls.__name__:
        out["n_iter"] = 2
    if "random_state" in signature.parameters:
        out["random_state"] = 0
    if "n_components" in signature.parameters and cls.__name__ in ("TSNE", "Isomap", "LocallyLinearEmbedding"):
        out["n_components"] = 2
    if "RandomProjection" in cls.__name__:
        out["n_components"] = 3
    if cls.__name__ == "SelfTrainingClassifier":
        out["estimator"] = LogisticRegression(max_iter=500)
    return out


def candidates() -> list[tuple[str, type]]:
    kinds = ["classifier", "regressor", "transformer", "cluster"]
    seen: dict[str, type] = {}
    for kind in kinds:
        for name, cls in all_estimators(type_filter=kind):
            if name not in SKIP:
                seen[name] = cls
    return sorted(seen.items())


def _targets(est: Any) -> list[Any]:
    """Targets to try, most natural first: estimators differ in what they accept."""
    _, y_cls, y_reg, _ = data()
    binary = (y_cls == 0).astype(int)
    multilabel = np.column_stack([y_cls == 0, y_cls == 1, y_cls == 2]).astype(int)
    two_targets = np.column_stack([y_reg, -0.5 * y_reg + y_cls])
    first = [y_cls] if is_classifier(est) else [y_reg, y_cls]
    return [*first, two_targets, binary, multilabel, None]


def _fit(name: str, cls: type) -> Fitted | None:
    X, _, _, X_test = data()
    for y in _targets(cls(**_params(cls))):
        est = cls(**_params(cls))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est.fit(X) if y is None else est.fit(X, y)
            except Exception:  # noqa: BLE001 - try the next kind of target
                continue
        return Fitted(name, est, X_test)
    return None


@lru_cache(maxsize=1)
def fitted_zoo() -> tuple[Fitted, ...]:
    """Every estimator that fits here, fitted once per test session."""
    out = []
    for name, cls in candidates():
        fitted = _fit(name, cls)
        if fitted is not None:
            out.append(fitted)
    return tuple(out)


def outputs(estimator: Any, X: np.ndarray) -> dict[str, Any]:
    """Every output method's result, or the exception type it raised."""
    result: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in OUTPUT_METHODS:
            if not hasattr(estimator, method):
                continue
            try:
                value = getattr(estimator, method)(X)
                result[method] = value.toarray() if sp.issparse(value) else np.asarray(value)
            except Exception as exc:  # noqa: BLE001 - recorded, compared by the caller
                result[method] = exc
    return result


def dense(values: Any) -> np.ndarray:
    return np.asarray(values.toarray() if sp.issparse(values) else values)


def relative_error(ref: Any, new: Any) -> float:
    """``max|new - ref| / max|ref|`` over finite reference values; equal infinities count as equal."""
    ref = dense(ref).astype(np.float64)
    new = dense(new).astype(np.float64)
    scale = np.abs(ref[np.isfinite(ref)]).max(initial=0.0)
    with np.errstate(invalid="ignore"):
        diff = np.where((ref == new) | (np.isnan(ref) & np.isnan(new)), 0.0, np.abs(new - ref))
    diff[np.isnan(diff)] = np.inf
    err = diff.max(initial=0.0)
    return float(err / scale) if scale > 0 else float(err)
