"""Choosing each archive member's compression, and LZMA tuned to the member's data.

A zip may mix methods per member, and the standard ``zipfile`` (hence
``skops.io.load``) reads DEFLATE, BZIP2 and LZMA alike. LZMA's literal
context/position bits are tuned to the element size of an ``.npy`` member
(2-byte float16, 8-byte float64 or tree records), which ``zipfile``'s own
LZMA writer never does; the decoder reads the properties from the member, so
nothing special is needed to load it.

``auto`` (what ``--zip`` asks for) puts big ``.npy`` members and a big
``schema.json`` in fast LZMA (preset 1, tuned to the element size: ~0.6x
DEFLATE's size on model arrays at a similar speed) and the rest in DEFLATE.
``best`` times every method on a sample of each kind of member (dtype) and
keeps the one whose extra saving is worth its extra seconds; members of a kind
already decided skip the sampling, and a thread meeting a kind that the other
thread is sampling waits for that decision. ``--zip`` estimates from small samples what
``best`` would save.

Members compress independently and zlib, bz2 and lzma release the GIL:
``MemberWriter`` compresses big members on a thread pool (both cores) while
skops produces the next ones, and writes them in order.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import os
import struct
import threading
import time
import zipfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .archive import parse_npy_header

SAMPLE = 1 << 20
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


FAST_MIN = 256 * 1024  # members this big go to LZMA under --zip, and to the thread pool
FAST_PRESET = 1
SAMPLE_WAIT = 60.0  # seconds a thread waits for another's decision on the same kind
GAIN_PER_TIME = 0.004  # best: a slower method must save 0.4% of the sample per extra multiple of the time


def lzma_filter(itemsize: int, strong: bool = False, preset: int = 6, size: int | None = None) -> dict[str, Any]:
    """LZMA1 properties for records of ``itemsize`` bytes: positions aligned to the record.

    ``strong`` searches longer matches (``nice_len`` 273, as ``-9e`` does) but follows at
    most 24 candidates per position (``depth``; the default for that length is 152): on tree
    nodes 3-4% smaller than plain for 1.7-2.2x the time, where the default depth costs 3.1-3.5x
    for 0.1-0.3% less. That is what ``best`` is for. ``size`` caps the
    dictionary at the member's size: a 40 KB tree member then costs no 8 MB dictionary
    and match-finder tables to set up (the output is the same).
    """
    spec: dict[str, Any] = {"id": lzma.FILTER_LZMA1, "preset": preset}
    if size is not None and size < (1 << 22):
        spec["dict_size"] = max(4096, 1 << max(size - 1, 1).bit_length())
    if strong:
        spec.update(nice_len=273, depth=24)
    if itemsize > 1:
        # log2 of the largest power of 2 dividing it, at most 16 (LZMA's limit; lc + lp <= 4): a 48-byte
        # tree record then has 16 position contexts, 3% smaller than 8 on a fully grown forest
        align = min((itemsize & -itemsize).bit_length() - 1, 4)
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


def compressed_size(method: str, data: bytes | memoryview, itemsize: int, strong: bool = False,
                    preset: int = 6) -> int:
    if method == "deflate":
        return len(zlib.compress(data, 9 if strong else 6))
    if method == "bzip2":
        return len(bz2.compress(data, 9))
    if method == "lzma":
        spec = lzma_filter(itemsize, strong, preset, len(data))
        return len(lzma.compress(data, format=lzma.FORMAT_RAW, filters=[spec]))
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

    def compress(self, data: bytes | memoryview) -> bytes:
        """The member's compressed bytes, exactly as ``zipfile`` would have written them."""
        if self.method == zipfile.ZIP_DEFLATED:
            comp = zlib.compressobj(self.level if self.level is not None else 6, zlib.DEFLATED, -15)
            return comp.compress(data) + comp.flush()
        if self.method == zipfile.ZIP_BZIP2:
            return bz2.compress(data, self.level or 9)
        if self.method == zipfile.ZIP_LZMA:
            comp = TunedLZMACompressor(self.lzma or lzma_filter(1))
            return comp.compress(data) + comp.flush()
        return bytes(data)


