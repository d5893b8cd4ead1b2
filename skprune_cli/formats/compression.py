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
thread is sampling waits for that decision. A time budget (``time_budget.py``)
gives a member a weaker step of its kind's ladder when the strongest would take
the job past 3.25x ``--zip``'s time. ``--zip`` estimates from small samples
what ``best`` would save.

Members compress independently and zlib, bz2 and lzma release the GIL:
``member_writer.MemberWriter`` compresses big members on a thread pool (both
cores) while skops produces the next ones, and writes them in order.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import struct
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .archive import parse_npy_header
from .time_budget import TimeBudget

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


Option = tuple[str, int, bool]  # (method, LZMA preset or DEFLATE/BZIP2 level, strong)


@dataclass(frozen=True)
class Ladder:
    """A kind's methods as sampled, weakest first, with their seconds per byte on the sample.

    The first step is ``--zip``'s own method, for when the time budget affords nothing more; the
    others are the steps ``best`` found worth their seconds that also beat it in size. The last
    step is what ``best`` would use without a budget.
    """

    steps: tuple[tuple[Option, float], ...]


@dataclass
class Choice:
    method: int
    level: int | None
    lzma: dict[str, Any] | None = None
    projected: float = 0.0  # seconds the time budget counted for this member

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
    # dtype made a ladder of methods, the rest of that dtype skip the sampling
    decided: dict[str, Ladder] = field(default_factory=dict)
    budget: TimeBudget | None = None  # best: None spends whatever the strongest steps take
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
        preset, strong, projected = 6, False, 0.0
        fast, fast_preset = self._zip_method(name, view, dtype)
        if self.mode == "best":
            size_class = "big" if len(view) >= ESTIMATE_SAMPLE else "small"  # small members: headers weigh more
            ladder = self._best_method(view, itemsize, f"{dtype}:{size_class}", (fast, fast_preset))
            (method, preset, strong), projected = self._afford(ladder, len(view))
        elif self.mode == "auto":
            method, preset = fast, fast_preset
            if self.estimate and method == "lzma":
                self._estimate(name, view, itemsize, str(dtype), method)
        else:
            method = self.mode
            if self.estimate and method == "deflate":
                self._estimate(name, view, itemsize, str(dtype))
        with self._lock:
            self.chosen[method] = self.chosen.get(method, 0) + 1
        level = preset if method in ("deflate", "bzip2") and self.mode == "best" else None
        spec = lzma_filter(itemsize, strong, preset, len(view)) if method == "lzma" else None
        return Choice(METHODS[method], level, spec, projected)

    def _zip_method(self, name: str, view: memoryview, dtype: np.dtype | None) -> tuple[str, int]:
        """What ``--zip`` uses for this member: fast LZMA for big arrays and a big schema, else DEFLATE."""
        big = len(view) >= FAST_MIN and (dtype is not None or name == "schema.json")
        return ("lzma", self.fast_preset) if big else ("deflate", 6)

    def _afford(self, ladder: Ladder, nbytes: int) -> tuple[Option, float]:
        if self.budget is None or len(ladder.steps) == 1:
            return ladder.steps[-1][0], 0.0
        with self._lock:
            return self.budget.pick(ladder.steps, nbytes)

    def encoded(self, produced: int, written: int) -> None:
        """skops produced a member of ``produced`` bytes, written as ``written`` (packed tree nodes, or 0 for
        a repeat): the time budget scales the bytes it expects by the same ratio."""
        if self.budget is not None:
            with self._lock:
                self.budget.encoded(produced, written)

    def settle(self, choice: Choice, seconds: float) -> None:
        """A member took ``seconds`` to compress: the time budget counts that instead of its projection."""
        if self.budget is not None and choice.projected:
            with self._lock:
                self.budget.settle(choice.projected, seconds)

    def _best_method(self, view: memoryview, itemsize: int, kind: str | None,
                     fast: tuple[str, int] = ("deflate", 6)) -> Ladder:
        """The methods worth their time on a sample: each step up in strength must pay for its seconds."""
        if len(view) < 64:
            return Ladder(((("none", 0, False), 0.0),))
        decision, owner = self._claim(kind)
        if decision:
            return decision
        try:
            return self._sample_methods(view, itemsize, kind, fast)
        finally:
            if owner:
                with self._lock:
                    self.deciding.pop(kind).set()  # type: ignore[arg-type]

    def _claim(self, kind: str | None) -> tuple[Ladder | None, bool]:
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

    def _sample_methods(self, view: memoryview, itemsize: int, kind: str | None,
                        fast: tuple[str, int]) -> Ladder:
        sample = _sample(view, SAMPLE)
        began = time.thread_time()
        options: list[Option] = [(*fast, False), ("deflate", 9, False), ("bzip2", 9, False), ("lzma", 6, False),
                                 ("lzma", 6, True)]
        steps: list[tuple[Option, float, int]] = []  # what each step costs and gives on the sample
        best_size = best_time = 0.0
        for option in options:  # --zip's method, then the others fastest first
            method, preset, strong = option
            spent = float("inf")
            for _ in range(1 if steps else 2):  # --zip's time is the budget's yardstick: the faster of two runs
                start = time.thread_time()
                size = compressed_size(method, sample, itemsize, strong or (method != "lzma" and preset == 9), preset)
                spent = min(spent, time.thread_time() - start)
            gain = (best_size - size) / max(best_size, 1)
            # CPU time, as a multiple of the current choice's: what another process takes does not count
            extra = max(spent / max(best_time, 1e-9) - 1.0, 0.0)
            if len(steps) <= 1 or (gain > 0 and gain >= GAIN_PER_TIME * extra):  # best's search starts at DEFLATE
                steps.append((option, spent / len(sample), size))
                best_size, best_time = size, spent
            elif method == "lzma" and strong:  # the strongest step did not pay: stop searching
                break
        floor, chosen = steps[0], steps[1:]
        ladder = Ladder((floor[:2], *(step[:2] for step in chosen[:-1] if step[2] < floor[2]), chosen[-1][:2]))
        with self._lock:
            if kind:
                self.decided[kind] = ladder
            if self.budget is not None:
                self.budget.charge(time.thread_time() - began)
        return ladder

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
