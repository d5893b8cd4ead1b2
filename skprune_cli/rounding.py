"""Changing float values while keeping their dtype, so a compressor does the rest.

Two ways to drop information nobody needs (both leave a plain float array):

``bitround``
    Keep ``keep`` mantissa bits of every value, rounding to nearest (ties to
    even), as in Klöwer et al. 2021 / numcodecs ``BitRound``: the relative
    error stays below ``2**-(keep + 1)`` and the zeroed low bits compress.
``floor_round``
    Also round values much smaller than the array's largest to a coarse grid:
    below ``max|x| * 2**-floor_bits`` only multiples of that step remain, so
    the many tiny entries of, say, SVD components become 0 or one step. The
    absolute error stays below half a step.
``grid_round``
    Round every value to a multiple of one step, a power of two ``2**-bits``
    of the array's range. The grid points are exact in float32 (or float16 for
    ``bits <= 10``); values much smaller than the largest keep only a few
    significant bits, which is what an LZMA member then squeezes out.
"""

from __future__ import annotations

import numpy as np

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_MANTISSA = {2: 10, 4: 23, 8: 52}


def mantissa_bits(dtype: np.dtype) -> int:
    return _MANTISSA[np.dtype(dtype).itemsize]


def bitround(values: np.ndarray, keep: int | np.ndarray) -> np.ndarray:
    """A copy of ``values`` with all but ``keep`` mantissa bits zeroed (round to nearest even).

    ``keep`` may be an array (one precision per element, same shape).
    """
    dtype = values.dtype
    uint = _UINT[dtype.itemsize]
    drop = np.clip(mantissa_bits(dtype) - np.asarray(keep), 0, mantissa_bits(dtype)).astype(uint)
    if not drop.any():
        return values.copy()
    bits = np.ascontiguousarray(values).view(uint).reshape(values.shape)
    one = uint(1)
    # for drop == 0 these are 0 and ~0: the value passes unchanged
    half_minus_one = np.where(drop > 0, (one << np.maximum(drop, one) - one) - one, 0).astype(uint)
    mask = ~((one << drop) - one)
    with np.errstate(over="ignore"):
        lsb = (bits >> drop) & one
        lsb = np.where(drop > 0, lsb, 0).astype(uint)
        out = ((bits + half_minus_one + lsb) & mask).view(dtype)
    keep_as_is = ~np.isfinite(values) | ~np.isfinite(out)  # NaN/inf stay; never round up into inf
    if keep_as_is.any():
        out[keep_as_is] = values[keep_as_is]
    return out


def floor_round(values: np.ndarray, keep: int, floor_bits: int) -> np.ndarray:
    """``bitround`` above ``max|x| * 2**-floor_bits``; below it, the nearest multiple of that step."""
    out = bitround(values, keep)
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0 or finite.max() == 0:
        return out
    step = 2.0 ** (np.floor(np.log2(float(finite.max()))) - floor_bits)
    small = np.abs(values) < step
    if small.any():
        out[small] = (np.round(values[small] / step) * step).astype(values.dtype)
    return out


def grid_step(values: np.ndarray, bits: int) -> float:
    """The power-of-two step of a ``bits``-bit grid over ``[-max|x|, max|x|]`` (0 when all zero)."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0 or finite.max() == 0:
        return 0.0
    return float(2.0 ** (np.ceil(np.log2(float(finite.max()))) - bits))


def grid_round(values: np.ndarray, bits: int) -> np.ndarray:
    """A copy of ``values`` rounded to multiples of ``grid_step`` (NaN and inf stay)."""
    step = grid_step(values, bits)
    if step == 0.0:
        return values.copy()
    with np.errstate(invalid="ignore"):
        out = np.round(values / step) * step
    keep = ~np.isfinite(values)
    if keep.any():
        out[keep] = values[keep]
    return out.astype(values.dtype, copy=False)
