"""Inputs synthesised from the fitted model itself, for checking without user data.

The model knows a lot about its inputs: scalers store means and spreads,
trees store the split values, KNN/SVC/GP store training samples, a text
vectoriser stores its vocabulary, encoders store their categories. Probes mix
what is there so both sides of splits and the populated regions are covered;
with nothing to go on, a standard normal of ``n_features_in_`` columns (or its
absolute value, for models that need non-negative input) is used. The first
candidate on which the original model runs is kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.tree._tree import Tree

from ..estimators.registry import sample_attributes
from .compare import available_methods, run_method
from ..walk import walk

N_PROBES = 512


@dataclass
class Probes:
    X: Any
    source: str


def input_stage(model: Any) -> Any:
    """The estimator that sees raw input: a pipeline's first step, a search's best estimator..."""
    seen = set()
    while id(model) not in seen:
        seen.add(id(model))
        steps = getattr(model, "steps", None)
        if isinstance(steps, list) and steps:
            model = steps[0][1]
            continue
        for attr in ("best_estimator_", "estimator_"):
            inner = getattr(model, attr, None)
            if inner is not None and hasattr(inner, "fit"):
                model = inner
                break
        else:
            return model
    return model


def _text_probes(vectorizer: Any, rng: np.random.Generator, n: int) -> Probes | None:
    vocabulary = getattr(vectorizer, "vocabulary_", None)
    if not isinstance(vocabulary, dict) or not vocabulary or not hasattr(vectorizer, "build_analyzer"):
        return None
    words = np.array(sorted(vocabulary, key=vocabulary.__getitem__), dtype=object)
    docs = []
    for _ in range(n):
        k = int(rng.integers(5, 80))
        docs.append(" ".join(words[rng.integers(0, len(words), size=k)]))
    return Probes(docs, f"{n} documents drawn from the {len(words)}-entry vocabulary of {type(vectorizer).__name__}")


def _n_features(model: Any, stage: Any) -> int | None:
    for obj in (stage, model):
        n = getattr(obj, "n_features_in_", None)
        if isinstance(n, (int, np.integer)):
            return int(n)
    return None


def _scaler_columns(stage: Any, n_features: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre, spread) per column from a scaler at the input stage."""
    pairs = (("mean_", "scale_"), ("center_", "scale_"))
    for centre_attr, spread_attr in pairs:
        centre, spread = getattr(stage, centre_attr, None), getattr(stage, spread_attr, None)
        if isinstance(centre, np.ndarray) and centre.shape == (n_features,):
            spread = spread if isinstance(spread, np.ndarray) and spread.shape == (n_features,) else np.ones(n_features)
            return centre.astype(float), np.where(spread > 0, spread, 1.0).astype(float)
    lo, hi = getattr(stage, "data_min_", None), getattr(stage, "data_max_", None)
    if isinstance(lo, np.ndarray) and isinstance(hi, np.ndarray) and lo.shape == (n_features,):
        return (lo + hi) / 2.0, np.maximum((hi - lo) / 3.5, 1e-12)
    scale = getattr(stage, "max_abs_", None)
    if isinstance(scale, np.ndarray) and scale.shape == (n_features,):
        return np.zeros(n_features), np.where(scale > 0, scale / 2, 1.0)
    return None


def _stored_samples(stage: Any, n_features: int) -> np.ndarray | None:
    """Rows the registry says are points in input space (training samples, centres, means)."""
    for attr, _ in sample_attributes(stage):
        value = getattr(stage, attr, None)
        if isinstance(value, np.ndarray) and value.shape == (n_features,):
            value = value[None, :]  # a single centre, e.g. a covariance estimator's location_
        if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == n_features and value.shape[0] > 0:
            if value.dtype.kind == "f" and np.isfinite(value).all():
                return value.astype(float)
    return None


