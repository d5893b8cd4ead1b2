"""Crafted hostile and broken model files for the bad-input tests, built on demand.

Every builder takes ``(folder, sentinel)``, writes one file into ``folder`` and
returns its path; nothing binary is committed. The payloads are real: if a
loader ever ran one, it would create ``sentinel`` (``touch`` through
``os.system``, ``open(..., "w")`` through ``eval``, ``numpy.memmap`` in write
mode...) or a file beside it (``numpy.save`` adds ``.npy``), and do nothing
else. A test proves that a payload did not run by finding the sentinel's
folder still empty (``sentinel_fired``). Cases marked ``live`` are detonated
under the format's own standard loader by ``test_payloads_are_live``, so that
"the sentinel is absent" can never pass because a payload was broken.

``CASES`` is the table the CLI tests iterate over: file kind, expected exit
code, extra ``--trust`` options and how the case must be run (in-process, or
in a subprocess where memory and time are measured).
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
import pickle
import random
import shlex
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

GiB = 1 << 30
MiB = 1 << 20
TREE = "sklearn.tree._tree.Tree"
TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


# --------------------------------------------------------------------------- sentinel

def sentinel_fired(sentinel: Path) -> list[str]:
    """Files a payload created: anything at all in the sentinel's folder."""
    folder = sentinel.parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def touch_command(sentinel: Path) -> str:
    """Shell command of the ``os.system`` payloads."""
    return f"touch {shlex.quote(str(sentinel))}"


def python_code(sentinel: Path) -> str:
    """Python expression of the ``eval`` payloads."""
    return f"open({str(sentinel)!r}, 'w').close()"


class Reduce:
    """Pickles as ``func(*args)``: what an attacker's ``pickle.dumps`` writes."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.func, self.args


# --------------------------------------------------------------------------- pickle assembler

class Asm:
    """Hand-assembled pickle opcodes (names as in ``pickletools``); each method returns ``self``."""

    def __init__(self, protocol: int | None = 4) -> None:
        self.protocol = protocol
        self.body = bytearray()

    def raw(self, data: bytes) -> "Asm":
        self.body += data
        return self

    def str(self, text: str) -> "Asm":  # SHORT_BINUNICODE / BINUNICODE
        data = text.encode("utf-8")
        if len(data) < 256 and (self.protocol or 0) >= 4:
            return self.raw(pickle.SHORT_BINUNICODE + bytes([len(data)]) + data)
        return self.raw(pickle.BINUNICODE + struct.pack("<I", len(data)) + data)

    def unicode0(self, text: str) -> "Asm":  # protocol 0 UNICODE
        return self.raw(pickle.UNICODE + text.encode("raw-unicode-escape") + b"\n")

    def int(self, value: int) -> "Asm":
        return self.raw(pickle.BININT + struct.pack("<i", value))

    def glob(self, module: str, name: str) -> "Asm":  # GLOBAL (protocols 0-3)
        return self.raw(pickle.GLOBAL + f"{module}\n{name}\n".encode())

    def sglob(self, module: str, name: str) -> "Asm":  # STACK_GLOBAL (protocol 4+)
        return self.str(module).str(name).raw(pickle.STACK_GLOBAL)

    def call(self, nargs: int) -> "Asm":
        """Call the callable below the top ``nargs`` items with them (TUPLEn + REDUCE)."""
        tuples = {0: pickle.EMPTY_TUPLE, 1: pickle.TUPLE1, 2: pickle.TUPLE2, 3: pickle.TUPLE3}
        return self.raw(tuples[nargs] + pickle.REDUCE)

    def op(self, *names: str) -> "Asm":
        for name in names:
            self.raw(getattr(pickle, name))
        return self

    def put(self, index: int, long: bool = False) -> "Asm":
        return self.raw(pickle.LONG_BINPUT + struct.pack("<I", index) if long else pickle.BINPUT + bytes([index]))

    def get(self, index: int, long: bool = False) -> "Asm":
        return self.raw(pickle.LONG_BINGET + struct.pack("<I", index) if long else pickle.BINGET + bytes([index]))

    def bytes8(self, data: bytes) -> "Asm":
        return self.raw(pickle.BINBYTES8 + struct.pack("<Q", len(data)) + data)

    def done(self, frame: bool = False) -> bytes:
        body = bytes(self.body) + pickle.STOP
        head = b"" if self.protocol is None or self.protocol < 2 else pickle.PROTO + bytes([self.protocol])
        if frame:
            head += pickle.FRAME + struct.pack("<Q", len(body))
        return head + body


def os_system_call(protocol: int, sentinel: Path) -> bytes:
    """``os.system("touch SENTINEL")`` with GLOBAL (protocol < 4) or STACK_GLOBAL."""
    asm = Asm(protocol)
    if protocol < 4:
        asm.glob("os", "system").str(touch_command(sentinel))
    else:
        asm.sglob("os", "system").str(touch_command(sentinel))
    return asm.call(1).done(frame=protocol >= 5)


# --------------------------------------------------------------------------- small models

@lru_cache(maxsize=1)
def iris() -> tuple[np.ndarray, np.ndarray]:
    return load_iris(return_X_y=True)


def small_logreg() -> LogisticRegression:
    X, y = iris()
    return LogisticRegression(max_iter=500).fit(X, y)


def small_tree() -> DecisionTreeClassifier:
    X, y = iris()
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


def small_hgb() -> HistGradientBoostingClassifier:
    X, y = iris()
    return HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)


# --------------------------------------------------------------------------- zip / skops helpers

def skops_parts(model: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A model's skops schema and its other members (``name -> bytes``)."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(members.pop("schema.json")), members


def write_zip(path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> Path:
    """Members in the given order, names exactly as given (duplicates and odd names included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression=method) as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = method
                archive.writestr(info, data)
    return path


