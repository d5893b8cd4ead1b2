"""Listing a ``.skops`` archive's arrays without building the model.

Reads only the zip directory, the ``.npy`` headers and ``schema.json``; no
estimator is constructed and no array data is decompressed, so nothing in
the file runs and a 300 MB model is listed in a fraction of a second.
``schema.json`` is decoded with msgspec into a typed node tree that skips
what listing does not need (a 75k-word vocabulary costs almost nothing).
Paths follow the same rules as ``walk.py``, so they match what ``shrink``
reports.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import msgspec
import numpy as np

from ..errors import InputRefused
from ..paths import join, named_items
from .archive import MAX_DEPTH, Limits, References, check_archive, member_sizes, npy_header
from .schema_nodes import (
    DECODER, DICT_DECODER, FILE_KEY, OWNERS, TYPED_KEY, AttrDict, DefaultDictNode, DeprecatedDictNode, DictNode,
    JsonNode, ListNode, LossNode, MaskedArrayNode, NdArrayNode, ObjectNode, SetNode, SparseMatrixNode, TreeNode, TupleNode, Node,
)
from .schema_checks import check_extras, check_root, check_trees
from .trust import accepted_by_name as _acceptable, refusal



def _skops_protocol() -> int:
    """The newest protocol the installed skops reads, found without importing skops (slow)."""
    import importlib.util

    spec = importlib.util.find_spec("skops")
    if spec is not None and spec.submodule_search_locations:
        protocol_file = Path(list(spec.submodule_search_locations)[0]) / "io" / "_protocol.py"
        found = re.search(r"^PROTOCOL\s*=\s*(\d+)", protocol_file.read_text(), re.M) if protocol_file.exists() else None
        if found:
            return int(found.group(1))
    return 2


SKOPS_PROTOCOL = _skops_protocol()




@dataclass
class SchemaArray:
    path: str
    owner_class: str
    owner_module: str
    attr: str
    file: str
    dtype: np.dtype
    shape: tuple[int, ...]
    nbytes: int
    sparse: bool = False
    alias_paths: list[str] = field(default_factory=list)


def _sparse_info(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and payload bytes of a scipy ``.npz`` member (its own small zip)."""
    with zipfile.ZipFile(io.BytesIO(archive.read(name))) as inner:
        shape: tuple[int, ...] = ()
        dtype = np.dtype(np.float64)
        total = 0
        for item in inner.namelist():
            if not item.endswith(".npy"):
                continue
            dims, kind, _ = npy_header(inner, item)
            if item == "shape.npy":
                shape = tuple(int(v) for v in np.load(io.BytesIO(inner.read(item)), allow_pickle=False))
            elif item != "format.npy":
                total += int(np.prod(dims, dtype=np.int64)) * kind.itemsize
                if item == "data.npy":
                    dtype = kind
    return shape, dtype, total


def _name_of(node: object) -> str | None:
    """The name of a ``(name, estimator, ...)`` tuple node, as walk.py names live tuples."""
    if not isinstance(node, TupleNode) or len(node.content) < 2 or not isinstance(node.content[0], JsonNode):
        return None
    try:
        value = msgspec.json.decode(node.content[0].content)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) else None


