"""Per-dtype casting rules and presets.

A rule says which narrower dtype an array of a given dtype may become
(``float64=float16``). Whatever the rules, two guarantees hold here:
integer arrays are narrowed only when every value fits, and a float array is
narrowed for free whenever the round trip is exact (lossless). Whether a
lossy cast is acceptable is not decided here but by the fidelity check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .errors import UsageError
from .rounding import bitround, floor_round, grid_round, mantissa_bits

FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
SIGNED = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
UNSIGNED = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
_CHUNK = 1 << 20  # elements per pass, so checks on huge arrays need little extra memory


@dataclass(frozen=True)
class CastRule:
    """``source`` arrays may become ``target`` (a narrower dtype of the same family)."""

    source: np.dtype
    target: np.dtype

    @classmethod
    def parse(cls, text: str) -> "CastRule":
        left, sep, right = text.partition("=")
        if not sep:
            raise UsageError(f"--cast {text!r}: expected FROM=TO, e.g. float64=float16")
        try:
            source, target = np.dtype(left.strip()), np.dtype(right.strip())
        except TypeError as exc:
            raise UsageError(f"--cast {text!r}: unknown dtype ({exc})") from None
        if source.kind not in "fiu" or target.kind not in "fiu":
            raise UsageError(f"--cast {text!r}: only float and integer dtypes can be cast")
        if (source.kind == "f") != (target.kind == "f"):
            raise UsageError(f"--cast {text!r}: casts stay within floats or within integers")
        if target.itemsize >= source.itemsize:
            raise UsageError(f"--cast {text!r}: the target must be narrower than the source")
        return cls(source, target)

    def __str__(self) -> str:
        return f"{self.source.name}={self.target.name}"


PRESETS: dict[str, tuple[CastRule, ...]] = {
    "exact": (),
    "float32": (CastRule(FLOATS[2], FLOATS[1]),),
    "float16": (CastRule(FLOATS[2], FLOATS[0]), CastRule(FLOATS[1], FLOATS[0])),
}


def rule_table(preset: str, casts: Iterable[CastRule] = ()) -> dict[np.dtype, np.dtype]:
    """Source dtype -> target dtype; explicit ``--cast`` rules override the preset."""
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    table = {rule.source: rule.target for rule in PRESETS[preset]}
    table.update({rule.source: rule.target for rule in casts})
    return table


ROUND_MIN_BYTES = 64 * 1024  # smaller arrays keep all their bits: rounding them saves nothing


@dataclass(frozen=True)
class Rung:
    """One lossy step: a dtype, optionally with fewer mantissa bits, a floor grid or an absolute grid.

    ``keep`` mantissa bits are kept (None: all the dtype has); values below
    ``max|x| * 2**-floor`` are rounded to multiples of that step. ``grid``
    rounds every value to a multiple of one step, ``2**-grid`` of the array's
    range (``grid_round``): the absolute error is what matters for outputs that
    sum many products, and the small values then carry few bits.
    """

    dtype: np.dtype
    keep: int | None = None
    floor: int | None = None
    grid: int | None = None

    @property
    def plain(self) -> bool:
        """A plain cast (no rounding beyond what the dtype does)."""
        return self.keep is None and self.grid is None

    @property
    def name(self) -> str:
        extra = [f"{self.keep} mantissa bits"] if self.keep is not None else []
        extra += [f"floor 2^-{self.floor} of max"] if self.floor is not None else []
        extra += [f"{self.grid}-bit absolute grid"] if self.grid is not None else []
        return self.dtype.name + (f" ({', '.join(extra)})" if extra else "")

    def apply(self, values: np.ndarray) -> np.ndarray:
        if self.grid is not None:  # round in the source precision: the grid points are exact in the target
            return cast(grid_round(values, self.grid), self.dtype)
        out = cast(values, self.dtype) if values.dtype != self.dtype else values
        if self.keep is None:
            return out if out is not values else values.copy()
        if self.floor is None:
            return bitround(out, self.keep)
        return floor_round(out, self.keep, self.floor)


GRID_MIN_BYTES = 1 << 20  # absolute grids pay off on big matrices (SVD components, embeddings)
# (bits, dtype): float16 holds 11 significant bits, so a 10-bit grid is exact in it
GRID_RUNGS = ((10, FLOATS[0]), (12, FLOATS[1]), (13, FLOATS[1]), (15, FLOATS[1]))
COARSE_GRID = 13


def grid_rungs(dtype: np.dtype, nbytes: int, wanted: np.dtype) -> tuple[Rung, ...]:
    """Absolute-grid rungs for a big float array when the rules go down to float16: coarsest first."""
    if dtype.kind != "f" or nbytes < GRID_MIN_BYTES or wanted.itemsize > 2:
        return ()
    return tuple(Rung(d, grid=bits) for bits, d in GRID_RUNGS if d.itemsize <= dtype.itemsize)


def rounding_ladder(dtype: np.dtype, nbytes: int, preset_bits: int | None) -> tuple[Rung, ...]:
    """Rungs for arrays that must keep their dtype: fewer mantissa bits, same dtype.

    ``preset_bits`` is the precision the preset allows (10 for float16-like,
    23 for float32-like); None means no value may change.
    """
    if preset_bits is None or dtype.kind != "f" or mantissa_bits(dtype) <= preset_bits:
        return ()
    if preset_bits >= 23 or nbytes < ROUND_MIN_BYTES:
        return (Rung(dtype, 23),) if mantissa_bits(dtype) > 23 else ()
    return (Rung(dtype, 8, 10), Rung(dtype, 10, 12), Rung(dtype, 16, 20), Rung(dtype, 23))


@dataclass(frozen=True)
class CastPlan:
    """What ``values`` may become.

    ``exact`` is the narrowest dtype that holds every value unchanged (None:
    only the current one). ``lossy`` lists narrower dtypes the rules allow,
    narrowest first, each a step that changes values and needs checking.
    """

    exact: np.dtype | None
    lossy: tuple[Rung, ...]
    reason: str

    @property
    def target(self) -> np.dtype | None:
        """The narrowest dtype on offer, checked or not."""
        return self.lossy[0].dtype if self.lossy else self.exact


def _chunks(values: np.ndarray) -> Iterable[np.ndarray]:
    flat = values.reshape(-1, order="A") if values.flags.forc else values.ravel()
    for start in range(0, flat.size, _CHUNK):
        yield flat[start : start + _CHUNK]


def round_trips(values: np.ndarray, target: np.dtype) -> bool:
    """True when ``values`` survive a cast to ``target`` and back unchanged."""
    for chunk in _chunks(values):
        with np.errstate(over="ignore", invalid="ignore"):
            back = chunk.astype(target).astype(chunk.dtype)
        same = back == chunk
        if not same.all():
            nan = np.isnan(chunk) & np.isnan(back)
            if not (same | nan).all():
                return False
    return True


def _finite_absmax(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    best = 0.0
    for chunk in _chunks(values):
        finite = chunk[np.isfinite(chunk)]
        if finite.size:
            best = max(best, float(np.abs(finite).max()))
    return best


def _narrowest_float_exact(values: np.ndarray) -> np.dtype | None:
    for candidate in FLOATS:
        if candidate.itemsize >= values.dtype.itemsize:
            return None
        if round_trips(values, candidate):
            return candidate
    return None


def _fits(lo: int, hi: int, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return info.min <= lo and hi <= info.max


def plan_float(values: np.ndarray, table: dict[np.dtype, np.dtype], lossless: bool = True) -> CastPlan:
    exact = _narrowest_float_exact(values) if lossless else None
    wanted = table.get(values.dtype)
    if wanted is None:
        reason = f"values are exact in {exact.name}" if exact is not None else "no rule for this dtype"
        return CastPlan(exact, (), reason)
    ceiling = exact.itemsize if exact is not None else values.dtype.itemsize
    absmax = _finite_absmax(values)
    lossy, note = [], ""
    for candidate in FLOATS:
        if candidate.itemsize < wanted.itemsize or candidate.itemsize >= ceiling:
            continue
        if absmax > float(np.finfo(candidate).max):
            note = f"; values up to {absmax:.3g} exceed the {candidate.name} range"
            continue
        lossy.append(candidate)
    if lossy:
        rungs = tuple(Rung(d) for d in lossy)
        if exact is None:
            grids = grid_rungs(values.dtype, values.nbytes, wanted)
            # most compressible first: coarse grids beat a plain float16 (small values keep few
            # bits), a fine grid only beats float32
            coarse = tuple(r for r in grids if r.grid is not None and r.grid <= COARSE_GRID)
            fine = tuple(r for r in grids if r not in coarse)
            rungs = coarse + rungs[:1] + fine + rungs[1:]
        return CastPlan(exact, rungs, f"rule {values.dtype.name}={wanted.name}{note}")
    if exact is not None:
        return CastPlan(exact, (), f"values are exact in {exact.name}")
    return CastPlan(None, (), f"kept{note}")


def plan_by_dtype(dtype: np.dtype, table: dict[np.dtype, np.dtype], nbytes: int = 0) -> CastPlan:
    """What the rules allow when the values are not at hand (``inspect`` of a big archive):
    no exact narrowing is detected and no range is checked."""
    wanted = table.get(dtype)
    if wanted is None or dtype.kind not in "fiu":
        return CastPlan(None, (), "no rule for this dtype")
    if dtype.kind in "iu":
        return CastPlan(wanted, (), "estimated from the dtype (values not read)")
    lossy = tuple(Rung(d) for d in FLOATS if wanted.itemsize <= d.itemsize < dtype.itemsize)
    return CastPlan(None, lossy, "estimated from the dtype (values not read)")


def plan_int(values: np.ndarray, table: dict[np.dtype, np.dtype]) -> CastPlan:
    wanted = table.get(values.dtype)
    if wanted is None:
        return CastPlan(None, (), "no rule for this dtype")
    if values.size == 0:
        return CastPlan(wanted, (), "empty array")
    lo, hi = int(values.min()), int(values.max())
    family = UNSIGNED if wanted.kind == "u" else SIGNED
    for candidate in family:
        if candidate.itemsize < wanted.itemsize or candidate.itemsize >= values.dtype.itemsize:
            continue
        if _fits(lo, hi, candidate):
            return CastPlan(candidate, (), f"values {lo}..{hi} fit {candidate.name}")
    return CastPlan(None, (), f"values {lo}..{hi} do not fit {wanted.name}")


def plan_cast(values: np.ndarray, table: dict[np.dtype, np.dtype], lossless: bool = True) -> CastPlan:
    """The narrowest acceptable dtype for ``values`` under ``table``."""
    kind = values.dtype.kind
    if kind == "f":
        return plan_float(values, table, lossless)
    if kind in "iu":
        return plan_int(values, table)
    return CastPlan(None, (), f"{values.dtype} arrays are never cast")


def cast(values: np.ndarray, target: np.dtype) -> np.ndarray:
    """One pass, layout kept, so big arrays are not copied twice."""
    return values.astype(target, order="K", copy=True)
