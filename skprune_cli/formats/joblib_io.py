"""joblib files: read without ``joblib.load``, written with ``joblib.dump``.

A joblib file is a pickle stream in which every numpy array is replaced by a
``NumpyArrayWrapper`` record (subclass, shape, order, dtype, alignment) whose
raw bytes follow the record's ``BUILD`` opcode in the stream, outside any
pickle frame; object arrays follow as a nested pickle instead. The whole
stream may be compressed (zlib, gzip, bz2, xz, lzma: ``pickle_io`` opens it).
``joblib.load`` instantiates whatever the file names and trusts the record's
header; here every global goes through the allowlist, the records are inert
placeholders, and each header is checked against the bytes that can follow and
the limits before its array is allocated and filled in place.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any, BinaryIO, Iterable

import numpy as np

from .allowlist import Refused, check_global
from .archive import human_size
from .pickle_io import JOBLIB_MODULES, Bounded, Malformed, StreamInfo, is_joblib_record

# joblib turns numpy.memmap into a plain array on load; the name only ever appears as a record's subclass.
MEMMAP_NAMES = {("numpy", "memmap"), ("numpy.core.memmap", "memmap"), ("numpy._core.memmap", "memmap")}
MAX_PADDING = 255


class RefusedGlobals(Refused):
    """Every global outside the allowlist met while reading the file."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class ArrayRecord:
    """Stands in for joblib's ``NumpyArrayWrapper``: holds the header, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class Memmap:
    """Stands in for ``numpy.memmap`` as a record's subclass (joblib loads those as plain arrays)."""


class Absent:
    """Stands in for a refused global so the read goes on and every refused name is listed at once.

    Calling it, building it or setting its state does nothing; nothing refused ever runs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class JoblibUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """The pure-Python unpickler (as ``joblib.load`` uses: array bytes sit between opcodes) with the
    allowlist deciding every global and array records read here."""

    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, stream: Bounded, trusted: Iterable[str], info: StreamInfo,
                 refused: list[str] | None = None) -> None:
        super().__init__(stream)
        self.stream = stream
        self.trusted = frozenset(trusted)
        self.info = info
        self.refused = [] if refused is None else refused

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":
            module = "builtins"
        if is_joblib_record(module, name):
            if name != "NumpyArrayWrapper":
                raise Malformed("written by joblib 0.9 or older (arrays kept in companion files), "
                                "which skprune does not read")
            return ArrayRecord
        if (module, name) in MEMMAP_NAMES:
            return Memmap
        try:
            return check_global(module, name, self.trusted)
        except Refused:
            self.refused.append(f"{module}.{name}")
            return Absent

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not supported")

    def load_all(self) -> Any:
        """``load``, then the verdict on globals: any refused name refuses the file."""
        try:
            obj = self.load()
        except Exception:
            if self.refused:  # a stand-in upset what came after it: the refusal is the reason
                raise RefusedGlobals(list(dict.fromkeys(self.refused))) from None
            raise
        if self.refused:
            raise RefusedGlobals(list(dict.fromkeys(self.refused)))
        return obj

    def load_build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        if type(self.stack[-1]) is ArrayRecord:
            self.stack[-1] = self.read_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    # ------------------------------------------------------------------ array records

    def read_array(self, record: ArrayRecord) -> np.ndarray:
        state = getattr(record, "state", None)
        if not isinstance(state, dict):
            raise Malformed("joblib array record without a header")
        subclass, shape, order, dtype = (state.get(k) for k in ("subclass", "shape", "order", "dtype"))
        if not isinstance(dtype, np.dtype):
            raise Malformed(f"joblib array record has no valid dtype ({type(dtype).__name__})")
        if order not in ("C", "F"):
            raise Malformed(f"joblib array record has order {order!r}, not 'C' or 'F'")
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
            raise Malformed(f"joblib array record has an invalid shape {shape!r}"[:200])
        if not (subclass is Memmap or (isinstance(subclass, type) and issubclass(subclass, np.ndarray))):
            raise Malformed("joblib array record names a subclass that is not an array type")
        self._check_frame_done()
        count = 1
        for n in shape:
            count *= n
        if dtype.hasobject:
            array = self._read_object_array(shape, dtype)
        else:
            array = self._read_raw_array(state, count, shape, order, dtype)
        if subclass is np.matrix:
            array = np.asmatrix(array)
        return array

    def _check_frame_done(self) -> None:
        frame = getattr(self._unframer, "current_frame", None)
        if frame is not None and frame.tell() < len(frame.getbuffer()):
            raise Malformed("joblib array data starts inside a pickle frame")

    def _read_raw_array(self, state: dict[str, Any], count: int, shape: tuple[int, ...], order: str,
                        dtype: np.dtype) -> np.ndarray:
        align = state.get("numpy_array_alignment_bytes")
        if align is not None:
            padding = self._exactly(1)[0]
            if padding > MAX_PADDING:
                raise Malformed("joblib array record has an invalid padding")
            self._exactly(padding)
        nbytes = count * dtype.itemsize
        self._room(nbytes, shape, dtype)
        array = np.empty(count, dtype=dtype)
        if nbytes:
            got = self.stream.readinto(memoryview(array).cast("B"))
            if got != nbytes:
                raise Malformed(f"joblib array data ends after {human_size(got)} of the "
                                f"{human_size(nbytes)} its record promises (truncated file?)")
        if dtype.byteorder not in ("=", "|") and dtype.byteorder != _NATIVE:
            array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
        return array.reshape(shape[::-1]).T if order == "F" else array.reshape(shape)

    def _room(self, nbytes: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """The header's size against what can follow, before anything is allocated."""
        if dtype.itemsize == 0 and nbytes == 0 and len(shape) and max(shape) > 1 << 20:
            raise Malformed(f"joblib array record {shape} of an empty dtype")
        what = f"joblib array record {shape} {dtype} ({human_size(nbytes)})"
        if not self.info.compressed:
            left = self.info.size - self.stream.count
            if nbytes > left:
                raise Malformed(f"{what} promises more bytes than the file holds ({human_size(left)} left)")
            return
        self.stream.room(nbytes, what)  # the size and ratio limits a compressed stream is held to

    def _read_object_array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """Object arrays follow as a nested pickle, read by this same restricted unpickler."""
        nested = JoblibUnpickler(self.stream, self.trusted, self.info, self.refused)
        array = nested.load()
        if self.refused:
            raise RefusedGlobals(list(dict.fromkeys(self.refused)))
        if not (type(array) is np.ndarray and array.dtype == dtype and array.shape == shape):
            raise Malformed("joblib object array does not match its record's dtype and shape")
        return array

    def _exactly(self, n: int) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise Malformed("joblib array record is cut short (truncated file?)")
        return data


_NATIVE = "<" if sys.byteorder == "little" else ">"

# ---------------------------------------------------------------------------------- writing

# --compression for a .joblib output: joblib's own codecs, so plain joblib.load reads the file.
JOBLIB_COMPRESSION = {"none": None, "deflate": ("zlib", 3), "bzip2": ("bz2", 9), "lzma": ("xz", 6),
                      "best": ("xz", 9)}


def write_joblib(obj: Any, handle: BinaryIO, compression: str = "none") -> None:
    """``joblib.dump`` of our own in-memory object (writing, not loading) to an open temp file."""
    import joblib

    codec = JOBLIB_COMPRESSION[compression]
    joblib.dump(obj, handle, compress=codec if codec is not None else 0)


__all__ = ["JoblibUnpickler", "RefusedGlobals", "write_joblib", "JOBLIB_COMPRESSION", "JOBLIB_MODULES"]