@dataclass
class Policy:
    """Per-member compression for one archive, and what ``best`` would have given."""

    mode: str  # none | deflate | bzip2 | lzma | best | auto (--zip)
    estimate: bool = False
    fast_preset: int = FAST_PRESET  # auto's LZMA preset for big members
    # best: members of one dtype (a forest's node arrays) compress alike; once a sample of that
    # dtype chose a method, the rest of that dtype skip the sampling
    decided: dict[str, tuple[str, int, bool]] = field(default_factory=dict)  # kind -> (method, preset, strong)
    # kinds a thread is sampling right now: the pool's other thread waits for that decision instead
    # of sampling the same kind again (the first two tree members arrive together)
    deciding: dict[str, threading.Event] = field(default_factory=dict)
    # estimate: per dtype, sampled best/DEFLATE ratios; per member, its dtype (to scale sizes later)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    saving: int = 0  # set after writing: what best would have saved
    chosen: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def choose(self, name: str, data: bytes | memoryview) -> Choice:
        view = memoryview(data).cast("B")
        dtype = npy_dtype(name, view)
        itemsize = dtype.itemsize if dtype is not None else 1
        preset, strong = 6, False
        if self.mode == "best":
            size_class = "big" if len(view) >= ESTIMATE_SAMPLE else "small"  # small members: headers weigh more
            method, preset, strong = self._best_method(view, itemsize, f"{dtype}:{size_class}")
        elif self.mode == "auto":
            big = len(view) >= FAST_MIN and (dtype is not None or name == "schema.json")
            method, preset = ("lzma", self.fast_preset) if big else ("deflate", 6)
            if self.estimate and big:
                self._estimate(name, view, itemsize, str(dtype), method)
        else:
            method = self.mode
            if self.estimate and method == "deflate":
                self._estimate(name, view, itemsize, str(dtype))
        with self._lock:
            self.chosen[method] = self.chosen.get(method, 0) + 1
        level = 9 if method in ("deflate", "bzip2") and self.mode == "best" else None
        spec = lzma_filter(itemsize, strong, preset, len(view)) if method == "lzma" else None
        return Choice(METHODS[method], level, spec)

    def _best_method(self, view: memoryview, itemsize: int, kind: str | None) -> tuple[str, int, bool]:
        """The method worth its time on a sample: each step up in strength must pay for its seconds."""
        if len(view) < 64:
            return "none", 6, False
        decision, owner = self._claim(kind)
        if decision:
            return decision
        try:
            return self._sample_methods(view, itemsize, kind)
        finally:
            if owner:
                with self._lock:
                    self.deciding.pop(kind).set()  # type: ignore[arg-type]

    def _claim(self, kind: str | None) -> tuple[tuple[str, int, bool] | None, bool]:
        """The decision made for ``kind`` (waiting while another thread makes it), or whether this thread makes it."""
        if not kind:
            return None, False
        with self._lock:
            running = self.deciding.get(kind)
            if kind not in self.decided and running is None:
                self.deciding[kind] = threading.Event()
                return None, True
        if running is not None:
            running.wait(SAMPLE_WAIT)
        with self._lock:
            known = self.decided.get(kind)
        return known, False  # None: the deciding thread failed, sample here as well

    def _sample_methods(self, view: memoryview, itemsize: int, kind: str | None) -> tuple[str, int, bool]:
        sample = _sample(view, SAMPLE)
        options = [("deflate", 6, False), ("bzip2", 6, False), ("lzma", 6, False), ("lzma", 6, True)]
        best: tuple[str, int, bool] | None = None
        best_size = best_time = 0.0
        for method, preset, strong in options:  # fastest first
            start = time.perf_counter()
            size = compressed_size(method, sample, itemsize, strong=(strong or method != "lzma"), preset=preset)
            spent = time.perf_counter() - start
            if best is None:
                best, best_size, best_time = (method, preset, strong), size, spent
                continue
            gain = (best_size - size) / max(best_size, 1)
            # time as a multiple of the current choice's: a busy machine slows every method alike
            extra = max(spent / max(best_time, 1e-9) - 1.0, 0.0)
            if gain > 0 and gain >= GAIN_PER_TIME * extra:
                best, best_size, best_time = (method, preset, strong), size, spent
            elif method == "lzma" and strong:  # the strongest step did not pay: stop searching
                break
        assert best is not None
        if kind:
            with self._lock:
                self.decided[kind] = best
        return best

    def _estimate(self, name: str, view: memoryview, itemsize: int, kind: str, method: str = "deflate") -> None:
        if len(view) < ESTIMATE_MIN:
            return
        with self._lock:
            self.kinds[name] = kind
            seen = self.ratios.setdefault(kind, [])
            if len(seen) >= ESTIMATE_PER_KIND:
                return
        sample = _sample(view, ESTIMATE_SAMPLE)
        used = compressed_size(method, sample, itemsize, preset=self.fast_preset if method == "lzma" else 6)
        best = min(used, *(compressed_size(m, sample, itemsize, strong=True) for m in ("bzip2", "lzma")))
        with self._lock:
            seen.append(best / max(used, 1))

    def best_saving(self, written: list[zipfile.ZipInfo]) -> int:
        """Estimated bytes ``--compression best`` would save over the members written."""
        saving = 0.0
        for info in written:
            kind = self.kinds.get(info.filename)
            if kind is not None and self.ratios.get(kind):
                ratio = sum(self.ratios[kind]) / len(self.ratios[kind])
                saving += info.compress_size * (1 - ratio)
        return max(int(saving), 0)


