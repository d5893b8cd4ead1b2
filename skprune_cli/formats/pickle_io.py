"""Reading pickles without running foreign code, and writing them back.

Only globals on the allowlist (``allowlist.py``) or named by the user with
``--trust`` are resolved; everything else stops the load before the object
it names can be called. Compressed streams (gzip, xz, lzma, bzip2 and joblib's
raw zlib) are recognised by their magic bytes, whatever the file is named, and
pickles are written by suffix, so ``pickle.load(gzip.open(path))`` and
``joblib.load(path)`` read what skprune writes. A stream that turns out to hold
joblib array records is read again by ``joblib_io``.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import pickle
import pickletools
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from ..errors import InputRefused
from .allowlist import Refused, check_global
from ..progress import reporter, step
from .archive import RATIO_FLOOR, Limits, human_size

HEADROOM = 2 << 30  # address space granted on top of what the data can justify

PICKLE_PROTOCOL = 5
CHUNK = 4 << 20  # largest single read into an array: bounds the decompressors' temporary copies
# "lzma" is the legacy .lzma ("alone") container joblib writes for compress=("lzma", n); "zlib" is
# joblib's default codec: one bare zlib stream. A protocol 0/1 pickle never starts with either.
MAGIC = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bz2"), (b"\x5d\x00", "lzma"))
# Recognised, never read: joblib's lz4 frames and its pre-0.10 "ZF" files (arrays in companion files).
FOREIGN = ((b"\x04\x22\x4d\x18", "compressed with lz4, which skprune does not read; "
                                 "re-save it with joblib.dump(..., compress=3)"),
           (b"ZF", "written by joblib 0.9 or older (arrays kept in companion files), which skprune does not read"))


def sniff_compression(head: bytes) -> str | None:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    return None


def foreign_container(head: bytes) -> str | None:
    """Why a recognised but unsupported container is refused, or None."""
    for magic, reason in FOREIGN:
        if head.startswith(magic):
            return reason
    return None


class ZlibReader(io.RawIOBase):
    """joblib's zlib files: one bare zlib stream, inflated in pieces of at most ``CHUNK`` bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), CHUNK)
        while want and not self._inflate.eof:
            pending = self._inflate.unconsumed_tail or self._raw.read(1 << 16)
            if not pending:
                raise EOFError("compressed stream ended before its end marker")
            data = self._inflate.decompress(pending, want)
            if data:
                view[: len(data)] = data
                return len(data)
        return 0


