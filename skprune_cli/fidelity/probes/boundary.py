"""Rows right next to where an output jumps: a classifier's decision boundary, a calibrator's knots.

Real data has rows close to every boundary (of 3000 held-out rows, one sits
within ~1/3000 of the margin's spread), so a cast that moves a boundary by a
hair flips a real label. Random probes almost never land that close. Here,
for pairs of probe rows on either side of a boundary, the crossing point on
the segment between them is found by root finding on the model's own score
(regula falsi, exact in one step for linear models and through any affine
preprocessing such as a scaler in a pipeline; bisection on labels where no
score exists), and rows are placed at relative distances between 1e-5 and
1e-2 of the segment on both sides. For calibrated classifiers the same search
finds inputs whose base decision value lands on, and a hair beside, the
calibrator's interpolation knots. Work is bounded by pairs, iterations and a
time budget, on top of rows the model already ran on.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np

from .common import final_stage

MAX_PAIRS = 64
MAX_ITERATIONS = 48
BUDGET_SECONDS = 2.0
Score = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (rows, pair indices) -> signed score


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(fn(*args))


def crossings(score: Score, x1: np.ndarray, x2: np.ndarray, deadline: float) -> np.ndarray:
    """Per pair, the fraction ``s`` of the way from x1 to x2 where the score changes sign (NaN: none found)."""
    n = len(x1)
    every = np.arange(n)
    glo, ghi = score(x1, every), score(x2, every)
    root = np.full(n, np.nan)
    active = np.isfinite(glo) & np.isfinite(ghi) & (np.sign(glo) * np.sign(ghi) < 0)
    scale = np.maximum(np.abs(glo), np.abs(ghi))
    lo, hi = np.zeros(n), np.ones(n)
    for iteration in range(MAX_ITERATIONS):
        idx = np.flatnonzero(active & np.isnan(root))
        if not len(idx) or time.monotonic() > deadline:
            break
        if iteration % 2:  # a bisection step now and then guarantees progress on step functions
            s = (lo[idx] + hi[idx]) / 2
        else:
            s = (lo[idx] * ghi[idx] - hi[idx] * glo[idx]) / (ghi[idx] - glo[idx])
            s = np.clip(np.nan_to_num(s, nan=0.5), lo[idx], hi[idx])
        g = score(x1[idx] + s[:, None] * (x2[idx] - x1[idx]), idx)
        hit = np.abs(g) <= 1e-10 * scale[idx]
        root[idx[hit]] = s[hit]
        low_side = np.sign(g) == np.sign(glo[idx])
        lo[idx] = np.where(low_side, s, lo[idx])
        glo[idx] = np.where(low_side, g, glo[idx])
        hi[idx] = np.where(low_side, hi[idx], s)
        ghi[idx] = np.where(low_side, ghi[idx], g)
        narrow = idx[(hi[idx] - lo[idx] < 1e-7) & np.isnan(root[idx])]
        root[narrow] = (lo[narrow] + hi[narrow]) / 2
    close = active & np.isnan(root) & (hi - lo < 1e-6)
    root[close] = (lo[close] + hi[close]) / 2
    return root


def _beside(x1: np.ndarray, x2: np.ndarray, root: np.ndarray, rng: np.random.Generator,
            low: float, high: float, at: bool = False) -> np.ndarray:
    found = np.flatnonzero(np.isfinite(root))
    a, b, s = x1[found], x2[found], root[found]
    offsets = [10.0 ** rng.uniform(low, high, size=len(found)) * sign for sign in (-1.0, 1.0)]
    if at:
        offsets.append(np.zeros(len(found)))
    return np.concatenate([a + (s + d)[:, None] * (b - a) for d in offsets]) if len(found) else np.empty((0, x1.shape[1]))


def _pairs(groups: np.ndarray, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` index pairs (i, j) with different group values."""
    i = rng.integers(0, len(groups), size=count * 4)
    j = rng.integers(0, len(groups), size=count * 4)
    keep = np.flatnonzero(groups[i] != groups[j])[:count]
    return i[keep], j[keep]


