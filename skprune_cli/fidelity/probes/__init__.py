"""Inputs synthesised from the fitted model itself, for checking without user data.

The model knows a lot about its inputs, and probes are built to look like
real data, because real rows found what naive probes missed:

- ``text``: documents whose words follow the vocabulary's document frequencies;
- ``frames``: DataFrames with the fitted column names, categories and statistics;
- ``numeric``: scaler statistics, stored samples as they are and around each
  other, integer grids for integer-valued samples;
- ``grids``: rows at, between and beside every split value, bin edge and knot;
- ``boundary``: rows a hair on both sides of a classifier's decision boundary
  and of a calibrator's knots.

Numeric probes always include a generic set (multi-scale normals) the model
accepts, so a statistic that covers only part of the input space is never the
only test. Generation is bounded: only sampled rows of stored data are copied,
and boundary searches have a pair, iteration and time budget.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..compare import available_methods
from .boundary import BUDGET_SECONDS, boundary_rows, calibrator_rows
from .common import Probes, input_stage, methods_that_run
from .frames import PANDAS_HINT, Coded, Framed, columns_of, feature_names, frame_probes, pandas_or_none
from .grids import grid_rows, input_grids
from .numeric import generic, informed_parts, scales
from .text import text_probes

__all__ = ["Probes", "synthesize", "input_stage", "probe_gap", "N_PROBES"]

N_PROBES = 512


def _n_features(model: Any, stage: Any, wanted: int) -> int | None:
    for obj in (stage, model):
        n = getattr(obj, "n_features_in_", None)
        if isinstance(n, (int, np.integer)):
            return int(n)
    # a one-feature model that does not record its width (IsotonicRegression)
    return 1 if methods_that_run(model, np.linspace(-1.0, 1.0, 8)[:, None]) == wanted else None


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


def _mix(parts: list[tuple[np.ndarray, str]], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows with an equal share from every part."""
    share = -(-n // len(parts))
    rows = np.concatenate([p[rng.permutation(len(p))[:share]] for p, _ in parts])
    return rows[rng.permutation(len(rows))[:n]]


def _inner_grids(model: Any, n_features: int, base: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, str] | None:
    """Grids of a later pipeline step (trees after a scaler), reached through the steps before it
    when each of those can be inverted and keeps the width."""
    steps = getattr(model, "steps", None)
    if not isinstance(steps, list):
        return None
    for k in range(1, len(steps)):
        prefix = model[:k]
        if not all(hasattr(step, "inverse_transform") for _, step in steps[:k]):
            return None
        grids = input_grids(steps[k][1], n_features)
        if grids is None:
            continue
        try:
            inner = np.asarray(prefix.transform(base), dtype=float)
            rows = np.asarray(prefix.inverse_transform(grid_rows(inner, grids[0], rng)), dtype=float)
        except Exception:  # noqa: BLE001 - a step that cannot be inverted on these rows
            return None
        if rows.shape == base.shape and np.isfinite(rows).all():
            return rows, f"{grids[1]} of {steps[k][0]} (through the steps before it)"
    return None


def _informed(model: Any, stage: Any, n_features: int, n: int, rng: np.random.Generator) -> Probes | None:
    parts = informed_parts(stage, n_features, n, rng)
    base = parts[0][0] if parts else rng.normal(size=(n, n_features)) * scales(n, rng)
    grids = input_grids(stage, n_features)
    if grids is not None:
        parts.append((grid_rows(base, grids[0], rng), f"rows at, between and beside the {grids[1]}"))
    inner = _inner_grids(model, n_features, base, rng)
    if inner is not None:
        parts.append((inner[0], f"rows at, between and beside the {inner[1]}"))
    if not parts:
        return None
    return Probes(_mix(parts, n, rng), f"{n} rows from " + " + ".join(s for _, s in parts))


def _numeric(model: Any, runner: Any, stage: Any, n_features: int, n: int, wanted: int,
             rng: np.random.Generator) -> Probes | None:
    informed = _informed(model, stage, n_features, n, rng)
    chosen = [informed] if informed is not None and methods_that_run(runner, informed.X) == wanted else []
    best, best_count = None, 0
    for X, source in generic(n_features, n, rng):
        count = methods_that_run(runner, X)
        if count == wanted:
            chosen.append(Probes(X, source))
            break
        if count > best_count:
            best, best_count = Probes(X, source), count
    if not chosen:
        return best
    X = np.concatenate([c.X for c in chosen])
    source = " and ".join(c.source for c in chosen)
    for label, finder, target in (("rows a hair from its decision boundary", boundary_rows, runner),
                                  ("rows on and beside its calibrators' knots", calibrator_rows, model)):
        extra = finder(target, X, rng, time.monotonic() + BUDGET_SECONDS)
        if extra is not None and len(extra):
            extra = extra[: n // 2]
            if methods_that_run(runner, extra, rows=len(extra)) == wanted:
                X = np.concatenate([X, extra])
                source += f" + {len(extra)} {label}"
    return Probes(X, f"{source} ({n_features} columns)")


def synthesize(model: Any, n: int = N_PROBES, seed: int = 0) -> Probes | None:
    """Probe inputs on which the original model runs (None when none can be made)."""
    rng = np.random.default_rng(seed)
    stage = input_stage(model)
    wanted = len(available_methods(model))
    if wanted == 0:
        return None
    text = text_probes(model, stage, n, rng)
    if text is not None and methods_that_run(model, text.X) == wanted:
        return text
    names = feature_names(model)
    pd = pandas_or_none()
    runner: Any = model
    if names is not None and pd is not None:
        if any(c.is_text or c.categories is not None for c in columns_of(model, names)):
            framed = frame_probes(model, names, n, rng)
            if framed is not None:
                return _with_frame_boundary(model, framed, names, n, wanted, rng, pd)
        runner = Framed(model, names, pd)
    category = _category_probes(stage, n, rng)
    if category is not None and methods_that_run(model, category.X) == wanted:
        return category
    n_features = _n_features(model, stage, wanted)
    if n_features is None:
        return None
    probes = _numeric(model, runner, stage, n_features, n, wanted, rng)
    if probes is not None and isinstance(runner, Framed):
        probes = Probes(pd.DataFrame(probes.X, columns=names), f"DataFrame rows in the model's named columns: "
                                                                f"{probes.source}")
    return probes


def _with_frame_boundary(model: Any, probes: Probes, names: list[str], n: int, wanted: int,
                         rng: np.random.Generator, pd: Any) -> Probes:
    """DataFrame probes plus rows a hair from the decision boundary along the numeric columns."""
    columns = columns_of(model, names)
    coded = Coded(model, columns, pd)
    if coded.coded.all() or any(c.vectorizer is not None for c in columns):
        return probes
    extra = boundary_rows(coded, coded.encode(probes.X), rng, time.monotonic() + BUDGET_SECONDS, same=coded.coded)
    if extra is None or not len(extra):
        return probes
    rows = coded.frame(extra[: n // 2])
    if methods_that_run(model, rows, rows=len(rows)) != wanted:
        return probes
    return Probes(pd.concat([probes.X, rows], ignore_index=True),
                  f"{probes.source} + {len(rows)} rows a hair from its decision boundary")


def probe_gap(model: Any) -> str | None:
    """Why probes could not be made for ``model``, when the user can fix it (a missing extra)."""
    if feature_names(model) is not None and pandas_or_none() is None:
        return f"the model was fitted on a DataFrame and pandas is not installed: {PANDAS_HINT}"
    return None
