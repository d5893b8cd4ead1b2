"""Checks on a ``.skops`` zip before anything in it is decompressed or allocated.

A crafted archive can declare members that expand to gigabytes, hide paths
like ``../x``, repeat names so the schema reads one member and a scanner
another, or carry ``.npy`` headers that allocate huge arrays. Everything here
reads only the zip's central directory, the first bytes of each ``.npy``
member and ``schema.json`` (whose declared size is already bounded).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputRefused, UsageError

KNOWN_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
RATIO_FLOOR = 64 << 20  # members smaller than this are not judged by their ratio
MAX_DEPTH = 500
# identical members up to this size may be written once and referenced by several objects (skprune's
# own outputs do: a forest's per-tree ``classes_``); what sharing re-reads stays under SHARED_TOTAL
SHARED_MEMBER_MAX = 4096
SHARED_TOTAL = 64 << 20
HEADER_BYTES = 1 << 16
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class Limits:
    """How much a model file may expand to; raised with ``--max-size`` / ``--max-ratio``."""

    max_size: int = 16 << 30  # total declared uncompressed bytes (several-GB models fit)
    max_ratio: float = 100.0  # uncompressed / compressed, for members over 64 MiB

    @classmethod
    def parse(cls, max_size: str | None = None, max_ratio: float | None = None) -> "Limits":
        size = cls.max_size if max_size is None else parse_size(max_size)
        ratio = cls.max_ratio if max_ratio is None else float(max_ratio)
        if ratio <= 0:
            raise UsageError("--max-ratio must be positive")
        return cls(size, ratio)


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text.upper())
    if not match:
        raise UsageError(f"--max-size {text!r}: expected a size such as 500M or 16G")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _refuse(path: str, reason: str) -> InputRefused:
    return InputRefused(reason, path)


def check_members(archive: zipfile.ZipFile, path: str, limits: Limits, require_schema: bool = True) -> None:
    """Names, flags, methods and declared sizes of every member."""
    seen: set[str] = set()
    total = 0
    for info in archive.infolist():
        name = info.filename
        if name in seen:
            raise _refuse(path, f"archive has two members named {name!r}")
        seen.add(name)
        if name.startswith(("/", "\\")) or ".." in re.split(r"[\\/]", name) or re.match(r"^[A-Za-z]:", name):
            raise _refuse(path, f"archive member {name!r} has an absolute or parent-directory path")
        if info.flag_bits & 0x1:
            raise _refuse(path, f"archive member {name!r} is encrypted")
        if info.compress_type not in KNOWN_METHODS:
            raise _refuse(path, f"archive member {name!r} uses unsupported compression method {info.compress_type}")
        total += info.file_size
        if total > limits.max_size:
            raise _refuse(path, f"archive expands to more than {human_size(limits.max_size)} "
                                "(raise the limit with --max-size if you trust it)")
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise _refuse(path, f"archive member {name!r} expands {ratio:.0f}x to {human_size(info.file_size)} "
                                f"(over the {limits.max_ratio:g}x limit; raise it with --max-ratio if you trust it)")
    if require_schema and "schema.json" not in seen:
        raise _refuse(path, "not a skops archive (no schema.json)")


def parse_npy_header(head: bytes | memoryview) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) from the first bytes of an ``.npy`` file; never unpickles."""
    stream = io.BytesIO(bytes(memoryview(head)[:HEADER_BYTES]))
    version = np.lib.format.read_magic(stream)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(stream, max_header_size=HEADER_BYTES)
    return tuple(int(n) for n in shape), dtype, stream.tell()