class _Lister:
    def __init__(self, archive: zipfile.ZipFile, path: str) -> None:
        self.archive = archive
        self.arrays: list[SchemaArray] = []
        self.by_file: dict[str, SchemaArray] = {}
        self.seen: set[int] = set()
        self.kinds: set[tuple[str, str, str]] = set()  # (loader, module, class) of every node
        self.trees: list[tuple[str, TreeNode]] = []
        self.predictors: list[tuple[str, ObjectNode]] = []
        self.binary_trees: list[tuple[str, ObjectNode]] = []  # KD/Ball trees
        self.splines: list[tuple[str, ObjectNode]] = []
        self.sparse: list[tuple[str, str]] = []  # (path, member)
        self.refs = References(path, member_sizes(archive))

    def visit(self, root: object) -> None:
        stack: list[tuple[object, str, str, str, str, frozenset[int]]] = [(root, "", "", "", "", frozenset())]
        while stack:
            node, path, owner, module, attr, ancestors = stack.pop()
            if len(ancestors) > MAX_DEPTH:
                raise ValueError("schema nests too deeply")
            if isinstance(node, Node) and not isinstance(node, (JsonNode, NdArrayNode, SparseMatrixNode)):
                ancestors = self.refs.enter(node.id, ancestors)
            children = self._children(node, path, owner, module, attr)
            stack.extend((c, p, o, m, a, ancestors) for c, p, o, m, a in reversed(children))

    def _children(self, node: object, path: str, owner: str, module: str, attr: str) -> list:
        if not isinstance(node, Node):
            return []
        self.kinds.add((type(node).__name__, node.module, node.cls))
        if node.id is not None and not isinstance(node, (JsonNode, NdArrayNode, SparseMatrixNode)):
            # skops writes an object again each time it is reached (a Tree's state, a shared
            # RandomState); walk.py visits each object once, at its first path: so do we
            if node.id in self.seen:
                return []
            self.seen.add(node.id)
        if isinstance(node, NdArrayNode):
            if node.type == "numpy" and node.file:
                self.refs.member(node.file, node.id)
                if node.cls == "ndarray":  # numpy scalars (np.float64 intercepts...) are not arrays to walk.py
                    self._array(node.file, path, owner, module, attr, sparse=False)
                return []
            return [(item, join(path, str(i)), owner, module, attr) for i, item in enumerate(node.content or [])]
        if isinstance(node, SparseMatrixNode):
            if node.file:
                self.refs.member(node.file, node.id)
                self._array(node.file, path, owner, module, attr, sparse=True)
                self.sparse.append((path, node.file))
            return []
        if isinstance(node, (TreeNode, LossNode)) and node.reduce is not None:
            self._kinds_only(node.reduce.args)  # constructor arguments: typed, but never walked for arrays
        if isinstance(node, TreeNode):
            self.trees.append((path, node))
        if isinstance(node, ObjectNode) and node.cls == "TreePredictor":
            self.predictors.append((path, node))
        if isinstance(node, ObjectNode) and node.cls in ("KDTree", "BallTree") and node.module.startswith("sklearn."):
            self.binary_trees.append((path, node))
        if isinstance(node, ObjectNode) and node.cls == "BSpline" and node.module.startswith("scipy."):
            self.splines.append((path, node))
        if isinstance(node, OWNERS):
            state = node.content
            if isinstance(state, TupleNode):  # a compiled object's pickled state: items are its attributes
                return [(item, join(path, str(i)), node.cls, node.module, str(i)) for i, item in enumerate(state.content)]
            return [(state, path, node.cls, node.module, "")] if state is not None else []
        if isinstance(node, DictNode):
            raw = memoryview(node.content)
            if FILE_KEY.search(raw) is None:  # a vocabulary or parameters: no arrays
                if TYPED_KEY.search(raw) is not None:  # but objects or functions to judge
                    self._kinds_only(DICT_DECODER.decode(node.content))
                return []
            values = DICT_DECODER.decode(node.content)
            return [(value, join(path, key), owner, module, attr or key) for key, value in values.items()]
        if isinstance(node, AttrDict):
            return [(value, join(path, key), owner, module, attr or key) for key, value in node.content.items()]
        if isinstance(node, (DefaultDictNode, DeprecatedDictNode)):
            return [(node.content.main, path, owner, module, attr)] if node.content is not None else []
        if isinstance(node, MaskedArrayNode):
            return []
        if isinstance(node, SetNode):
            self._kinds_only(node.content)
            return []
        if isinstance(node, (ListNode, TupleNode)):
            items = node.content
            names = named_items(items, _name_of)
            if names is None:
                return [(item, join(path, str(i)), owner, module, attr) for i, item in enumerate(items)]
            out = []
            for name, item in zip(names, items):
                base = join(path, name)
                out += [(part, base if j == 1 else f"{base}~{j}", owner, module, attr)
                        for j, part in enumerate(item.content) if j >= 1]  # type: ignore[union-attr]
            return out
        return []

    def _kinds_only(self, value: object) -> None:
        """Record the type of every node under ``value`` (arguments, plain dicts, sets)."""
        stack = [value]
        while stack:
            item = stack.pop()
            if len(stack) > 1_000_000:
                raise ValueError("schema is too large to judge")
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, msgspec.Struct):
                if isinstance(item, Node):
                    self.kinds.add((type(item).__name__, item.module, item.cls))
                if isinstance(item, DictNode):
                    if TYPED_KEY.search(memoryview(item.content)) is not None:
                        stack.append(DICT_DECODER.decode(item.content))
                    continue
                stack.extend(getattr(item, field) for field in item.__struct_fields__
                             if field in ("content", "args", "main", "data", "reduce"))

    def _array(self, file: str, path: str, owner: str, module: str, attr: str, sparse: bool) -> None:
        known = self.by_file.get(file)
        if known is not None:
            known.alias_paths.append(path)
            return
        if sparse:
            shape, dtype, nbytes = _sparse_info(self.archive, file)
        else:
            shape, dtype, _ = npy_header(self.archive, file)
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        entry = SchemaArray(path, owner, module, attr, file, dtype, shape, nbytes, sparse)
        self.by_file[file] = entry
        self.arrays.append(entry)


