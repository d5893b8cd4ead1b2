"""Crafted hostile and broken joblib files for the bad-input suite (``hostile_payloads.CASES``).

A joblib file is a pickle stream in which raw array bytes follow each
``NumpyArrayWrapper`` record, the whole maybe compressed (zlib, gzip, bz2, xz,
lzma). The payloads are written by ``joblib.dump`` itself (an ``os.system`` call
in the object, or inside an object array, which joblib stores as a nested
pickle) and fire under ``joblib.load`` (``live="joblib"``). The bombs are
honest: an array record declaring 4 GiB of float64 zeros, followed by those
4 GiB, compressed to at most a few MB by repeating one compressed block (zlib,
gzip) or one compressed stream (bz2, xz, lzma: their readers, joblib's
included, read concatenated streams). ``joblib_bytes_with_zeros`` builds the
small versions that ``test_joblib_bombs_are_real`` loads with ``joblib.load``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import struct
import zlib
from pathlib import Path
from typing import Callable

import joblib
import numpy as np

from hostile_payloads import GiB, MiB, Case, Reduce, _full_flush, _write, small_logreg, touch_command

MARKER_COLUMNS = 77_777  # the marker array's width: a BININT in the pickled shape, found and patched
CODECS = ("zlib", "gzip", "bz2", "xz", "lzma")


def joblib_bytes(obj: object, compress: object = 0) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=compress)
    return buffer.getvalue()


def _marked_model() -> tuple[bytes, int, int]:
    """An uncompressed joblib LogisticRegression whose coef_ is a (1, 77777) marker; the data's bounds."""
    model = small_logreg()
    model.coef_ = np.full((1, MARKER_COLUMNS), 1.5)
    data = joblib_bytes(model)
    start = data.index(np.full(MARKER_COLUMNS, 1.5).tobytes())
    return data, start, start + MARKER_COLUMNS * 8


def _patch_columns(data: bytes, columns: int) -> bytes:
    old = b"J" + struct.pack("<i", MARKER_COLUMNS)
    assert data.count(old) == 1, "the marker shape must be pickled exactly once"
    return data.replace(old, b"J" + struct.pack("<i", columns))


