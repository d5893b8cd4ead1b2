"""Choosing each archive member's compression, and LZMA tuned to the member's data.

A zip may mix methods per member, and the standard ``zipfile`` (hence
``skops.io.load``) reads DEFLATE, BZIP2 and LZMA alike. LZMA's literal
context/position bits are tuned to the element size of an ``.npy`` member
(2-byte float16, 8-byte float64 or tree records), which ``zipfile``'s own
LZMA writer never does; the decoder reads the properties from the member, so
nothing special is needed to load it.

``best`` compresses a sample of each large member with every method and
keeps the smallest; plain ``--zip`` stays DEFLATE (fast) and estimates from
small samples what ``best`` would save.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .archive import parse_npy_header

SAMPLE = 1 << 20
AGREE = 3
ESTIMATE_SAMPLE = 128 * 1024
ESTIMATE_PER_KIND = 2  # members of one dtype compress alike: two samples tell the ratio
ESTIMATE_MIN = 256 * 1024
METHODS = {"none": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED, "bzip2": zipfile.ZIP_BZIP2,
           "lzma": zipfile.ZIP_LZMA}
NAMES = {v: k for k, v in METHODS.items()}


def npy_dtype(name: str, data: bytes | memoryview) -> np.dtype | None:
    """The dtype of an ``.npy`` member, from its header (None for anything else)."""
    if not name.endswith(".npy"):
        return None
    try:
        return parse_npy_header(data)[1]
    except Exception:  # noqa: BLE001 - not an array we can read: treat as bytes
        return None


def lzma_filter(itemsize: int, strong: bool = False) -> dict[str, Any]:
    """LZMA1 properties for records of ``itemsize`` bytes: positions aligned to the record.

    ``strong`` searches longer matches (``nice_len`` 273, as ``-9e`` does): ~8% smaller
    tree nodes for twice the time, which is what ``best`` is for.
    """
    spec: dict[str, Any] = {"id": lzma.FILTER_LZMA1, "preset": 6}
    if strong:
        spec["nice_len"] = 273
    if itemsize > 1:
        align = min((itemsize & -itemsize).bit_length() - 1, 3)  # log2 of the largest power of 2 dividing it
        spec.update(lc=1 if itemsize == 2 else 0, lp=align, pb=align)
    return spec


class TunedLZMACompressor:
    """``zipfile``'s LZMA member format (a properties header, then raw LZMA1) with chosen properties."""

    def __init__(self, filter_spec: dict[str, Any]) -> None:
        self._spec = filter_spec
        self._comp: Any = None

    def _init(self) -> bytes:
        # the header carries lc/lp/pb and the dictionary size; match finder settings such as
        # nice_len only shape the encoder, so the full spec goes to the compressor
        props = lzma._encode_filter_properties(self._spec)  # type: ignore[attr-defined]
        self._comp = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[self._spec])
        return struct.pack("<BBH", 9, 4, len(props)) + props

    def compress(self, data: bytes) -> bytes:
        head = self._init() if self._comp is None else b""
        return head + self._comp.compress(data)

    def flush(self) -> bytes:
        head = self._init() if self._comp is None else b""
        return head + self._comp.flush()


@contextlib.contextmanager
def tuned_lzma(filter_spec: dict[str, Any]) -> Iterator[None]:
    """While writing one member, let ``zipfile`` use the tuned LZMA compressor."""
    original = zipfile._get_compressor  # type: ignore[attr-defined]

    def chooser(compress_type: int, compresslevel: int | None = None) -> Any:
        if compress_type == zipfile.ZIP_LZMA:
            return TunedLZMACompressor(filter_spec)
        return original(compress_type, compresslevel)

    zipfile._get_compressor = chooser  # type: ignore[attr-defined]
    try:
        yield
    finally:
        zipfile._get_compressor = original  # type: ignore[attr-defined]


def compressed_size(method: str, data: bytes | memoryview, itemsize: int, strong: bool = False) -> int:
    if method == "deflate":
        return len(zlib.compress(data, 9 if strong else 6))
    if method == "bzip2":
        return len(bz2.compress(data, 9))
    if method == "lzma":
        return len(lzma.compress(data, format=lzma.FORMAT_RAW, filters=[lzma_filter(itemsize, strong)]))
    return len(data)


def _sample(data: memoryview, size: int) -> memoryview:
    if len(data) <= size:
        return data
    start = (len(data) - size) // 2
    return data[start : start + size]


@dataclass
class Choice:
    method: int
    level: int | None
    lzma: dict[str, Any] | None = None


@dataclass
class Policy:
    """Per-member compression for one archive, and what ``best`` would have given."""

    mode: str  # none | deflate | bzip2 | lzma | best
    estimate: bool = False
    # best: members of one dtype (a forest's node arrays) compress alike; after AGREE samples
    # picked the same method, the rest of that dtype skip the sampling
    decided: dict[str, list[str]] = field(default_factory=dict)
    # estimate: per dtype, sampled best/DEFLATE ratios; per member, its dtype (to scale sizes later)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    saving: int = 0  # set after writing: what best would have saved
    chosen: dict[str, int] = field(default_factory=dict)

    def choose(self, name: str, data: bytes | memoryview) -> Choice:
        view = memoryview(data).cast("B")
        dtype = npy_dtype(name, view)
        itemsize = dtype.itemsize if dtype is not None else 1
        if self.mode == "best":
            method = self._best_method(view, itemsize, str(dtype) if len(view) >= ESTIMATE_SAMPLE else None)
        else:
            method = self.mode
            if self.estimate and method == "deflate":
                self._estimate(name, view, itemsize, str(dtype))
        self.chosen[method] = self.chosen.get(method, 0) + 1
        strong = self.mode == "best"
        level = 9 if method in ("deflate", "bzip2") and strong else None
        return Choice(METHODS[method], level, lzma_filter(itemsize, strong) if method == "lzma" else None)

    def _best_method(self, view: memoryview, itemsize: int, kind: str | None) -> str:
        if len(view) < 64:
            return "none"
        history = self.decided.get(kind, []) if kind else []
        if len(history) >= AGREE and len(set(history[-AGREE:])) == 1:
            return history[-1]
        sample = _sample(view, SAMPLE)
        sizes = {m: compressed_size(m, sample, itemsize, strong=True) for m in ("deflate", "bzip2", "lzma")}
        method = min(sizes, key=sizes.__getitem__)
        if kind:
            self.decided.setdefault(kind, []).append(method)
        return method

    def _estimate(self, name: str, view: memoryview, itemsize: int, kind: str) -> None:
        if len(view) < ESTIMATE_MIN:
            return
        self.kinds[name] = kind
        seen = self.ratios.setdefault(kind, [])
        if len(seen) >= ESTIMATE_PER_KIND:
            return
        sample = _sample(view, ESTIMATE_SAMPLE)
        deflate = compressed_size("deflate", sample, itemsize)
        best = min(deflate, *(compressed_size(m, sample, itemsize) for m in ("bzip2", "lzma")))
        seen.append(best / max(deflate, 1))

    def best_saving(self, written: list[zipfile.ZipInfo]) -> int:
        """Estimated bytes ``--compression best`` would save over the DEFLATE members written."""
        saving = 0.0
        for info in written:
            kind = self.kinds.get(info.filename)
            if kind is not None and self.ratios.get(kind):
                ratio = sum(self.ratios[kind]) / len(self.ratios[kind])
                saving += info.compress_size * (1 - ratio)
        return max(int(saving), 0)
