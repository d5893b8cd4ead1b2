"""Reading pickles without running foreign code, and writing them back.

Only globals on the allowlist (``allowlist.py``) or named by the user with
``--trust`` are resolved; everything else stops the load before the object
it names can be called. Compressed pickles (gzip, xz, bzip2) are recognised by
their magic bytes and written by suffix, so ``pickle.load(gzip.open(path))``
and ``joblib.load(path)`` read what skprune writes.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import pickle
import pickletools
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from ..errors import InputRefused
from .allowlist import Refused, check_global
from ..progress import reporter, step
from .archive import RATIO_FLOOR, Limits, human_size

HEADROOM = 2 << 30  # address space granted on top of what the data can justify

PICKLE_PROTOCOL = 5
COMPRESSORS = {"gzip": gzip, "xz": lzma, "bz2": bz2}
MAGIC = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bz2"))


def sniff_compression(head: bytes) -> str | None:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_stream(handle: BinaryIO, compression: str | None) -> BinaryIO:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(handle, mode="rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(handle, mode="rb")  # type: ignore[return-value]
    return handle


class Bounded:
    """A decompressed stream that stops at the size limit and at absurd expansion ratios."""

    def __init__(self, stream: BinaryIO, compressed: int, limits: Limits) -> None:
        self._stream = stream
        self._compressed = max(compressed, 1)
        self._limits = limits
        self.count = 0

    def _account(self, n: int) -> None:
        self.count += n
        reporter().advance(n)
        if self.count > self._limits.max_size:
            raise _TooBig(f"decompresses to more than {human_size(self._limits.max_size)} "
                          "(raise the limit with --max-size if you trust it)")
        if self.count > RATIO_FLOOR and self.count > self._limits.max_ratio * self._compressed:
            raise _TooBig(f"expands more than {self._limits.max_ratio:g}x "
                          "(raise the limit with --max-ratio if you trust it)")

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._account(len(data))
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self._stream.readline(limit)
        self._account(len(data))
        return data

    def peek(self, n: int = 0) -> bytes:  # lets the C unpickler read ahead instead of call by call
        return self._stream.peek(n) if hasattr(self._stream, "peek") else b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        return len(data)


class _TooBig(Exception):
    pass


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_cap(extra: int) -> Iterator[None]:
    """Cap the address space while unpickling: allowed callables such as ``bytes(n)`` or
    ``numpy.ndarray(shape)`` cannot then allocate far beyond what the file justifies."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _address_space() + extra
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft != resource.RLIM_INFINITY and soft <= cap:
            yield
            return
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError):  # no rlimits here: the other checks still hold
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose every global goes through the allowlist."""

    def __init__(self, handle: BinaryIO, trusted: Iterable[str] = ()) -> None:
        super().__init__(handle)
        self.trusted = frozenset(trusted)

    def find_class(self, module: str, name: str) -> Any:
        return check_global(module, name, self.trusted)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not supported")


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}


def scan_globals(stream: BinaryIO) -> list[str]:
    """Every global a pickle names, found by reading opcodes without executing them.

    Used to list *all* refused names in one message. ``STACK_GLOBAL`` takes its
    names from the two previous string pushes, which may come from the memo.
    """
    found: list[str] = []
    recent: list[Any] = []
    memo: dict[int, Any] = {}
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            name = opcode.name
            if name == "GLOBAL" or name == "INST":
                module, _, attr = str(arg).partition(" ")
                found.append(f"{module}.{attr}")
                recent.append(None)
            elif name == "STACK_GLOBAL":
                if len(recent) >= 2 and isinstance(recent[-2], str) and isinstance(recent[-1], str):
                    found.append(f"{recent[-2]}.{recent[-1]}")
                else:
                    found.append("<global built at run time>")
                recent.append(None)
            elif name in _STRING_OPS:
                recent.append(arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))
            else:
                recent.append(None)
            del recent[:-2]
    except Exception:  # noqa: BLE001 - a damaged stream still yields what was read so far
        pass
    return list(dict.fromkeys(found))


def _refused_names(path: Path, trusted: frozenset[str], first: str) -> list[str]:
    with open(path, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        names = scan_globals(open_stream(raw, sniff_compression(head)))
    refused = []
    for full in names:
        module, _, attr = full.rpartition(".")
        try:
            check_global(module, attr, trusted)
        except Refused:
            refused.append(full)
        except Exception:  # noqa: BLE001
            refused.append(full)
    return refused or [first]


def read_pickle(path: Path, trust: Iterable[str] = (), limits: Limits = Limits()) -> Any:
    trusted = frozenset(trust)
    size = path.stat().st_size
    with open(path, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        codec = sniff_compression(head)
        stream: Any = open_stream(raw, codec)
        expected = size if codec is None else min(limits.max_size, int(size * limits.max_ratio))
        stream = Bounded(stream, size, limits if codec is not None else Limits(max(size, 1), float("inf")))
        try:
            with memory_cap(4 * expected + HEADROOM), step("loading", None if codec else size):
                return RestrictedUnpickler(stream, trusted).load()
        except Refused as exc:
            first = str(exc)
        except _TooBig as exc:
            raise InputRefused(f"compressed pickle {exc}", str(path)) from None
        except RecursionError:
            raise InputRefused("pickle nests too deeply to load safely", str(path)) from None
        except MemoryError:
            raise InputRefused("pickle asks for far more memory than its size justifies", str(path)) from None
        except Exception as exc:  # noqa: BLE001 - any failure to parse is a refusal, never a crash
            raise InputRefused(f"not a readable pickle ({type(exc).__name__}: {exc})", str(path)) from None
    names = _refused_names(path, trusted, first)
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    raise InputRefused(
        f"refused to load globals outside the allowlist: {shown}; "
        "pass --trust MODULE.NAME for each one you have reviewed",
        str(path),
    )


def write_pickle(obj: Any, handle: BinaryIO, compression: str | None = None, level: int | None = None) -> None:
    if compression is None:
        pickle.dump(obj, handle, protocol=PICKLE_PROTOCOL)
        return
    if compression == "gzip":
        stream: Any = gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=level or 6, mtime=0)
    elif compression == "xz":
        preset = (9 | lzma.PRESET_EXTREME) if level == 9 else 6
        stream = lzma.LZMAFile(handle, mode="wb", preset=preset)
    elif compression == "bz2":
        stream = bz2.BZ2File(handle, mode="wb", compresslevel=level or 9)
    else:
        raise ValueError(f"unknown pickle compression {compression!r}")
    with stream:
        pickle.dump(obj, stream, protocol=PICKLE_PROTOCOL)

