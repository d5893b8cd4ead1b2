"""Probe rows at, between and just beside every value a model splits, bins or interpolates on.

Trees split on thresholds; HistGradientBoosting bins on its bin thresholds;
QuantileTransformer interpolates on ``quantiles_``, KBinsDiscretizer bins on
``bin_edges_``, SplineTransformer evaluates B-splines on knots, an
IsotonicRegression interpolates on ``X_thresholds_``. A cast that moves or
merges such points changes outputs only for inputs near them, which random
rows almost never hit. Knots are found by a generic rule rather than a list:
sorted float arrays of the input stage, one per input feature (a column of a
2-D array, an item of a per-feature list, a spline's ``t``), or a sorted 1-D
array of a one-feature model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.tree._tree import Tree

from ...walk import walk

MIN_KNOTS = 3


def _sorted_1d(value: Any) -> np.ndarray | None:
    knots = getattr(value, "t", value)  # a BSpline's knots
    if isinstance(knots, np.ndarray) and knots.ndim == 1 and knots.dtype.kind == "f" and len(knots) >= MIN_KNOTS:
        finite = knots[np.isfinite(knots)]
        if len(finite) >= MIN_KNOTS and np.all(np.diff(finite) >= 0):
            return finite.astype(float)
    return None


def _knots(stage: Any, n_features: int) -> tuple[list[list[np.ndarray]], list[str]]:
    """Sorted float arrays owned by the input stage, per input feature."""
    per_feature: list[list[np.ndarray]] = [[] for _ in range(n_features)]
    names: list[str] = []
    for attr, value in vars(stage).items():
        if not attr.endswith("_") or attr.startswith(("__", "y_")):  # y_*: output-side values
            continue
        found = False
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.ndim == 2:
            if value.shape[1] == n_features and value.shape[0] >= MIN_KNOTS and np.all(np.diff(value, axis=0) >= 0):
                for j in range(n_features):
                    per_feature[j].append(value[:, j].astype(float))
                found = True
        elif n_features == 1 and _sorted_1d(value) is not None:
            per_feature[0].append(_sorted_1d(value))  # type: ignore[arg-type]
            found = True
        elif isinstance(value, (list, tuple, np.ndarray)) and len(value) == n_features and n_features:
            items = [_sorted_1d(v) for v in (value if not isinstance(value, np.ndarray) or value.dtype == object else [])]
            if items and all(k is not None for k in items):
                for j, k in enumerate(items):
                    per_feature[j].append(k)  # type: ignore[arg-type]
                found = True
        if found:
            names.append(attr)
    return per_feature, names


def _split_values(stage: Any, n_features: int, per_feature: list[list[np.ndarray]]) -> list[str]:
    sources = []
    mapper = getattr(stage, "_bin_mapper", None)
    for j, edges in enumerate(getattr(mapper, "bin_thresholds_", None) or []):
        if j < n_features and len(edges):
            per_feature[j].append(np.asarray(edges, dtype=float))
            sources = ["bin thresholds"]
    found = False
    for ref in walk(stage):
        if isinstance(ref.owner, Tree) and ref.attr == "nodes" and ref.owner.n_features == n_features:
            nodes = ref.array
            inner = nodes["left_child"] >= 0
            for j in np.unique(nodes["feature"][inner]):
                per_feature[int(j)].append(nodes["threshold"][inner & (nodes["feature"] == j)])
                found = True
    return sources + (["split values of its trees"] if found else [])


def input_grids(stage: Any, n_features: int) -> tuple[list[np.ndarray], str] | None:
    """Per input feature, the sorted distinct values the input stage splits, bins or interpolates on."""
    per_feature, knot_names = _knots(stage, n_features)
    sources = _split_values(stage, n_features, per_feature)
    if knot_names:
        sources.append(f"knots of {type(stage).__name__} ({', '.join(knot_names)})")
    if not sources:
        return None
    grids = [np.unique(np.concatenate(parts)) if parts else np.empty(0) for parts in per_feature]
    return grids, " + ".join(sources)


def near(values: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Points at, a hair below or above, between, and just beside the given sorted values."""
    index = rng.integers(0, len(values), size=size)
    at = values[index]
    after = values[np.minimum(index + 1, len(values) - 1)]
    gap = np.where(after > at, after - at, np.maximum(np.abs(at), 1.0))
    kind = rng.integers(0, 5, size=size)
    beside = at + rng.choice([-1.0, 1.0], size=size) * gap * 10.0 ** rng.uniform(-6, -2, size=size)
    return np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [at, np.nextafter(at, -np.inf), np.nextafter(at, np.inf), (at + after) / 2],
        beside,
    )


def grid_rows(base: np.ndarray, grids: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``base`` with every gridded column moved near one of its grid values."""
    rows = base.copy()
    for j, values in enumerate(grids):
        if len(values):
            rows[:, j] = near(values, len(rows), rng)
    return rows
