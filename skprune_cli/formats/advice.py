"""Saying when the chosen output format wastes the work, instead of growing a file silently.

A ``.skops`` archive pays a zip header, an ``.npy`` header and a schema entry
for every small array, each compressed alone; a pickle compresses across
objects. So a model of hundreds of small trees, or any small model, can be far
smaller as ``.pkl.xz`` than as the best ``.skops``; a plain ``.pkl`` of a
forest is not compressed at all. After writing, the output is compared with an
xz-compressed pickle of the same pruned model (measured in memory, or
estimated from evenly spread samples for big models) and with the input.
"""

from __future__ import annotations

import lzma
import pickle
from dataclasses import dataclass
from typing import Any

from .archive import human_size

WASTE = 0.6  # a format at most this fraction of the output's size is worth naming
MEASURE_MAX = 16 << 20  # pickles up to this size are compressed whole; bigger ones from samples
SAMPLES, SAMPLE_BYTES = 8, 1 << 18  # 1 MB samples took 7.9 s on a 108 MB pickle for the same estimate (18.2 vs 17.3 MB)
ADVISE_MAX = 1 << 30  # models with more array bytes in memory are not pickled again to compare


@dataclass
class FormatAdvice:
    """What the report says about the output's format (plain data: rendered by the CLI, in JSON)."""

    message: str
    output_larger_than_input: bool
    better_format: str | None = None  # e.g. ".pkl.xz"
    better_bytes: int | None = None
    measured: bool = False  # True: compressed whole; False: estimated from samples


def xz_pickle_size(model: Any) -> tuple[int, bool]:
    """Bytes of ``model`` as ``.pkl.xz`` (preset 6), and whether they were measured or estimated."""
    raw = pickle.dumps(model, protocol=5)
    if len(raw) <= MEASURE_MAX:
        return len(lzma.compress(raw, preset=6)), True
    view = memoryview(raw)
    stride = (len(raw) - SAMPLE_BYTES) // (SAMPLES - 1)
    packed = sum(len(lzma.compress(view[i * stride : i * stride + SAMPLE_BYTES], preset=6)) for i in range(SAMPLES))
    return int(len(raw) * packed / (SAMPLES * SAMPLE_BYTES)), False


def advise(model: Any, output_bytes: int, input_bytes: int, output_format: str, compressed_pickle: bool,
           model_bytes: int) -> FormatAdvice | None:
    """A note when the output grew, or when ``.pkl.xz`` would be far smaller; None when all is well."""
    grew = output_bytes > input_bytes
    better: tuple[str, int, bool] | None = None
    if not compressed_pickle and model_bytes <= ADVISE_MAX:
        size, measured = xz_pickle_size(model)
        if size <= WASTE * output_bytes:
            better = (".pkl.xz", size, measured)
    if not grew and better is None:
        return None
    parts = []
    if grew:
        parts.append(f"the output ({human_size(output_bytes)}) is larger than the input ({human_size(input_bytes)})")
    if better is not None:
        how = "measured" if better[2] else "estimated from samples"
        parts.append(f"as {better[0]} it would be {human_size(better[1])} ({how}; a pickle: loads with "
                     f"pickle+lzma or joblib, from trusted sources only) instead of {human_size(output_bytes)} "
                     f"as {output_format}")
    message = "format: " + "; ".join(parts)
    return FormatAdvice(message, grew, better[0] if better else None, better[1] if better else None,
                        better[2] if better else False)
