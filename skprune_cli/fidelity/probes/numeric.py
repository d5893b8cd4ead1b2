"""Numeric probe rows from what the model knows about its inputs.

Scalers store means and spreads; KNN, SVC, GP and k-means store training
samples or centres (the registry's ``input-samples``). Stored samples are used
as they are (exact duplicates give exact ties between distances), around and
between each other, and, where they are integer-valued (pixel counts, word
counts), on the integer grid of their range with cells moved by one: real
integer data is full of equal distances, and a cast that changes which
neighbour wins a tie shows only on such rows. Only sampled rows are ever
copied, so a 50k-row ``_fit_X`` costs a few hundred KB here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...estimators.registry import sample_attributes
from .common import take_rows

STAT_ROWS = 2000  # rows sampled to estimate spreads and integrality of stored samples
MAX_INTEGER_RANGE = 4096


def scaler_columns(stage: Any, n_features: int) -> tuple[np.ndarray, np.ndarray] | None:
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


def stored_samples(stage: Any, n_features: int) -> np.ndarray | None:
    """Rows the registry says are points in input space (training samples, centres, means), not copied."""
    for attr, _ in sample_attributes(stage):
        value = getattr(stage, attr, None)
        if isinstance(value, np.ndarray) and value.shape == (n_features,):
            value = value[None, :]  # a single centre, e.g. a covariance estimator's location_
        if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == n_features and value.shape[0] > 0:
            if value.dtype.kind in "fiu" and np.isfinite(value[: STAT_ROWS]).all():
                return value
    return None


def around_samples(samples: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points on and between stored samples (class boundaries lie between them), with noise."""
    first, second = take_rows(samples, n, rng), take_rows(samples, n, rng)
    weight = rng.uniform(-0.25, 1.25, size=(n, 1))
    spread = take_rows(samples, min(len(samples), STAT_ROWS), rng).std(axis=0) if len(samples) > 1 else np.abs(first[0])
    spread = np.where(spread > 0, spread, 1.0)
    return weight * first + (1 - weight) * second + rng.normal(0.0, 0.1, size=first.shape) * spread


def exact_samples(samples: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Stored samples as they are, some of them twice: exact duplicates and exact ties."""
    pool = take_rows(samples, n - n // 4, rng)
    rows = np.concatenate([pool, pool[: n // 4]])
    return rows


def integer_rows(samples: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Integer-valued samples: rows on the integer grid of the stored range, and stored rows with
    a few cells moved by one (many equal distances, as in real integer data); None otherwise."""
    sample = take_rows(samples, min(len(samples), STAT_ROWS), rng)
    if not np.array_equal(sample, np.round(sample)):
        return None
    lo, hi = sample.min(axis=0), sample.max(axis=0)
    if float((hi - lo).max(initial=0)) > MAX_INTEGER_RANGE:
        return None
    half = n // 2
    grid = np.floor(rng.uniform(lo, hi + 1, size=(half, samples.shape[1])))
    moved = take_rows(samples, n - half, rng)
    cells = rng.random(moved.shape) < min(1.0, 3.0 / samples.shape[1])
    moved = np.clip(moved + cells * rng.choice([-1.0, 1.0], size=moved.shape), lo, hi)
    return np.concatenate([np.minimum(grid, hi), moved])


def scales(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat([1.0, 3.0, 10.0], -(-n // 3))[:n])[:, None]


def informed_parts(stage: Any, n_features: int, n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """Row sets built from what the input stage knows, each with its source."""
    parts: list[tuple[np.ndarray, str]] = []
    scaler = scaler_columns(stage, n_features)
    if scaler is not None:
        centre, spread = scaler
        parts.append((rng.normal(centre, spread, size=(n, n_features)), f"{type(stage).__name__} statistics"))
    samples = stored_samples(stage, n_features)
    if samples is not None:
        name = type(stage).__name__
        parts.append((around_samples(samples, n, rng), f"rows around and between stored samples of {name}"))
        parts.append((exact_samples(samples, n, rng), f"stored samples of {name} as they are"))
        grid = integer_rows(samples, n, rng)
        if grid is not None:
            parts.append((grid, "integer grid of the stored range"))
    return parts


def generic(n_features: int, n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """Nothing known about the inputs: normals at scales 1, 3 and 10, so outputs are probed near
    their decision boundaries and far out; non-negative variants for models (naive Bayes, NMF,
    chi2 selectors) that refuse negative input."""
    signed = rng.normal(size=(n, n_features)) * scales(n, rng)
    return [
        (signed, f"{n} rows of normals at scales 1, 3 and 10"),
        (np.abs(signed) + 1e-3, f"{n} rows of folded normals at scales 1, 3 and 10"),
        (rng.integers(0, 4, size=(n, n_features)).astype(float), f"{n} rows of small non-negative integers"),
    ]