def npy_header(archive: zipfile.ZipFile, member: str | zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """The header of an ``.npy`` member, decompressing only its first bytes."""
    with archive.open(member) as handle:
        return parse_npy_header(handle.read(HEADER_BYTES))


def check_arrays(archive: zipfile.ZipFile, path: str, limits: Limits) -> None:
    """Every ``.npy`` header parses without pickles and matches its member's size.

    Arrays are found by content too: skops reads a member under whatever name the schema
    gives, and numpy allocates what a header declares before reading the data."""
    for info in archive.infolist():
        name = info.filename
        magic = b"" if name == "schema.json" or name.endswith((".npy", ".npz")) else _magic(archive, info)
        if name.endswith(".npz") or magic == b"PK\x03\x04":
            check_inner_npz(archive, info, path, limits)
            continue
        if not name.endswith(".npy") and magic != b"\x93NUM":
            continue
        try:
            shape, dtype, header_len = npy_header(archive, info)
        except Exception as exc:  # noqa: BLE001 - any header numpy will not parse safely is refused
            raise _refuse(path, f"array member {info.filename!r} has a bad header ({exc})") from None
        if dtype.hasobject:
            raise _refuse(path, f"array member {info.filename!r} holds Python objects (would need unpickling)")
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize + header_len
        if expected != info.file_size:
            raise _refuse(path, f"array member {info.filename!r} declares {shape} {dtype} "
                                f"({expected} bytes) but the member holds {info.file_size}")


def _magic(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as handle:
            return handle.read(4)
    except Exception:  # noqa: BLE001 - unreadable: skops fails on it too, and says so
        return b""


def check_inner_npz(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, limits: Limits) -> None:
    """A sparse matrix is an ``.npz`` zip inside the zip: the same checks apply one level down."""
    data = archive.read(info)  # bounded by the member's declared size, already checked
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _refuse(path, f"sparse member {info.filename!r} is not a valid .npz") from None
    with inner:
        try:
            check_members(inner, path, limits, require_schema=False)
            check_arrays(inner, path, limits)
        except InputRefused as exc:
            raise _refuse(path, f"in sparse member {info.filename!r}: {exc.message}") from None


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON containers, without recursion.

    Only containers are pushed (a 550 MB vocabulary schema: 13.5 -> 4.1 s)."""
    deepest, stack = 0, [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > deepest:
            deepest = depth
            if depth > MAX_DEPTH:
                return depth
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                push((child, depth + 1))
    return deepest


def read_checked_schema(archive: zipfile.ZipFile, path: str, supported: int) -> dict[str, Any]:
    """``schema.json`` as a dict: valid JSON, bounded depth, a protocol this skops reads."""
    raw = archive.read("schema.json")
    try:
        schema = json.loads(raw)
    except RecursionError:
        raise _refuse(path, f"schema.json nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"schema.json is not valid JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise _refuse(path, "schema.json does not describe an object")
    if _depth(schema) > MAX_DEPTH:
        raise _refuse(path, f"schema.json nests deeper than {MAX_DEPTH} levels")
    protocol = schema.get("protocol")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or not 0 <= protocol <= supported:
        raise _refuse(path, f"schema.json has unsupported skops protocol {protocol!r} (this skops reads 0..{supported})")
    return schema


class References:
    """What skops files may legitimately do with object ids and members.

    skops names an array's member after the array object's id, and gives every
    node the id of the object it stands for; so one member is referenced by one
    id (a crafted file pointing 200 arrays at one 8 MiB member multiplies the
    memory it costs). skprune writes identical members of at most
    ``SHARED_MEMBER_MAX`` bytes once: those may be shared, up to
    ``SHARED_TOTAL`` bytes read again in all (``sizes``: the members' sizes).
    No node can contain a node with its own id (the object would contain
    itself: skops cannot write that, so it is crafted).
    """

    def __init__(self, path: str, sizes: dict[str, int] | None = None) -> None:
        self.path = path
        self.sizes = sizes or {}
        self.owner_of: dict[str, int | None] = {}
        self.shared = 0

    def member(self, name: str, node_id: int | None) -> None:
        if name in self.owner_of and (node_id is None or self.owner_of[name] != node_id):
            size = self.sizes.get(name, SHARED_MEMBER_MAX + 1)
            self.shared += size
            if size > SHARED_MEMBER_MAX or self.shared > SHARED_TOTAL:
                raise _refuse(self.path, f"member {name!r} is shared by different objects (a crafted archive)")
        self.owner_of[name] = node_id

    def enter(self, node_id: int | None, ancestors: frozenset[int]) -> frozenset[int]:
        if node_id is None:
            return ancestors
        if node_id in ancestors:
            raise _refuse(self.path, "schema.json has an object that contains itself (a crafted archive)")
        return ancestors | {node_id}


def member_sizes(archive: zipfile.ZipFile) -> dict[str, int]:
    return {info.filename: info.file_size for info in archive.infolist()}


def check_references(schema: dict[str, Any], path: str, sizes: dict[str, int] | None = None) -> None:
    """Apply ``References`` to a parsed ``schema.json``."""
    refs = References(path, sizes)
    stack: list[tuple[Any, frozenset[int]]] = [(schema, frozenset())]
    while stack:
        node, ancestors = stack.pop()
        if isinstance(node, list):
            stack.extend((item, ancestors) for item in node if isinstance(item, (dict, list)))
            continue
        if node.get("__loader__") == "JsonNode":
            continue
        node_id = node.get("__id__")
        node_id = node_id if isinstance(node_id, int) else None
        file = node.get("file")
        if isinstance(file, str):
            refs.member(file, node_id)
        inner = refs.enter(node_id, ancestors) if "__loader__" in node else ancestors
        stack.extend((value, inner) for key, value in node.items()
                     if isinstance(value, (dict, list)) and key not in ("key_types",))


def check_archive(archive: zipfile.ZipFile, path: str, limits: Limits) -> None:
    check_members(archive, path, limits)
    check_arrays(archive, path, limits)
