"""Writing archive members in order while a thread pool compresses them (both cores).

Members compress independently and zlib, bz2 and lzma release the GIL, so big
members go to a pool while skops produces the next ones. ``zipfile`` still
computes every CRC and size from the uncompressed data; only its compressor is
swapped for the bytes the pool produced, so each member is exactly what
``zipfile`` itself would write with that method.
"""

from __future__ import annotations

import contextlib
import os
import time
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterator

from .compression import FAST_MIN, Choice, Policy


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
    """Writes archive members in order, compressing big ones on a thread pool."""

    def __init__(self, zip_file: zipfile.ZipFile, policy: Policy, workers: int | None = None,
                 on_written: Any = None) -> None:
        self._zip, self._policy = zip_file, policy
        self._workers = workers or min(2, os.cpu_count() or 1)
        if policy.budget is not None:
            policy.budget.workers = self._workers
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
        if choice.method == zipfile.ZIP_STORED:
            return choice, None
        start = time.thread_time()
        blob = choice.compress(data)
        self._policy.settle(choice, time.thread_time() - start)
        return choice, blob

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