def open_stream(handle: BinaryIO, compression: str | None) -> BinaryIO:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    if compression in ("xz", "lzma"):
        return lzma.LZMAFile(handle, mode="rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(handle, mode="rb")  # type: ignore[return-value]
    if compression == "zlib":
        return io.BufferedReader(ZlibReader(handle), 1 << 16)  # type: ignore[return-value]
    return handle


class Bounded:
    """A decompressed stream that stops at the size limit and at absurd expansion ratios."""

    def __init__(self, stream: BinaryIO, compressed: int, limits: Limits) -> None:
        self._stream = stream
        self._compressed = max(compressed, 1)
        self._limits = limits
        self.count = 0

    def _account(self, n: int, ahead: int = 0) -> None:
        self.count += n
        reporter().advance(n)
        total = self.count + ahead
        if total > self._limits.max_size:
            raise _TooBig(f"decompresses to more than {human_size(self._limits.max_size)} "
                          "(raise the limit with --max-size if you trust it)")
        if total > RATIO_FLOOR and total > self._limits.max_ratio * self._compressed:
            raise _TooBig(f"expands more than {self._limits.max_ratio:g}x "
                          "(raise the limit with --max-ratio if you trust it)")

    def read(self, n: int = -1) -> bytes:
        if n is not None and n > CHUNK:  # a pickle's own length field: judged before it is read
            self._account(0, n)
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
        """Fill ``buffer`` in place, piece by piece: no second copy of a large array."""
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            n = self._stream.readinto(view[done : done + CHUNK])
            if not n:
                break
            self._account(n)
            done += n
        return done

    def room(self, n: int, what: str) -> None:
        """Refuse, before allocating, ``n`` more bytes (``what``) that the limits would refuse once read."""
        try:
            self._account(0, n)
        except _TooBig as exc:
            raise Malformed(f"{what} means the compressed file {exc}") from None


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


# joblib's array records: a pickle naming one is a joblib file, read again by ``joblib_io``.
JOBLIB_MODULES = ("joblib.numpy_pickle", "joblib.numpy_pickle_compat", "sklearn.externals.joblib.numpy_pickle",
                  "sklearn.externals.joblib.numpy_pickle_compat")
JOBLIB_RECORDS = {"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"}


def is_joblib_record(module: str, name: str) -> bool:
    return module in JOBLIB_MODULES and name in JOBLIB_RECORDS


class JoblibStream(Exception):
    """The pickle holds joblib array records: raw array bytes follow them in the stream."""


class Malformed(Exception):
    """The stream breaks the format's own rules (a reason for the user, without the path)."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose every global goes through the allowlist."""

    def __init__(self, handle: BinaryIO, trusted: Iterable[str] = ()) -> None:
        super().__init__(handle)
        self.trusted = frozenset(trusted)

    def find_class(self, module: str, name: str) -> Any:
        if is_joblib_record(module, name):
            raise JoblibStream(f"{module}.{name}")
        return check_global(module, name, self.trusted)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not supported")


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
_NO_STACK_EFFECT = {"PROTO", "FRAME", "STOP"}


def scan_globals(stream: BinaryIO) -> list[str]:
    """Every global a pickle names, found by reading opcodes without executing them.

    Used to list *all* refused names in one message. ``STACK_GLOBAL`` takes its
    names from the two previous string pushes, which may come from the memo;
    opcodes that push nothing (``FRAME`` between the module and the name, where the
    pickler commits a frame, ``MEMOIZE``, ``PUT``) leave those pushes in place.
    """
    found: list[str] = []
    recent: list[Any] = []
    memo: dict[int, Any] = {}
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            name = opcode.name
            if name in _NO_STACK_EFFECT:
                continue
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


def refused_among(names: Iterable[str], trusted: frozenset[str]) -> list[str]:
    refused = []
    for full in names:
        module, _, attr = full.rpartition(".")
        if is_joblib_record(module, attr):
            continue
        try:
            check_global(module, attr, trusted)
        except Exception:  # noqa: BLE001 - Refused, or a name that cannot even be resolved
            refused.append(full)
    return refused


def _refused_names(path: Path, trusted: frozenset[str], first: str) -> list[str]:
    with open(path, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        names = scan_globals(open_stream(raw, sniff_compression(head)))
    return refused_among(names, trusted) or [first]


def refusal(names: list[str], path: Path) -> InputRefused:
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return InputRefused(
        f"refused to load globals outside the allowlist: {shown}; "
        "pass --trust MODULE.NAME for each one you have reviewed",
        str(path),
    )


def read_pickle(path: Path, trust: Iterable[str] = (), limits: Limits = Limits()) -> tuple[Any, str]:
    """The object in a pickle or joblib file (plain or compressed) and which of the two it was."""
    trusted = frozenset(trust)
    try:
        return _read(path, limits, lambda stream, _: RestrictedUnpickler(stream, trusted).load()), "pickle"
    except JoblibStream:
        pass
    except Refused as exc:
        raise refusal(_refused_names(path, trusted, str(exc)), path) from None
    from .joblib_io import JoblibUnpickler, RefusedGlobals

    try:
        return _read(path, limits, lambda stream, info: JoblibUnpickler(stream, trusted, info).load_all(),
                     "joblib file"), "joblib"
    except RefusedGlobals as exc:
        raise refusal(refused_among(exc.names, trusted) or exc.names, path) from None


MEMO_SCAN_MAX = 8 << 20  # plain pickles up to this size are scanned for memo bombs first
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def memo_overreach(handle: BinaryIO) -> bool:
    """A memo index far beyond the opcodes read so far. CPython grows its memo table up to the
    index a PUT names, so ``LONG_BINPUT 2**27`` costs 2 GiB for 10 bytes; a pickler numbers its
    memo entries in order, so a real index never runs ahead of the opcodes before it. Only small
    files are scanned: for big ones the memory cap (4x the file plus headroom) is the bound."""
    count = 0
    try:
        for opcode, arg, _ in pickletools.genops(handle):
            count += 1
            if opcode.name in _PUTS and int(arg) > count + 1024:
                return True
    except Exception:  # noqa: BLE001 - a stream genops cannot follow (joblib arrays) is judged by the unpickler
        return False
    return False


class StreamInfo:
    """What the joblib reader must know to judge an array record before allocating it."""

    def __init__(self, size: int, compressed: bool) -> None:
        self.size = size
        self.compressed = compressed


def _read(path: Path, limits: Limits, load: Any, kind: str = "pickle") -> Any:
    size = path.stat().st_size
    with open(path, "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        reason = foreign_container(head)
        if reason:
            raise InputRefused(reason, str(path))
        codec = sniff_compression(head)
        if codec is None and size <= MEMO_SCAN_MAX:
            if memo_overreach(raw):
                raise InputRefused(f"{kind} names a memo slot far beyond its size (a memory bomb)", str(path))
            raw.seek(0)
        stream: Any = open_stream(raw, codec)
        expected = size if codec is None else min(limits.max_size, int(size * limits.max_ratio))
        stream = Bounded(stream, size, limits if codec is not None else Limits(max(size, 1), float("inf")))
        try:
            with memory_cap(4 * expected + HEADROOM), step("loading", None if codec else size):
                return load(stream, StreamInfo(size, codec is not None))
        except (Refused, JoblibStream):
            raise
        except _TooBig as exc:
            what = "compressed file" if codec else "file"
            raise InputRefused(f"{what} {exc}", str(path)) from None
        except Malformed as exc:
            raise InputRefused(str(exc), str(path)) from None
        except RecursionError:
            raise InputRefused(f"{kind} nests too deeply to load safely", str(path)) from None
        except MemoryError:
            raise InputRefused(f"{kind} asks for far more memory than its size justifies", str(path)) from None
        except Exception as exc:  # noqa: BLE001 - any failure to parse is a refusal, never a crash
            raise InputRefused(f"not a readable {kind} ({type(exc).__name__}: {exc})", str(path)) from None


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