def _around_samples(samples: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points on and between stored samples (class boundaries lie between them), with noise."""
    first = samples[rng.integers(0, len(samples), size=n)]
    second = samples[rng.integers(0, len(samples), size=n)]
    weight = rng.uniform(-0.25, 1.25, size=(n, 1))
    spread = samples.std(axis=0) if len(samples) > 1 else np.abs(samples[0])
    spread = np.where(spread > 0, spread, 1.0)
    return weight * first + (1 - weight) * second + rng.normal(0.0, 0.1, size=first.shape) * spread


def _thresholds(stage: Any, n_features: int) -> list[np.ndarray] | None:
    """Split values per input feature, from trees and HistGradientBoosting bins at the input stage."""
    per_feature: list[list[np.ndarray]] = [[] for _ in range(n_features)]
    found = False
    mapper = getattr(stage, "_bin_mapper", None)
    for j, edges in enumerate(getattr(mapper, "bin_thresholds_", None) or []):
        if j < n_features and len(edges):
            per_feature[j].append(np.asarray(edges, dtype=float))
            found = True
    for ref in walk(stage):
        if isinstance(ref.owner, Tree) and ref.attr == "nodes" and ref.owner.n_features == n_features:
            nodes = ref.array
            inner = nodes["left_child"] >= 0
            for j in np.unique(nodes["feature"][inner]):
                per_feature[int(j)].append(nodes["threshold"][inner & (nodes["feature"] == j)])
                found = True
    if not found:
        return None
    return [np.unique(np.concatenate(parts)) if parts else np.empty(0) for parts in per_feature]


def _informed(model: Any, stage: Any, n_features: int, n: int, rng: np.random.Generator) -> Probes | None:
    """Rows built from what the model knows about its inputs, or None if it knows nothing."""
    scaler = _scaler_columns(stage, n_features)
    samples = _stored_samples(stage, n_features)
    thresholds = _thresholds(stage, n_features)
    parts: list[np.ndarray] = []
    sources: list[str] = []
    if scaler is not None:
        centre, spread = scaler
        parts.append(rng.normal(centre, spread, size=(n, n_features)))
        sources.append(f"{type(stage).__name__} statistics")
    if samples is not None:
        parts.append(_around_samples(samples, n, rng))
        sources.append(f"stored samples of {type(stage).__name__}")
    if thresholds is not None:
        base = parts[0].copy() if parts else rng.normal(size=(n, n_features)) * _scales(n, rng)
        for j, values in enumerate(thresholds):
            if len(values):
                picks = values[rng.integers(0, len(values), size=n)]
                # a hair below or above each split value, so both branches are taken
                base[:, j] = np.where(rng.random(n) < 0.5, np.nextafter(picks, -np.inf), np.nextafter(picks, np.inf))
        parts.append(base)
        sources.append("split values of its trees")
    if not parts:
        return None
    mixed = np.concatenate(parts)[rng.permutation(n * len(parts))[:n]]
    return Probes(mixed, f"{n} rows from " + " + ".join(sources))


def _scales(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat([1.0, 3.0, 10.0], -(-n // 3))[:n])[:, None]


def _generic(n_features: int, n: int, rng: np.random.Generator) -> list[Probes]:
    """Nothing known about the inputs: normals at scales 1, 3 and 10, so outputs are probed near
    their decision boundaries and far out; non-negative variants for models (naive Bayes, NMF,
    chi2 selectors) that refuse negative input."""
    signed = rng.normal(size=(n, n_features)) * _scales(n, rng)
    return [
        Probes(signed, f"{n} rows of normals at scales 1, 3 and 10"),
        Probes(np.abs(signed) + 1e-3, f"{n} rows of folded normals at scales 1, 3 and 10"),
        Probes(rng.integers(0, 4, size=(n, n_features)).astype(float), f"{n} rows of small non-negative integers"),
    ]


def _category_probes(stage: Any, n: int, rng: np.random.Generator) -> Probes | None:
    categories = getattr(stage, "categories_", None)
    if not isinstance(categories, list) or not categories:
        return None
    columns = [np.asarray(c)[rng.integers(0, len(c), size=n)] for c in categories if len(c)]
    if len(columns) != len(categories):
        return None
    numeric = all(c.dtype.kind in "iuf" for c in columns)
    X = np.column_stack(columns).astype(float if numeric else object)
    return Probes(X, f"{n} rows drawn from the categories of {type(stage).__name__}")


def _methods_that_run(model: Any, X: Any) -> int:
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in available_methods(model):
            try:
                run_method(model, method, X[:8])
                count += 1
            except Exception:  # noqa: BLE001 - counted as not running
                pass
    return count


def synthesize(model: Any, n: int = N_PROBES, seed: int = 0) -> Probes | None:
    """Probe inputs on which the original model runs.

    Text and category probes stand alone. Numeric probes combine what the model
    knows about its inputs with the first generic set that it accepts, so a
    statistic that covers only part of the input space is never the only test.
    """
    rng = np.random.default_rng(seed)
    stage = input_stage(model)
    wanted = len(available_methods(model))
    if wanted == 0:
        return None
    for special in (_text_probes(stage, rng, n), _category_probes(stage, n, rng)):
        if special is not None and _methods_that_run(model, special.X) == wanted:
            return special
    n_features = _n_features(model, stage)
    if n_features is None:
        return None
    informed = _informed(model, stage, n_features, n, rng)
    chosen = [informed] if informed is not None and _methods_that_run(model, informed.X) == wanted else []
    best, best_count = None, 0
    for candidate in _generic(n_features, n, rng):
        count = _methods_that_run(model, candidate.X)
        if count == wanted:
            chosen.append(candidate)
            break
        if count > best_count:
            best, best_count = candidate, count
    if not chosen:
        return best
    X = np.concatenate([c.X for c in chosen])
    return Probes(X, " and ".join(c.source for c in chosen) + f" ({n_features} columns)")