@contextlib.contextmanager
def _schema_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> Iterator[Any]:
    """``schema.json``'s bytes; a stored (uncompressed) member is mapped, not copied."""
    if info.compress_type != zipfile.ZIP_STORED:
        yield archive.read(info)
        return
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        local = mapped[info.header_offset : info.header_offset + 30]
        if local[:4] != b"PK\x03\x04":
            raise InputRefused("schema.json's local header is damaged", path)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        # no checksum pass: listing builds nothing, and a damaged schema simply fails to decode
        yield memoryview(mapped)[start : start + info.file_size]
    finally:
        with contextlib.suppress(BufferError):  # decoded Raw slices still alive: the GC closes it
            mapped.close()


@dataclass
class Listing:
    arrays: list[SchemaArray]
    root_class: str
    schema_bytes: int
    types: list[str]


def list_arrays(path: str, limits: Limits = Limits(), trust: Iterable[str] = ()) -> Listing:
    """Every array in a ``.skops`` file, named as ``shrink`` names it, without building the model.

    The file passes the same structural checks as for ``shrink`` (archive, headers, protocol,
    references, tree nodes), and names no type skops would question unless ``trust`` does."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputRefused(f"not a readable skops archive ({exc})", path) from None
    with archive:
        check_archive(archive, path, limits)
        info = archive.getinfo("schema.json")
        try:
            lister = _Lister(archive, path)
            with _schema_bytes(archive, info, path) as raw:
                root = DECODER.decode(raw)
                protocol = root.protocol
                if protocol is None or not 0 <= protocol <= SKOPS_PROTOCOL:
                    raise InputRefused(f"schema.json has unsupported skops protocol {protocol!r}", path)
                lister.visit(root)
                check_root(root, path)
                root_class = root.cls
                del root  # lazy dicts reference the mapped file
            trusted = set(trust)
            foreign = sorted({f"{m}.{c}" for loader, m, c in lister.kinds
                              if not _acceptable(loader, m, c) and f"{m}.{c}" not in trusted})
            if foreign:
                raise InputRefused(refusal(foreign), path)
            check_trees(lister, archive, path)
            check_extras(lister, archive, path)
        except InputRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - a schema we cannot list is refused, never a crash
            raise InputRefused(f"malformed skops archive ({type(exc).__name__}: {exc})", path) from None
        return Listing(lister.arrays, root_class, info.file_size, sorted(f"{m}.{c}" for _, m, c in lister.kinds))