def _label_score(model: Any, classes: np.ndarray, labels1: np.ndarray, labels2: np.ndarray) -> Score:
    """Signed score whose sign says "label of x1" (+) or "label of x2" (-) for each pair."""
    lookup = {c: k for k, c in enumerate(classes.tolist())}
    a = np.array([lookup.get(c, -1) for c in labels1.tolist()])
    b = np.array([lookup.get(c, -1) for c in labels2.tolist()])
    if hasattr(model, "decision_function") or hasattr(model, "predict_proba"):
        method = model.decision_function if hasattr(model, "decision_function") else model.predict_proba

        def score(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
            out = _quiet(method, X)
            if out.ndim == 1:  # binary decision: positive means classes[1]
                return np.where(a[idx] == 1, out, -out)
            rows = np.arange(len(X))
            return out[rows, a[idx]] - out[rows, b[idx]]
        return score
    return _label_score_only(model, labels1)


def boundary_rows(model: Any, base: np.ndarray, rng: np.random.Generator, deadline: float,
                  same: np.ndarray | None = None) -> np.ndarray | None:
    """Rows a hair on both sides of the classifier's decision boundary. Columns in ``same``
    (codes of text categories) are copied from one end of each segment to the other, so only
    the numeric columns move along it."""
    classes = getattr(model, "classes_", None)
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < 2 or not hasattr(model, "predict"):
        return None
    try:
        labels = _quiet(model.predict, base)
        if labels.ndim != 1:
            return None
        i, j = _pairs(labels, rng, MAX_PAIRS)
        x1, x2 = base[i], base[j].copy()
        labels1, labels2 = labels[i], labels[j]
        if same is not None and same.any() and len(i):
            x2[:, same] = x1[:, same]
            labels2 = _quiet(model.predict, x2)
            differ = labels1 != labels2
            x1, x2, labels1, labels2 = x1[differ], x2[differ], labels1[differ], labels2[differ]
        if not len(x1):
            return None
        score = _label_score(model, classes, labels1, labels2)
        try:
            root = crossings(score, x1, x2, deadline)
        except Exception:  # noqa: BLE001 - a score that cannot be computed: fall back to labels
            root = crossings(_label_score_only(model, labels1), x1, x2, deadline)
        rows = _beside(x1, x2, root, rng, -5.0, -2.0)
    except Exception:  # noqa: BLE001 - no boundary rows for a model that refuses such rows
        return None
    return rows if len(rows) else None


def _label_score_only(model: Any, labels1: np.ndarray) -> Score:
    def by_label(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.where(_quiet(model.predict, X) == labels1[idx], 1.0, -1.0)
    return by_label


def _response(estimator: Any, X: Any) -> np.ndarray:
    """What a calibrator sees: the base estimator's decision values (or positive-class probability)."""
    if hasattr(estimator, "decision_function"):
        out = _quiet(estimator.decision_function, X)
    else:
        out = _quiet(estimator.predict_proba, X)
        out = out[:, 1] if out.ndim == 2 and out.shape[1] == 2 else out
    return out.reshape(len(out), -1)


def calibrator_rows(model: Any, base: np.ndarray, rng: np.random.Generator, deadline: float) -> np.ndarray | None:
    """Rows whose base decision values land on, and a hair beside, isotonic calibrators' knots."""
    prefix, last = final_stage(model)
    calibrated = getattr(last, "calibrated_classifiers_", None)
    if not isinstance(calibrated, list) or not calibrated:
        return None
    rows: list[np.ndarray] = []
    try:
        inner = prefix.transform(base) if prefix is not None else base
        for member in calibrated[:3]:
            estimator = member.estimator
            response = _response(estimator, inner)
            for k, calibrator in enumerate(getattr(member, "calibrators", [])):
                knots = getattr(calibrator, "X_thresholds_", None)
                if not isinstance(knots, np.ndarray) or knots.ndim != 1 or len(knots) < 2 or k >= response.shape[1]:
                    continue
                picks = knots[rng.integers(0, len(knots), size=min(24, len(knots)))]
                column = response[:, k]
                # for each knot inside the probes' range, a row below it and a row above it
                targets = np.array([t for t in picks if (column < t).any() and (column > t).any()])
                if not len(targets):
                    continue
                i = np.array([rng.choice(np.flatnonzero(column < t)) for t in targets])
                j = np.array([rng.choice(np.flatnonzero(column > t)) for t in targets])

                def score(X: np.ndarray, idx: np.ndarray, k: int = k, est: Any = estimator,
                          targets: np.ndarray = targets) -> np.ndarray:
                    Z = prefix.transform(X) if prefix is not None else X
                    return _response(est, Z)[:, k] - targets[idx]
                root = crossings(score, base[i], base[j], deadline)
                rows.append(_beside(base[i], base[j], root, rng, -7.0, -4.0, at=True))
    except Exception:  # noqa: BLE001 - no knot rows for a model that refuses such rows
        return None
    rows = [r for r in rows if len(r)]
    return np.concatenate(rows) if rows else None