def joblib_bytes_with_zeros(n_bytes: int) -> tuple[bytes, bytes]:
    """The stream before and after the data of a coef_ record declaring ``n_bytes`` of float64 zeros."""
    data, start, end = _marked_model()
    data = _patch_columns(data, n_bytes // 8)
    return data[:start], data[end:]


def write_zero_bomb(path: Path, codec: str, n_bytes: int = 4 * GiB, chunk: int = 16 * MiB) -> Path:
    """``prefix + n_bytes zeros + suffix`` compressed with ``codec`` without compressing 4 GiB."""
    assert n_bytes % chunk == 0
    prefix, suffix = joblib_bytes_with_zeros(n_bytes)
    repeats = n_bytes // chunk
    zeros = bytes(chunk)
    with open(path, "wb") as out:
        if codec in ("zlib", "gzip"):
            block = _full_flush(zeros)
            last = zlib.compressobj(9, zlib.DEFLATED, -15)
            out.write(b"\x78\x9c" if codec == "zlib" else b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
            out.write(_full_flush(prefix))
            for _ in range(repeats):
                out.write(block)
            out.write(last.compress(suffix) + last.flush())
            if codec == "zlib":
                adler = zlib.adler32(prefix)
                a, b = adler & 0xFFFF, adler >> 16
                b = (b + n_bytes * a) % 65521  # n zero bytes leave a alone and add a to b n times
                out.write(struct.pack(">I", zlib.adler32(suffix, b << 16 | a)))
            else:
                crc = zlib.crc32(prefix)
                for _ in range(repeats):
                    crc = zlib.crc32(zeros, crc)
                crc = zlib.crc32(suffix, crc)
                out.write(struct.pack("<II", crc, (len(prefix) + n_bytes + len(suffix)) & 0xFFFFFFFF))
        else:
            if codec == "bz2":
                compress: Callable[[bytes], bytes] = lambda data: bz2.compress(data, 9)  # noqa: E731
            else:
                fmt = lzma.FORMAT_XZ if codec == "xz" else lzma.FORMAT_ALONE
                compress = lambda data: lzma.compress(data, format=fmt, preset=0)  # noqa: E731
            out.write(compress(prefix))
            block = compress(zeros)
            for _ in range(repeats):
                out.write(block)
            out.write(compress(suffix))
    return path


def bomb_builder(codec: str) -> Callable[[Path, Path], Path]:
    def build(folder: Path, sentinel: Path) -> Path:
        return write_zero_bomb(folder / f"bomb_{codec}.joblib", codec)
    return build


def joblib_payload_global(folder: Path, sentinel: Path) -> Path:
    """joblib.dump of [an array, os.system(cmd)]: the call is an ordinary global after an array record."""
    data = joblib_bytes([np.arange(8.0), Reduce(os.system, touch_command(sentinel))])
    return _write(folder, "payload_global.joblib", data)


def _object_array_payload(sentinel: Path) -> np.ndarray:
    items = np.empty(3, dtype=object)
    items[:] = ["red", "green", Reduce(os.system, touch_command(sentinel))]
    return items


def joblib_object_array_payload(folder: Path, sentinel: Path) -> Path:
    """An object array (joblib writes it as a nested pickle) holding an os.system call."""
    return _write(folder, "object_array.joblib", joblib_bytes({"categories_": _object_array_payload(sentinel)}))


def joblib_object_array_payload_z(folder: Path, sentinel: Path) -> Path:
    """The same, compress=3 (zlib), named .pkl."""
    data = joblib_bytes({"categories_": _object_array_payload(sentinel)}, compress=3)
    return _write(folder, "object_array_z.pkl", data)


def joblib_gzip_payload(folder: Path, sentinel: Path) -> Path:
    data = joblib_bytes([np.arange(8.0), Reduce(os.system, touch_command(sentinel))], compress=("gzip", 3))
    return _write(folder, "payload_gzip.sav", data)


def _big_model() -> object:
    model = small_logreg()
    model.coef_ = np.random.default_rng(0).normal(size=(3, 40_000))  # ~1 MB of array data
    return model


def joblib_truncated(folder: Path, sentinel: Path) -> Path:
    """A valid joblib file cut in the middle of its largest array's data."""
    data = joblib_bytes(_big_model())
    return _write(folder, "truncated.joblib", data[: len(data) // 2])


def joblib_truncated_xz(folder: Path, sentinel: Path) -> Path:
    data = joblib_bytes(_big_model(), compress=("xz", 3))
    return _write(folder, "truncated_xz.joblib", data[: len(data) // 2])


def joblib_header_lies(folder: Path, sentinel: Path) -> Path:
    """The coef_ record promises twice the columns whose bytes follow (uncompressed: more than the file holds)."""
    data, _, _ = _marked_model()
    return _write(folder, "header_lies.joblib", _patch_columns(data, 2 * MARKER_COLUMNS))


def joblib_header_lies_gz(folder: Path, sentinel: Path) -> Path:
    """The same, gzip-compressed: the stream ends (or turns to opcodes) before the promised bytes."""
    data, _, _ = _marked_model()
    return _write(folder, "header_lies.pkl", gzip.compress(_patch_columns(data, 2 * MARKER_COLUMNS), mtime=0))


J = "joblib"
JOBLIB_CASES: list[Case] = [
    Case("joblib_payload_global", "joblib", joblib_payload_global, "joblib.dump of [array, os.system(cmd)]",
         live=J, sample=True),
    Case("joblib_gzip_payload", "joblib", joblib_gzip_payload, "the same, gzip-compressed, named .sav", live=J),
    Case("joblib_object_array", "joblib", joblib_object_array_payload,
         "os.system(cmd) inside an object array (a nested pickle)", live=J, sample=True),
    Case("joblib_object_array_z", "joblib", joblib_object_array_payload_z,
         "the same, compress=3 (zlib), named .pkl", live=J),
    Case("joblib_truncated", "joblib", joblib_truncated, "valid joblib file cut inside its array data"),
    Case("joblib_truncated_xz", "joblib", joblib_truncated_xz, "valid xz joblib file cut in half"),
    Case("joblib_header_lies", "joblib", joblib_header_lies, "array record promises 2x the bytes that follow",
         sample=True),
    Case("joblib_header_lies_gz", "joblib", joblib_header_lies_gz, "the same, gzip-compressed"),
] + [
    Case(f"joblib_bomb_{codec}", "joblib", bomb_builder(codec),
         f"{codec} joblib file: an array record of 4 GiB zeros, followed by them, in a few MB",
         heavy=True, max_rss=500 * MiB, max_seconds=10.0)
    for codec in CODECS
]
