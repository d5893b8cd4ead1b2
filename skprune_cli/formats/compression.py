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
import io
import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

SAMPLE = 1 << 20
ESTIMATE_SAMPLE = 128 * 1024
ESTIMATE_MEMBERS = 16
ESTIMATE_MIN = 256 * 1024
METHODS = {"none": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED, "bzip2": zipfile.ZIP_BZIP2,
           "lzma": zipfile.ZIP_LZMA}
NAMES = {v: k for k, v in METHODS.items()}


def element_size(name: str, data: bytes | memoryview) -> int:
    """The itemsize of an ``.npy`` member (1 for anything else)."""
    if not name.endswith(".npy"):
        return 1
    try:
        stream = io.BytesIO(bytes(memoryview(data)[:4096]))
        version = np.lib.format.read_magic(stream)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)(stream)
        return int(np.dtype(header[2]).itemsize)
    except Exception:  # noqa: BLE001 - not an array we can read: treat as bytes
        return 1


def lzma_filter(itemsize: int, preset: int = 6) -> dict[str, Any]:
    """LZMA1 properties for records of ``itemsize`` bytes: positions aligned to the record."""
    if itemsize <= 1:
        return {"id": lzma.FILTER_LZMA1, "preset": preset}
    align = min((itemsize & -itemsize).bit_length() - 1, 3)  # log2 of the largest power of 2 dividing it
    return {"id": lzma.FILTER_LZMA1, "preset": preset, "lc": 1 if itemsize == 2 else 0, "lp": align, "pb": align}


class TunedLZMACompressor:
    """``zipfile``'s LZMA member format (a properties header, then raw LZMA1) with chosen properties."""

    def __init__(self, filter_spec: dict[str, Any]) -> None:
        self._spec = filter_spec
        self._comp: Any = None

    def _init(self) -> bytes:
        props = lzma._encode_filter_properties(self._spec)  # type: ignore[attr-defined]
        self._comp = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[
            lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # type: ignore[attr-defined]
        ])
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


def compressed_size(method: str, data: bytes | memoryview, itemsize: int) -> int:
    if method == "deflate":
        return len(zlib.compress(data, 6))
    if method == "bzip2":
        return len(bz2.compress(data, 9))
    if method == "lzma":
        return len(lzma.compress(data, format=lzma.FORMAT_RAW, filters=[lzma_filter(itemsize)]))
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
    sampled_deflate: int = 0
    sampled_best: int = 0
    sampled_members: int = 0
    chosen: dict[str, int] = field(default_factory=dict)

    def choose(self, name: str, data: bytes | memoryview) -> Choice:
        view = memoryview(data).cast("B")
        itemsize = element_size(name, view)
        if self.mode == "best":
            method = self._best_method(view, itemsize)
        else:
            method = self.mode
            if self.estimate and method == "deflate":
                self._estimate(view, itemsize)
        self.chosen[method] = self.chosen.get(method, 0) + 1
        level = 9 if method in ("deflate", "bzip2") and self.mode == "best" else None
        return Choice(METHODS[method], level, lzma_filter(itemsize) if method == "lzma" else None)

    def _best_method(self, view: memoryview, itemsize: int) -> str:
        if len(view) < 64:
            return "none"
        sample = _sample(view, SAMPLE)
        sizes = {m: compressed_size(m, sample, itemsize) for m in ("deflate", "bzip2", "lzma")}
        return min(sizes, key=sizes.__getitem__)

    def _estimate(self, view: memoryview, itemsize: int) -> None:
        if len(view) < ESTIMATE_MIN or self.sampled_members >= ESTIMATE_MEMBERS:
            return
        sample = _sample(view, ESTIMATE_SAMPLE)
        deflate = compressed_size("deflate", sample, itemsize)
        best = min(deflate, *(compressed_size(m, sample, itemsize) for m in ("bzip2", "lzma")))
        scale = len(view) / len(sample)
        self.sampled_deflate += int(deflate * scale)
        self.sampled_best += int(best * scale)
        self.sampled_members += 1

    @property
    def best_saving(self) -> int:
        """Estimated bytes ``--compression best`` would save over DEFLATE (0 when not estimated)."""
        return max(self.sampled_deflate - self.sampled_best, 0)
