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
    significant bits, which is what an LZMA member then squeezes out. The
    rounding is dithered (up or down with the probability that makes it
    unbiased, from a fixed seed): rounding to nearest turns every entry below
    half a step into 0, and where those tails share a sign (the first
    component of a text SVD is all positive) a long document sums them into
    a bias. On a Tfidf + TruncatedSVD(300) model a 13-bit grid moved
    ``transform`` by 9.5e-4 to nearest and 3.7e-4 dithered (1,500 held-out
    documents), and the file came out at 19.4 MB instead of 34.6 with float16.
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
    largest = max(float(values.max(initial=0.0)), -float(values.min(initial=0.0))) if values.size else 0.0
    if not np.isfinite(largest):  # NaN or inf somewhere: the finite values set the range (slower)
        finite = np.abs(values[np.isfinite(values)])
        largest = float(finite.max(initial=0.0))
    if largest == 0:
        return 0.0
    return float(2.0 ** (np.ceil(np.log2(largest)) - bits))


def grid_round(values: np.ndarray, bits: int) -> np.ndarray:
    """A copy of ``values`` on multiples of ``grid_step``, rounded without bias (NaN and inf stay).

    Each value goes to one of its two neighbouring grid points, the upper with
    probability equal to its distance from the lower over the step (so the
    error is below one step and averages out); blocks of rows keep the extra
    memory to a few MB whatever the array's size.
    """
    step = grid_step(values, bits)
    if step == 0.0:
        return values.copy()
    rng = np.random.default_rng(0)  # a fixed seed: the same input gives the same file
    order = "F" if values.flags.f_contiguous and not values.flags.c_contiguous else "C"  # keep the layout
    flat = values.reshape(-1, order=order)  # a view when ``values`` is contiguous
    out = np.empty(values.shape, values.dtype, order=order)
    out_flat = out.reshape(-1, order=order)
    block = 1 << 20
    with np.errstate(invalid="ignore"):
        for start in range(0, flat.size, block):
            part = flat[start : start + block]
            rounded = np.multiply(part, 1.0 / step, dtype=np.float64)  # a power of two: exact
            rounded += rng.random(part.size, dtype=np.float32)
            np.floor(rounded, out=rounded)
            rounded *= step
            keep = ~np.isfinite(part)
            rounded[keep] = part[keep]
            out_flat[start : start + block] = rounded
    return out