def write_skops(path: Path, schema: dict[str, Any] | bytes, members: dict[str, bytes],
                method: int = zipfile.ZIP_STORED) -> Path:
    text = schema if isinstance(schema, bytes) else json.dumps(schema).encode()
    return write_zip(path, [*members.items(), ("schema.json", text)], method)


def walk_nodes(state: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a schema, depth first."""
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def attribute(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The node of attribute ``name`` of the root object."""
    return schema["content"]["content"][name]


def add_attribute(schema: dict[str, Any], name: str, node: dict[str, Any]) -> None:
    """Give the root object one more attribute (its DictNode zips keys with ``key_types``: extend both)."""
    attrs = schema["content"]
    attrs["content"][name] = node
    attrs["key_types"]["content"].append({"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"})


def json_node(value: Any) -> dict[str, Any]:
    return {"__class__": type(value).__name__, "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def tuple_node(*values: Any) -> dict[str, Any]:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [json_node(v) for v in values]}


def reduce_node(module: str, name: str, *args: Any) -> dict[str, Any]:
    """skops calls ``module.name(*args)`` when it constructs this node (once the type is trusted)."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": tuple_node(*args)}


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def central_directory(data: bytes) -> list[tuple[int, str]]:
    """``(offset, name)`` of each central-directory entry of a small (non-zip64) archive."""
    end = data.rfind(b"PK\x05\x06")
    count, _, start = struct.unpack_from("<HII", data, end + 10)
    entries, pos = [], start
    for _ in range(count):
        assert data[pos:pos + 4] == b"PK\x01\x02", "not a central-directory entry"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        entries.append((pos, data[pos + 46:pos + 46 + name_len].decode("utf-8", "replace")))
        pos += 46 + name_len + extra_len + comment_len
    return entries


def patch_member(path: Path, name: str, *, flag_bits: int = 0, method: int | None = None) -> Path:
    """Set flag bits / the compression method of one member, in its local header and central directory."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    central = [offset for offset, entry in central_directory(bytes(data)) if entry == name]
    for flags_at, method_at in [(local + 6, local + 8)] + [(c + 8, c + 10) for c in central]:
        struct.pack_into("<H", data, flags_at, struct.unpack_from("<H", data, flags_at)[0] | flag_bits)
        if method is not None:
            struct.pack_into("<H", data, method_at, method)
    path.write_bytes(bytes(data))
    return path


# --------------------------------------------------------------------------- bombs

class _RepeatedDeflate:
    """Stands in for zipfile's compressor: zero blocks become one precomputed DEFLATE block.

    Each write is flushed with Z_FULL_FLUSH (byte-aligned, history reset), so
    the compressed blocks of identical zero chunks are identical and may simply
    be repeated; the stream stays valid DEFLATE and zipfile still computes the
    real CRC and sizes. Builds a 4 GiB member in about a second.
    """

    def __init__(self, chunk: int) -> None:
        self.zero = bytes(chunk)
        self.block = _full_flush(self.zero)

    def compress(self, data: bytes) -> bytes:
        return self.block if data == self.zero else _full_flush(bytes(data))

    def flush(self) -> bytes:
        return zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block


def _full_flush(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def zero_npy_member(archive: zipfile.ZipFile, name: str, n_bytes: int, chunk: int = MiB) -> None:
    """A DEFLATE member holding an all-zero float64 ``.npy`` of ``n_bytes`` data bytes."""
    assert n_bytes % chunk == 0
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        assert hasattr(member, "_compressor"), "zipfile's writer changed: update _RepeatedDeflate"
        member._compressor = _RepeatedDeflate(chunk)  # type: ignore[attr-defined]
        member.write(npy_header((1, n_bytes // 8)))
        zeros = bytes(chunk)
        for _ in range(n_bytes // chunk):
            member.write(zeros)


def zip_bomb(folder: Path, sentinel: Path, n_bytes: int = 4 * GiB) -> Path:
    """A valid LogisticRegression archive whose ``coef_`` member declares 4 GiB of zeros (~4 MB on disk)."""
    schema, members = skops_parts(small_logreg())
    coef = attribute(schema, "coef_")["file"]
    path = folder / "bomb.skops"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name != coef:
                archive.writestr(name, data)
        zero_npy_member(archive, coef, n_bytes)
        archive.writestr("schema.json", json.dumps(schema))
    return path


def gzip_bomb(folder: Path, sentinel: Path, n_bytes: int = 4 * GiB) -> Path:
    """``.pkl.gz``: one BINBYTES8 of 4 GiB zeros, gzip-compressed to ~4 MB (gzip framing by hand)."""
    head = pickle.PROTO + b"\x05" + pickle.BINBYTES8 + struct.pack("<Q", n_bytes)
    tail = pickle.STOP
    chunk = MiB
    zeros = bytes(chunk)
    block = _full_flush(zeros)
    crc = zlib.crc32(head)
    for _ in range(n_bytes // chunk):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(tail, crc)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    path = folder / "bomb.pkl.gz"
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        out.write(_full_flush(head))
        for _ in range(n_bytes // chunk):
            out.write(block)
        out.write(last.compress(tail) + last.flush())
        out.write(struct.pack("<II", crc, (len(head) + n_bytes + len(tail)) & 0xFFFFFFFF))
    return path


# --------------------------------------------------------------------------- pickle builders

def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def pkl_global_p0(folder: Path, sentinel: Path) -> Path:
    data = Asm(None).glob("os", "system").op("MARK").unicode0(touch_command(sentinel)).op("TUPLE", "REDUCE").done()
    return _write(folder, "global_p0.pkl", data)


def pkl_global_p2(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "global_p2.pkl", os_system_call(2, sentinel))


def pkl_stack_global_p4(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "stack_global_p4.pkl", os_system_call(4, sentinel))


def pkl_stack_global_p5(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "stack_global_p5.pkl", os_system_call(5, sentinel))


def pkl_posix_system_dumps(folder: Path, sentinel: Path) -> Path:
    data = pickle.dumps(Reduce(os.system, touch_command(sentinel)), protocol=5)
    return _write(folder, "posix_system.pkl", data)


def pkl_inst_opcode(folder: Path, sentinel: Path) -> Path:
    data = Asm(None).op("MARK").unicode0(touch_command(sentinel)).raw(pickle.INST + b"os\nsystem\n").done()
    return _write(folder, "inst.pkl", data)


def pkl_obj_opcode(folder: Path, sentinel: Path) -> Path:
    data = Asm(2).op("MARK").glob("os", "system").str(touch_command(sentinel)).op("OBJ").done()
    return _write(folder, "obj.pkl", data)


def pkl_memo_stack_global(folder: Path, sentinel: Path) -> Path:
    """STACK_GLOBAL's strings come from the memo; the two strings just before it are decoys."""
    asm = Asm(4).str("os").op("MEMOIZE", "POP").str("system").op("MEMOIZE", "POP")
    asm.str("sklearn.linear_model").str("LogisticRegression").op("POP", "POP")
    asm.get(0).get(1).op("STACK_GLOBAL").str(touch_command(sentinel)).call(1)
    return _write(folder, "memo_stack_global.pkl", asm.done())


def pkl_dup_memo_stack_global(folder: Path, sentinel: Path) -> Path:
    """Strings memoized through DUP + (LONG_)BINPUT, fetched by LONG_BINGET: invisible to naive scanners."""
    asm = Asm(4).str("os").op("DUP").put(7, long=True).op("POP", "POP")
    asm.str("system").op("DUP").put(3).op("POP", "POP")
    asm.str("numpy").str("ones").op("POP", "POP")
    asm.get(7, long=True).get(3).op("STACK_GLOBAL").str(touch_command(sentinel)).call(1)
    return _write(folder, "dup_memo_stack_global.pkl", asm.done())


def pkl_after_big_buffer(folder: Path, sentinel: Path) -> Path:
    """A list: 20 MiB of raw BINBYTES8 first, the ``os.system`` call after it."""
    asm = Asm(5).op("MARK").bytes8(bytes(20 * MiB))
    asm.sglob("os", "system").str(touch_command(sentinel)).call(1).op("LIST")
    return _write(folder, "after_big_buffer.pkl", asm.done(frame=False))


def pkl_functools_partial(folder: Path, sentinel: Path) -> Path:
    asm = Asm(4).sglob("functools", "partial").sglob("os", "system").str(touch_command(sentinel)).call(2)
    return _write(folder, "partial.pkl", asm.call(0).done())


def pkl_operator_attrgetter(folder: Path, sentinel: Path) -> Path:
    """Only operator.attrgetter is foreign: attrgetter('fit.__globals__')(LogisticRegression) -> .get -> eval."""
    asm = Asm(4).sglob("operator", "attrgetter").op("MEMOIZE")
    asm.str("get").call(1)  # getter = attrgetter("get")
    asm.get(0).str("get").call(1)  # getter2
    asm.get(0).str("fit.__globals__").call(1)
    asm.sglob("sklearn.linear_model._logistic", "LogisticRegression").call(1)  # module globals
    asm.call(1).str("__builtins__").call(1)  # getter2(G)("__builtins__") -> builtins dict
    asm.call(1).str("eval").call(1)  # getter(B)("eval") -> eval
    asm.str(python_code(sentinel)).call(1)
    return _write(folder, "attrgetter.pkl", asm.done())


def pkl_operator_methodcaller(folder: Path, sentinel: Path) -> Path:
    """methodcaller chains from an allowed sklearn function to eval: __globals__ -> __builtins__ -> eval."""
    asm = Asm(4).sglob("operator", "methodcaller").op("MEMOIZE").str("get").str("eval").call(2)
    asm.get(0).str("get").str("__builtins__").call(2)
    asm.get(0).str("__getattribute__").str("__globals__").call(2)
    asm.sglob("sklearn.metrics", "accuracy_score").call(1).call(1).call(1)
    asm.str(python_code(sentinel)).call(1)
    return _write(folder, "methodcaller.pkl", asm.done())


def pkl_importlib(folder: Path, sentinel: Path) -> Path:
    """importlib.import_module('os') first, then methodcaller('system', cmd) on it."""
    asm = Asm(4).sglob("importlib", "import_module").str("os").call(1).op("MEMOIZE", "POP")
    asm.sglob("operator", "methodcaller").str("system").str(touch_command(sentinel)).call(2)
    asm.get(0).call(1)
    return _write(folder, "importlib.pkl", asm.done())


def pkl_pkgutil_resolve_name(folder: Path, sentinel: Path) -> Path:
    asm = Asm(4).sglob("pkgutil", "resolve_name").str("os:system").call(1).str(touch_command(sentinel)).call(1)
    return _write(folder, "pkgutil.pkl", asm.done())


def pkl_builtins_getattr(folder: Path, sentinel: Path) -> Path:
    """builtins.getattr(builtins.__import__('builtins'), 'eval')(code)."""
    asm = Asm(4).sglob("builtins", "getattr").sglob("builtins", "__import__").str("builtins").call(1)
    asm.str("eval").call(2).str(python_code(sentinel)).call(1)
    return _write(folder, "getattr_eval.pkl", asm.done())


def pkl_builtins_import(folder: Path, sentinel: Path) -> Path:
    """builtins.__import__('os') first, then getattr(os, 'system')(cmd)."""
    asm = Asm(4).sglob("builtins", "__import__").str("os").call(1).op("MEMOIZE", "POP")
    asm.sglob("builtins", "getattr").get(0).str("system").call(2).str(touch_command(sentinel)).call(1)
    return _write(folder, "import.pkl", asm.done())


def pkl_builtins_eval(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "eval.pkl", Asm(2).glob("__builtin__", "eval").str(python_code(sentinel)).call(1).done())


def pkl_subprocess(folder: Path, sentinel: Path) -> Path:
    asm = Asm(4).sglob("subprocess", "check_call").op("EMPTY_LIST").str("touch").op("APPEND")
    asm.str(str(sentinel)).op("APPEND").call(1)
    return _write(folder, "subprocess.pkl", asm.done())


def pkl_dotted_sklearn(folder: Path, sentinel: Path) -> Path:
    """Module ``sklearn._config`` (allowed package), name ``os.system``: a dotted lookup out of it."""
    asm = Asm(4).sglob("sklearn._config", "os.system").str(touch_command(sentinel)).call(1)
    return _write(folder, "dotted_sklearn.pkl", asm.done())


def pkl_dotted_numpy(folder: Path, sentinel: Path) -> Path:
    asm = Asm(4).sglob("numpy", "lib._datasource.os.system").str(touch_command(sentinel)).call(1)
    return _write(folder, "dotted_numpy.pkl", asm.done())


def pkl_numpy_load(folder: Path, sentinel: Path) -> Path:
    """numpy.load(inner, None, True): allow_pickle=True unpickles a second file holding os.system."""
    inner = _write(folder, "inner.bin", os_system_call(4, sentinel))
    asm = Asm(4).sglob("numpy", "load").str(str(inner)).op("NONE", "NEWTRUE").call(3)
    return _write(folder, "numpy_load.pkl", asm.done())


def pkl_numpy_memmap(folder: Path, sentinel: Path) -> Path:
    """numpy.memmap(SENTINEL, 'uint8', 'w+', 0, (1,)) creates the file."""
    asm = Asm(4).sglob("numpy", "memmap").op("MARK").str(str(sentinel)).str("uint8").str("w+").int(0)
    asm.int(1).op("TUPLE1", "TUPLE", "REDUCE")
    return _write(folder, "numpy_memmap.pkl", asm.done())


def pkl_numpy_save(folder: Path, sentinel: Path) -> Path:
    """numpy.save(SENTINEL, 0) writes SENTINEL.npy."""
    return _write(folder, "numpy_save.pkl", Asm(4).sglob("numpy", "save").str(str(sentinel)).int(0).call(2).done())


def pkl_numpy_fromfile(folder: Path, sentinel: Path) -> Path:
    """numpy.fromfile reads any file on the host (a leak, not a write: not live)."""
    return _write(folder, "numpy_fromfile.pkl", Asm(4).sglob("numpy", "fromfile").str("/etc/hostname").call(1).done())


def pkl_persistent_id(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "persid.pkl", Asm(2).str("os.system").op("BINPERSID").done())


def pkl_gz_payload(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "payload.pkl.gz", gzip.compress(os_system_call(4, sentinel), mtime=0))


def pkl_xz_payload(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "payload.pkl.xz", lzma.compress(os_system_call(5, sentinel)))


def pkl_truncated(folder: Path, sentinel: Path) -> Path:
    data = pickle.dumps(small_logreg(), protocol=5)
    return _write(folder, "truncated.pkl", data[: len(data) // 2])


def pkl_garbage(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "garbage.pkl", random.Random(0).randbytes(4096))


def pkl_empty(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "empty.pkl", b"")


def pkl_root_int(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "int.pkl", pickle.dumps(42, protocol=5))


def pkl_root_str(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "str.pkl", pickle.dumps("a model, honest", protocol=5))


def pkl_root_array(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "array.pkl", pickle.dumps(np.arange(12.0).reshape(3, 4), protocol=5))


def pkl_memo_index_bomb(folder: Path, sentinel: Path) -> Path:
    """LONG_BINPUT at index 2**27: CPython's unpickler grows its memo table to 2**28 slots (2 GiB) for 10 bytes."""
    return _write(folder, "memo_bomb.pkl", Asm(4).int(0).put(1 << 27, long=True).done())


def pkl_deep_list(folder: Path, sentinel: Path, depth: int = 100_000) -> Path:
    """A list nested 100000 deep (the unpickler builds it without recursion; walkers may not)."""
    asm = Asm(4)
    asm.raw(pickle.EMPTY_LIST * depth).raw(pickle.APPEND * (depth - 1))
    return _write(folder, "deep_list.pkl", asm.done())


# --------------------------------------------------------------------------- crafted trees

def bad_tree(defect: str) -> DecisionTreeClassifier:
    """A fitted tree whose ``nodes`` are corrupted (never predict with it: it may crash)."""
    clf = small_tree()
    state = clf.tree_.__getstate__()
    nodes = state["nodes"]
    inner = int(np.flatnonzero(nodes["left_child"] >= 0)[-1])  # the last split node
    if defect == "out_of_range":
        nodes["left_child"][0] = 10**6
    elif defect == "cycle":
        nodes["right_child"][inner] = 0  # back to the root
    elif defect == "feature":
        nodes["feature"][inner] = clf.n_features_in_ + 7
    else:
        raise ValueError(defect)
    tree = type(clf.tree_)(clf.n_features_in_, np.array([clf.n_classes_], dtype=np.intp), clf.n_outputs_)
    tree.__setstate__(state)
    clf.tree_ = tree
    return clf


def bad_hgb(defect: str) -> HistGradientBoostingClassifier:
    model = small_hgb()
    predictor = model._predictors[0][0]
    nodes = predictor.nodes
    assert not nodes["is_leaf"][0]
    if defect == "left_out_of_range":
        nodes["left"][0] = 10**6
    elif defect == "right_cycle":
        inner = int(np.flatnonzero(~nodes["is_leaf"].astype(bool))[-1])
        nodes["right"][inner] = 0
    else:
        raise ValueError(defect)
    return model


def _model_file(model: Any, path: Path) -> Path:
    if path.suffix == ".skops":
        sio.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model, protocol=5))
    return path


def tree_builder(defect: str, suffix: str) -> Callable[[Path, Path], Path]:
    def build(folder: Path, sentinel: Path) -> Path:
        return _model_file(bad_tree(defect), folder / f"tree_{defect}{suffix}")
    return build


def hgb_builder(defect: str, suffix: str) -> Callable[[Path, Path], Path]:
    def build(folder: Path, sentinel: Path) -> Path:
        return _model_file(bad_hgb(defect), folder / f"hgb_{defect}{suffix}")
    return build


# --------------------------------------------------------------------------- skops builders

def skops_pickle_disguise(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "disguise.skops", os_system_call(2, sentinel))


def skops_truncated(folder: Path, sentinel: Path) -> Path:
    data = sio.dumps(small_logreg())
    return _write(folder, "truncated.skops", data[: len(data) * 6 // 10])


def skops_not_zip(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "text.skops", b"this is not a zip archive\n" * 40)


def skops_empty(folder: Path, sentinel: Path) -> Path:
    return _write(folder, "empty.skops", b"")


def skops_duplicate_schema(folder: Path, sentinel: Path) -> Path:
    """Two ``schema.json`` members: a clean one first, one calling os.system last (zipfile reads the last)."""
    schema, members = skops_parts(small_logreg())
    evil = json.loads(json.dumps(schema))
    evil["content"]["content"]["n_iter_"] = reduce_node("os", "system", touch_command(sentinel))
    return write_zip(folder / "duplicate.skops", [*members.items(), ("schema.json", json.dumps(schema).encode()),
                                                  ("schema.json", json.dumps(evil).encode())])


def _renamed_member(folder: Path, filename: str, new_name: Callable[[str], str]) -> Path:
    schema, members = skops_parts(small_logreg())
    node = attribute(schema, "coef_")
    data = members.pop(node["file"])
    node["file"] = new_name(node["file"])
    members[node["file"]] = data
    return write_skops(folder / filename, schema, members)


def skops_absolute_name(folder: Path, sentinel: Path) -> Path:
    return _renamed_member(folder, "absolute.skops", lambda name: f"/tmp/{name}")


def skops_dotdot_name(folder: Path, sentinel: Path) -> Path:
    return _renamed_member(folder, "dotdot.skops", lambda name: f"../../{name}")


def skops_encrypted_flag(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    path = write_skops(folder / "encrypted.skops", schema, members)
    return patch_member(path, attribute(schema, "coef_")["file"], flag_bits=0x1)


def skops_method_99(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    path = write_skops(folder / "method99.skops", schema, members)
    return patch_member(path, attribute(schema, "coef_")["file"], method=99)


def skops_crc_mismatch(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    name = attribute(schema, "coef_")["file"]
    path = write_skops(folder / "crc.skops", schema, members)
    data = bytearray(path.read_bytes())
    at = data.find(members[name]) + len(members[name]) - 3  # inside the stored array data
    data[at] ^= 0xFF
    return _write(folder, "crc.skops", bytes(data))


def skops_missing_schema(folder: Path, sentinel: Path) -> Path:
    _, members = skops_parts(small_logreg())
    return write_zip(folder / "noschema.skops", list(members.items()))


def skops_missing_member(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    del members[attribute(schema, "coef_")["file"]]
    return write_skops(folder / "nomember.skops", schema, members)


def skops_many_refs(folder: Path, sentinel: Path, refs: int = 200) -> Path:
    """One 8 MiB incompressible member referenced by 200 array nodes: 1.6 GiB of arrays from an 8 MiB file."""
    schema, members = skops_parts(small_logreg())
    big = np.random.default_rng(0).random(MiB)  # 8 MiB of float64
    members["big.npy"] = npy_bytes(big)
    node = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy",
            "file": "big.npy"}
    add_attribute(schema, "extra_", {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                     "content": [dict(node) for _ in range(refs)]})
    return write_skops(folder / "many_refs.skops", schema, members)


def skops_npy_object(folder: Path, sentinel: Path) -> Path:
    """``coef_`` holds an object-dtype .npy whose pickled items call os.system under np.load(allow_pickle=True)."""
    schema, members = skops_parts(small_logreg())
    payload = np.empty(1, dtype=object)
    payload[0] = Reduce(os.system, touch_command(sentinel))
    members[attribute(schema, "coef_")["file"]] = npy_bytes(payload, allow_pickle=True)
    return write_skops(folder / "npy_object.skops", schema, members)


def skops_npy_shape(folder: Path, sentinel: Path) -> Path:
    """The .npy header declares a million elements; the member holds twelve."""
    schema, members = skops_parts(small_logreg())
    name = attribute(schema, "coef_")["file"]
    members[name] = npy_header((1000, 1000)) + np.zeros(12).tobytes()
    return write_skops(folder / "npy_shape.skops", schema, members)


def skops_npy_renamed(folder: Path, sentinel: Path) -> Path:
    """The same short array under a name without ``.npy`` (skops reads whatever name the schema gives)."""
    schema, members = skops_parts(small_logreg())
    node = attribute(schema, "coef_")
    members.pop(node["file"])
    node["file"] = "coef.dat"
    members["coef.dat"] = npy_header((1000, 1000)) + np.zeros(12).tobytes()
    return write_skops(folder / "npy_renamed.skops", schema, members)


def skops_schema_not_json(folder: Path, sentinel: Path) -> Path:
    _, members = skops_parts(small_logreg())
    return write_skops(folder / "notjson.skops", b"{'protocol': 2, this is not json", members)


def skops_schema_deep(folder: Path, sentinel: Path, depth: int = 100_000) -> Path:
    """An attribute of dicts nested 100000 deep (written as text: json.dumps cannot)."""
    schema, members = skops_parts(small_logreg())
    add_attribute(schema, "deep_", "@@DEEP@@")  # type: ignore[arg-type]
    opening = '{"__class__":"dict","__module__":"builtins","__loader__":"DictNode","content":{"k":'
    deep = opening * depth + json.dumps(json_node(1)) + "}}" * depth
    text = json.dumps(schema).replace('"@@DEEP@@"', deep).encode()
    return write_skops(folder / "deep.skops", text, members)


def skops_node_cycle(folder: Path, sentinel: Path) -> Path:
    """A list node whose only item carries the list's own ``__id__``: skops' memo makes it its own child."""
    schema, members = skops_parts(small_logreg())
    inner = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "__id__": 7, "content": []}
    add_attribute(schema, "loop_", {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                    "__id__": 7, "content": [inner]})
    return write_skops(folder / "cycle.skops", schema, members)


def protocol_builder(value: Any, label: str) -> Callable[[Path, Path], Path]:
    def build(folder: Path, sentinel: Path) -> Path:
        schema, members = skops_parts(small_logreg())
        schema["protocol"] = value
        return write_skops(folder / f"protocol_{label}.skops", schema, members)
    return build


def skops_function_node(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    add_attribute(schema, "callback_", {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"})
    return write_skops(folder / "function.skops", schema, members)


def skops_reduce_os_system(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    schema["content"]["content"]["n_iter_"] = reduce_node("os", "system", touch_command(sentinel))
    return write_skops(folder / "reduce_system.skops", schema, members)


def skops_reduce_subprocess(folder: Path, sentinel: Path) -> Path:
    schema, members = skops_parts(small_logreg())
    node = reduce_node("subprocess", "check_call")
    node["content"]["content"] = [{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                   "content": [json_node("touch"), json_node(str(sentinel))]}]
    schema["content"]["content"]["n_iter_"] = node
    return write_skops(folder / "reduce_subprocess.skops", schema, members)


def skops_object_popen(folder: Path, sentinel: Path) -> Path:
    """The root object claims to be a subprocess.Popen (an ObjectNode of an untrusted class)."""
    schema, members = skops_parts(small_logreg())
    schema["__class__"], schema["__module__"] = "Popen", "subprocess"
    return write_skops(folder / "popen.skops", schema, members)


def skops_root_array(folder: Path, sentinel: Path) -> Path:
    path = folder / "array.skops"
    sio.dump(np.arange(12.0), path)
    return path


# --------------------------------------------------------------------------- special files

def fifo(suffix: str) -> Callable[[Path, Path], Path]:
    def build(folder: Path, sentinel: Path) -> Path:
        path = folder / f"pipe{suffix}"
        os.mkfifo(path)
        return path
    return build


def dev_zero(folder: Path, sentinel: Path) -> Path:
    return Path("/dev/zero")


# --------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class Case:
    """One crafted input and what ``skprune`` must do with it."""

    name: str
    kind: str  # pkl, pkl.gz, pkl.xz, skops, joblib, fifo, device
    build: Callable[[Path, Path], Path]
    description: str
    exit_code: int = 3
    trust: tuple[str, ...] = ()
    live: str | None = None  # "pickle" / "skops" / "joblib": the payload fires under that standard loader
    heavy: bool = False  # memory/time-sensitive or may hang/crash: subprocess only
    sample: bool = False  # also run through a subprocess (inspect), besides in-process
    max_rss: int = 1536 * MiB
    max_seconds: float = 60.0

    @property
    def regular(self) -> bool:
        return self.kind not in ("fifo", "device")


P, S = "pickle", "skops"
CASES: list[Case] = [
    # pickles: code execution
    Case("pkl_global_p0", "pkl", pkl_global_p0, "os.system via GLOBAL, protocol 0 text", live=P, sample=True),
    Case("pkl_global_p2", "pkl", pkl_global_p2, "os.system via GLOBAL, protocol 2", live=P),
    Case("pkl_stack_global_p4", "pkl", pkl_stack_global_p4, "os.system via STACK_GLOBAL, protocol 4", live=P),
    Case("pkl_stack_global_p5", "pkl", pkl_stack_global_p5, "os.system via STACK_GLOBAL, protocol 5, framed", live=P,
         sample=True),
    Case("pkl_posix_system", "pkl", pkl_posix_system_dumps, "pickle.dumps of a __reduce__ to os.system (posix.system)",
         live=P),
    Case("pkl_inst_opcode", "pkl", pkl_inst_opcode, "os.system called by the INST opcode", live=P),
    Case("pkl_obj_opcode", "pkl", pkl_obj_opcode, "os.system called by the OBJ opcode", live=P),
    Case("pkl_memo_stack_global", "pkl", pkl_memo_stack_global,
         "STACK_GLOBAL names from MEMOIZE/BINGET, decoy strings just before it", live=P),
    Case("pkl_dup_memo_stack_global", "pkl", pkl_dup_memo_stack_global,
         "STACK_GLOBAL names memoized via DUP+LONG_BINPUT, read by LONG_BINGET", live=P),
    Case("pkl_after_big_buffer", "pkl", pkl_after_big_buffer,
         "os.system after 20 MiB of BINBYTES8, beyond any prefix scan", live=P, heavy=True),
    Case("pkl_functools_partial", "pkl", pkl_functools_partial, "functools.partial(os.system, cmd)()", live=P),
    Case("pkl_operator_attrgetter", "pkl", pkl_operator_attrgetter,
         "operator.attrgetter: LogisticRegression.fit.__globals__ -> __builtins__ -> eval", live=P, sample=True),
    Case("pkl_operator_methodcaller", "pkl", pkl_operator_methodcaller,
         "operator.methodcaller: accuracy_score.__globals__ -> __builtins__ -> eval", live=P),
    Case("pkl_importlib", "pkl", pkl_importlib, "importlib.import_module('os') then .system(cmd)", live=P),
    Case("pkl_pkgutil", "pkl", pkl_pkgutil_resolve_name, "pkgutil.resolve_name('os:system')(cmd)", live=P),
    Case("pkl_builtins_getattr", "pkl", pkl_builtins_getattr, "builtins.getattr(__import__('builtins'), 'eval')(code)",
         live=P),
    Case("pkl_builtins_import", "pkl", pkl_builtins_import, "builtins.__import__('os') then getattr(.., 'system')",
         live=P),
    Case("pkl_builtins_eval", "pkl", pkl_builtins_eval, "__builtin__.eval(code), protocol 2 GLOBAL", live=P),
    Case("pkl_subprocess", "pkl", pkl_subprocess, "subprocess.check_call(['touch', SENTINEL])", live=P),
    Case("pkl_dotted_sklearn", "pkl", pkl_dotted_sklearn, "STACK_GLOBAL('sklearn._config', 'os.system')", live=P),
    Case("pkl_dotted_numpy", "pkl", pkl_dotted_numpy, "STACK_GLOBAL('numpy', 'lib._datasource.os.system')", live=P),
    Case("pkl_numpy_load", "pkl", pkl_numpy_load, "numpy.load(other_file, None, allow_pickle=True)", live=P),
    Case("pkl_numpy_memmap", "pkl", pkl_numpy_memmap, "numpy.memmap(SENTINEL, 'uint8', 'w+') creates a file",
         live=P, sample=True),
    Case("pkl_numpy_save", "pkl", pkl_numpy_save, "numpy.save(SENTINEL, 0) writes a file", live=P),
    Case("pkl_numpy_fromfile", "pkl", pkl_numpy_fromfile, "numpy.fromfile('/etc/hostname') reads a host file"),
    Case("pkl_persistent_id", "pkl", pkl_persistent_id, "BINPERSID persistent reference"),
    Case("pkl_gz_payload", "pkl.gz", pkl_gz_payload, "os.system pickle inside gzip", live=P, sample=True),
    Case("pkl_xz_payload", "pkl.xz", pkl_xz_payload, "os.system pickle inside xz", live=P),
    # pickles: broken or not a model
    Case("pkl_gz_bomb", "pkl.gz", gzip_bomb, "gzip bomb: BINBYTES8 of 4 GiB zeros in ~4 MB", heavy=True,
         max_rss=500 * MiB, max_seconds=10.0),
    Case("pkl_truncated", "pkl", pkl_truncated, "valid LogisticRegression pickle cut in half"),
    Case("pkl_garbage", "pkl", pkl_garbage, "4 KiB of random bytes named .pkl"),
    Case("pkl_empty", "pkl", pkl_empty, "empty file named .pkl"),
    Case("pkl_root_int", "pkl", pkl_root_int, "root object is an int, not a model", sample=True),
    Case("pkl_root_str", "pkl", pkl_root_str, "root object is a str, not a model"),
    Case("pkl_root_array", "pkl", pkl_root_array, "root object is an ndarray, not a model"),
    Case("pkl_deep_list", "pkl", pkl_deep_list, "list nested 100000 deep", heavy=True),
    Case("pkl_memo_index_bomb", "pkl", pkl_memo_index_bomb, "LONG_BINPUT 2**27: a 2 GiB memo table from 10 bytes",
         heavy=True),
    # pickles: crafted trees, refused even though Tree / TreePredictor are trusted
    Case("pkl_tree_out_of_range", "pkl", tree_builder("out_of_range", ".pkl"),
         "DecisionTree: root left_child = 10**6", trust=(TREE,)),
    Case("pkl_tree_cycle", "pkl", tree_builder("cycle", ".pkl"), "DecisionTree: a right_child points to the root",
         trust=(TREE,)),
    Case("pkl_tree_feature", "pkl", tree_builder("feature", ".pkl"), "DecisionTree: feature >= n_features",
         trust=(TREE,)),
    Case("pkl_hgb_left_out_of_range", "pkl", hgb_builder("left_out_of_range", ".pkl"),
         "HistGradientBoosting TreePredictor: root left = 10**6", trust=(TREE_PREDICTOR,)),
    Case("pkl_hgb_right_cycle", "pkl", hgb_builder("right_cycle", ".pkl"),
         "HistGradientBoosting TreePredictor: a right points to the root", trust=(TREE_PREDICTOR,)),
    # skops: container
    Case("skops_pickle_disguise", "skops", skops_pickle_disguise, "os.system pickle renamed .skops", live=P,
         sample=True),
    Case("skops_truncated", "skops", skops_truncated, "valid archive cut at 60% (no central directory)"),
    Case("skops_not_zip", "skops", skops_not_zip, "text named .skops"),
    Case("skops_empty", "skops", skops_empty, "empty file named .skops"),
    Case("skops_duplicate_schema", "skops", skops_duplicate_schema,
         "two schema.json members, the last one calls os.system", live=S, sample=True),
    Case("skops_absolute_name", "skops", skops_absolute_name, "member named /tmp/<id>.npy (and referenced)"),
    Case("skops_dotdot_name", "skops", skops_dotdot_name, "member named ../../<id>.npy (and referenced)"),
    Case("skops_encrypted_flag", "skops", skops_encrypted_flag, "coef_ member has the encrypted flag bit"),
    Case("skops_method_99", "skops", skops_method_99, "coef_ member uses compression method 99"),
    Case("skops_crc_mismatch", "skops", skops_crc_mismatch, "a flipped byte in coef_'s stored data"),
    Case("skops_missing_schema", "skops", skops_missing_schema, "no schema.json"),
    Case("skops_missing_member", "skops", skops_missing_member, "schema names a member that is absent"),
    Case("skops_zip_bomb", "skops", zip_bomb, "coef_ declared as a 4 GiB all-zero float64 .npy, ~4 MB compressed",
         heavy=True, max_rss=500 * MiB, max_seconds=10.0),
    Case("skops_many_refs", "skops", skops_many_refs, "one 8 MiB member referenced by 200 array nodes (1.6 GiB)",
         heavy=True),
    # skops: members and schema
    Case("skops_npy_object", "skops", skops_npy_object, "coef_ .npy has object dtype (pickled os.system items)"),
    Case("skops_npy_shape", "skops", skops_npy_shape, ".npy header shape (1000, 1000), 12 values stored"),
    Case("skops_npy_renamed", "skops", skops_npy_renamed, "the same, in a member not named .npy"),
    Case("skops_schema_not_json", "skops", skops_schema_not_json, "schema.json is not JSON"),
    Case("skops_schema_deep", "skops", skops_schema_deep, "schema nested 100000 dicts deep", heavy=True),
    Case("skops_node_cycle", "skops", skops_node_cycle, "a list node that is its own item (shared __id__)",
         heavy=True),
    Case("skops_protocol_999", "skops", protocol_builder(999, "999"), "schema protocol 999"),
    Case("skops_protocol_negative", "skops", protocol_builder(-1, "neg"), "schema protocol -1"),
    Case("skops_protocol_string", "skops", protocol_builder("1", "str"), 'schema protocol "1"'),
    Case("skops_function_node", "skops", skops_function_node, "FunctionNode os.system as an attribute"),
    Case("skops_reduce_os_system", "skops", skops_reduce_os_system,
         "ConstructorFromReduceNode calling os.system(cmd)", live=S, sample=True),
    Case("skops_reduce_subprocess", "skops", skops_reduce_subprocess,
         "ConstructorFromReduceNode calling subprocess.check_call", live=S),
    Case("skops_object_popen", "skops", skops_object_popen, "root ObjectNode of class subprocess.Popen"),
    Case("skops_root_array", "skops", skops_root_array, "valid archive whose root is an ndarray, not a model"),
    # skops: crafted trees, refused even with --trust
    Case("skops_tree_out_of_range", "skops", tree_builder("out_of_range", ".skops"),
         "DecisionTree: root left_child = 10**6", trust=(TREE,), sample=True),
    Case("skops_tree_cycle", "skops", tree_builder("cycle", ".skops"), "DecisionTree: a right_child points to the root",
         trust=(TREE,)),
    Case("skops_tree_feature", "skops", tree_builder("feature", ".skops"), "DecisionTree: feature >= n_features",
         trust=(TREE,)),
    Case("skops_hgb_left_out_of_range", "skops", hgb_builder("left_out_of_range", ".skops"),
         "HistGradientBoosting TreePredictor: root left = 10**6", trust=(TREE_PREDICTOR,)),
    Case("skops_hgb_right_cycle", "skops", hgb_builder("right_cycle", ".skops"),
         "HistGradientBoosting TreePredictor: a right points to the root", trust=(TREE_PREDICTOR,)),
    # not regular files: refused, never read (a read would hang)
    Case("fifo_skops", "fifo", fifo(".skops"), "a FIFO named .skops", heavy=True, max_seconds=20.0),
    Case("fifo_pkl", "fifo", fifo(".pkl"), "a FIFO named .pkl", heavy=True, max_seconds=20.0),
    Case("dev_zero", "device", dev_zero, "/dev/zero (endless zeros)", heavy=True, max_seconds=20.0),
]
from hostile_joblib import JOBLIB_CASES  # noqa: E402 - builds on the helpers above

CASES += JOBLIB_CASES
CASES_BY_NAME = {case.name: case for case in CASES}
assert len(CASES_BY_NAME) == len(CASES), "case names must be unique"