class _Ready:
    """Stands in for ``zipfile``'s compressor: hands over bytes compressed elsewhere."""

    def __init__(self, blob: bytes) -> None:
        self._blob: bytes | None = blob

    def compress(self, data: bytes) -> bytes:
        blob, self._blob = self._blob or b"", None
        return blob

    def flush(self) -> bytes:
        return self.compress(b"")


@contextlib.contextmanager
def _precompressed(blob: bytes) -> Iterator[None]:
    original = zipfile._get_compressor  # type: ignore[attr-defined]
    zipfile._get_compressor = lambda *args, **kwargs: _Ready(blob)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        zipfile._get_compressor = original  # type: ignore[attr-defined]


POOL_MIN_BEST = 16 * 1024  # best compresses hard enough that smaller members are worth a thread too
PENDING_BYTES = 256 << 20  # uncompressed bytes waiting for the pool before the writer catches up


class MemberWriter:
    """Writes archive members in order, compressing big ones on a thread pool.

    ``zipfile`` computes the CRC and sizes from the uncompressed data as usual;
    only the compressor is swapped for the bytes the pool produced, so every
    member is exactly what ``zipfile`` itself would write with that method.
    """

    def __init__(self, zip_file: zipfile.ZipFile, policy: Policy, workers: int | None = None,
                 on_written: Any = None) -> None:
        self._zip, self._policy = zip_file, policy
        self._workers = workers or min(2, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[str, bytes, Future[tuple[Choice, bytes | None]]]] = deque()
        self._pending_bytes = 0
        self._on_written = on_written

    def write(self, name: str, data: bytes) -> None:
        future: Future[tuple[Choice, bytes | None]]
        pooled = POOL_MIN_BEST if self._policy.mode == "best" else FAST_MIN
        if len(data) < pooled or self._workers < 2:
            if not self._pending:  # nothing queued: write it now, in order
                self._emit(name, data, *self._compress(name, data))
                return
            future = Future()
            future.set_result(self._compress(name, data))
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="skprune-zip")
            future = self._pool.submit(self._compress, name, data)
        self._pending.append((name, data, future))
        self._pending_bytes += len(data)
        while self._pending and (self._pending[0][2].done() or self._pending_bytes > PENDING_BYTES):
            self._drain_one()

    def _compress(self, name: str, data: bytes) -> tuple[Choice, bytes | None]:
        choice = self._policy.choose(name, data)
        return choice, (choice.compress(data) if choice.method != zipfile.ZIP_STORED else None)

    def _drain_one(self) -> None:
        name, data, future = self._pending.popleft()
        self._pending_bytes -= len(data)
        self._emit(name, data, *future.result())

    def _emit(self, name: str, data: bytes, choice: Choice, blob: bytes | None) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = choice.method
        info.external_attr = 0o644 << 16
        if blob is None:
            self._zip.writestr(info, data, compress_type=choice.method)
        else:
            with _precompressed(blob):
                self._zip.writestr(info, data, compress_type=choice.method)
        if self._on_written is not None:
            self._on_written(len(data))

    def close(self) -> None:
        """Write everything still pending; the pool's threads end."""
        try:
            while self._pending:
                self._drain_one()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
