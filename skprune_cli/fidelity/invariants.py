"""Properties an array has before a change, which the change must keep: checked before any output.

Probes can miss the row where a broken property shows (isotonic knots that
collide give NaN only between the two knots), while the property itself is
cheap to test on the array. So every candidate cast is first held against the
properties the original values have, and a cast that breaks one is refused
without spending a check; the report names the property.

- strictly increasing stays strictly increasing, sorted stays sorted (1-D, and
  2-D along either axis: quantiles, bin edges, knots);
- distinct values stay distinct (1-D up to ``DISTINCT_MAX`` values: thresholds, knots,
  lookup vectors; in a long weight vector two coefficients may well share a float16);
- rows (or a vector) that sum to one still sum to one (probabilities, priors, weights);
- integer-valued stays integer-valued;
- signs are kept, and a strictly positive (or negative) array gets no zeros
  (scales and variances are divided by).

Order, distinctness and sums are looked at only for arrays up to
``STRUCTURE_MAX`` values, where such structure lives; the element-wise
properties are tested on any size, in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

STRUCTURE_MAX = 1 << 20  # values: order, distinctness and sums are looked for below this size
DISTINCT_MAX = 4096  # values: lookup vectors (knots, thresholds, centres); a long weight vector is no lookup
SUM_TOLERANCE = 1e-6  # a float32 probability vector sums to one within ~1e-7; float16 does not
_CHUNK = 1 << 20


def _pairs(original: np.ndarray, new: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    a = original.reshape(-1)
    b = new.reshape(-1)
    for start in range(0, a.size, _CHUNK):
        yield a[start:start + _CHUNK], b[start:start + _CHUNK]


def _axes(values: np.ndarray) -> list[int]:
    if values.ndim == 1:
        return [0] if values.size >= 2 else []
    if values.ndim == 2:
        return [axis for axis in (0, 1) if values.shape[axis] >= 2]
    return []


def _increasing(values: np.ndarray, axis: int, strict: bool) -> bool:
    with np.errstate(invalid="ignore"):
        step = np.diff(values.astype(np.float64, copy=False), axis=axis)
    return bool(np.all(step > 0) if strict else np.all(step >= 0))


def _sums(values: np.ndarray) -> np.ndarray:
    return np.atleast_1d(values.astype(np.float64, copy=False).sum(axis=-1))


@dataclass(frozen=True)
class Invariants:
    """The properties one array's original values have."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, values: np.ndarray) -> "Invariants":
        if values.dtype.kind != "f" or values.size == 0:
            return cls(())
        names: list[str] = []
        finite = bool(np.all([np.isfinite(c).all() for c, _ in _pairs(values, values)]))
        if values.size <= STRUCTURE_MAX and finite:
            for axis in _axes(values):
                where = "" if values.ndim == 1 else f" along axis {axis}"
                if _increasing(values, axis, strict=True):
                    names.append(f"strictly increasing{where}")
                elif _increasing(values, axis, strict=False):
                    names.append(f"sorted{where}")
            if 2 <= values.size <= DISTINCT_MAX and values.ndim == 1 and np.unique(values).size == values.size:
                names.append("distinct values")
            if values.ndim in (1, 2) and values.shape[-1] >= 2 and values.min() >= 0:
                if np.all(np.abs(_sums(values) - 1.0) <= 1e-9 * values.shape[-1]):
                    names.append("rows sum to one" if values.ndim == 2 else "sums to one")
        if finite and values.size >= 2 and all(np.array_equal(c, np.rint(c)) for c, _ in _pairs(values, values)):
            names.append("integer-valued")
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        if low > 0:
            names.append("strictly positive")
        elif high < 0:
            names.append("strictly negative")
        return cls(tuple(names))

    def broken(self, original: np.ndarray, new: np.ndarray) -> str | None:
        """The first property ``new`` no longer has, described for the report; None if all hold."""
        if new.shape != original.shape:
            return "shape"
        for name in self.names:
            problem = _violation(name, original, new)
            if problem:
                return f"{name} ({problem})" if problem is not True else name
        return _sign_flip(original, new)


def _violation(name: str, original: np.ndarray, new: np.ndarray) -> str | bool:
    if name.startswith(("strictly increasing", "sorted")):
        axis = int(name.rsplit(" ", 1)[1]) if "axis" in name else 0
        strict = name.startswith("strictly")
        return not _increasing(new, axis, strict)
    if name == "distinct values":
        distinct = np.unique(new).size
        return f"{original.size} distinct values become {distinct}" if distinct < original.size else False
    if name in ("rows sum to one", "sums to one"):
        off = float(np.abs(_sums(new) - 1.0).max())
        return f"off by {off:.1e}" if off > SUM_TOLERANCE else False
    if name == "integer-valued":
        return not all(np.array_equal(b[np.isfinite(b)], np.rint(b[np.isfinite(b)])) for _, b in _pairs(original, new))
    if name == "strictly positive":
        return f"{_count(new, lambda b: ~(b > 0))} values become zero" if any(np.any(~(b > 0)) for _, b in _pairs(original, new)) else False
    if name == "strictly negative":
        return f"{_count(new, lambda b: ~(b < 0))} values become zero" if any(np.any(~(b < 0)) for _, b in _pairs(original, new)) else False
    return False


def _count(values: np.ndarray, test) -> int:  # type: ignore[no-untyped-def]
    return int(sum(np.count_nonzero(test(b)) for _, b in _pairs(values, values)))


def _sign_flip(original: np.ndarray, new: np.ndarray) -> str | None:
    if original.dtype.kind != "f":
        return None
    for a, b in _pairs(original, new):
        with np.errstate(invalid="ignore"):
            if np.any(np.sign(a) * np.sign(b.astype(a.dtype, copy=False)) < 0):
                return "signs kept"
    return None
