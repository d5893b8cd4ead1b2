"""Property tests: a mutated model file loads or is refused with ``InputRefused``, nothing else.

Seeds are a valid small ``.skops`` archive and a valid pickle fitted here;
hypothesis flips, overwrites, truncates, inserts and deletes bytes (biased
towards zip headers and the pickle's first and last opcodes), edits
``schema.json`` (``__class__`` / ``__module__`` / ``__loader__`` names, member
names, protocol, deleted keys, values of the wrong type) and rewrites
central-directory and local-header fields (sizes, CRC, method, flags,
offsets, name lengths). For each mutant ``skprune_cli.load_model`` must return
an object or raise ``skprune_cli.InputRefused`` (exit code 3, naming the file):
any other exception is a bug that the CLI would report as an internal error.
A SIGALRM watchdog turns a hang into a failure, and a pickle carrying a
refused ``os.system`` payload must never fire it, however it is mutated.
Runs are derandomized (same examples every time) and keep no database.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import signal
import struct
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hostile_payloads as hp
from skprune_cli import InputRefused, load_model
from skprune_cli.errors import EXIT_REFUSED, SkpruneError

WATCHDOG_SECONDS = 20
FUZZ = settings(max_examples=300, deadline=timedelta(seconds=5), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Hang(BaseException):
    """Raised by the watchdog; a BaseException so a loader's ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise Hang(f"load_model still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_or_refuse(path: Path, data: bytes) -> None:
    """The property: ``load_model`` returns, or raises InputRefused (exit 3) that names the file."""
    path.write_bytes(data)
    try:
        with watchdog(WATCHDOG_SECONDS):
            load_model(path)
    except InputRefused as exc:
        assert isinstance(exc, SkpruneError) and exc.exit_code == EXIT_REFUSED
        assert str(path) in exc.one_line(), exc.one_line()
        reason = re.sub(r"'[^']*'", "'*'", " ".join(exc.message.split()[:4]))
        event("refused: " + reason)  # shown by --hypothesis-show-statistics
    else:
        event("loaded")


# --------------------------------------------------------------------------- seeds

class Seeds:
    def __init__(self, folder: Path) -> None:
        X, y = hp.iris()
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
        self.folder = folder
        self.skops_schema, self.skops_members = hp.skops_parts(model)
        self.skops = hp.write_skops(folder / "seed.skops", self.skops_schema, self.skops_members).read_bytes()
        self.pickle = pickle.dumps(model, protocol=5)
        self.sentinel = folder / "sentinels" / "pwned"
        self.sentinel.parent.mkdir()
        payload = hp.Reduce(os.system, hp.touch_command(self.sentinel))
        self.payload_pickles = [pickle.dumps([model, payload], protocol=p) for p in (0, 2, 4)]
        self.skops_hot = hot_offsets_zip(self.skops)
        for name, data in (("seed.skops", self.skops), ("seed.pkl", self.pickle)):  # warm imports; seeds are valid
            (folder / name).write_bytes(data)
            load_model(folder / name)


def hot_offsets_zip(data: bytes) -> list[int]:
    """Byte offsets inside local headers, central-directory entries and the end record."""
    hot: list[int] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            hot.extend(range(info.header_offset, info.header_offset + 30))
    for offset, _ in hp.central_directory(data):
        hot.extend(range(offset, offset + 46))
    end = data.rfind(b"PK\x05\x06")
    hot.extend(range(end, len(data)))
    return hot


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return Seeds(tmp_path_factory.mktemp("fuzz"))


# --------------------------------------------------------------------------- byte mutations

def mutate_bytes(draw: st.DrawFn, data: bytes, hot: list[int]) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4), label="edits")):
        if not out:
            break
        where = st.integers(0, len(out) - 1)
        hot_here = [h for h in hot if h < len(out)]
        pos = draw(st.one_of(where, st.sampled_from(hot_here)) if hot_here else where, label="position")
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]), label="kind")
        if kind == "flip":
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            out[pos] = draw(st.one_of(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]), st.integers(0, 255)))
        elif kind == "truncate":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del out[pos:pos + draw(st.integers(1, 64))]
    return bytes(out)


@FUZZ
@given(st.data())
def test_mutated_skops_bytes(seeds: Seeds, data: st.DataObject) -> None:
    mutant = mutate_bytes(data.draw, seeds.skops, seeds.skops_hot)
    load_or_refuse(seeds.folder / "bytes.skops", mutant)


@FUZZ
@given(st.data())
def test_mutated_pickle_bytes(seeds: Seeds, data: st.DataObject) -> None:
    hot = list(range(16)) + list(range(len(seeds.pickle) - 16, len(seeds.pickle)))
    mutant = mutate_bytes(data.draw, seeds.pickle, hot)
    load_or_refuse(seeds.folder / "bytes.pkl", mutant)


@FUZZ
@given(st.data())
def test_mutated_payload_pickle_never_fires(seeds: Seeds, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seeds.payload_pickles), label="protocol")
    mutant = mutate_bytes(data.draw, seed, list(range(len(seed) - 80, len(seed))))  # the payload sits at the end
    load_or_refuse(seeds.folder / "payload.pkl", mutant)
    assert hp.sentinel_fired(seeds.sentinel) == [], "a mutated payload ran"


# --------------------------------------------------------------------------- schema mutations

NAMES = [
    "system", "os", "posix", "subprocess", "Popen", "check_call", "builtins", "eval", "exec", "__import__",
    "getattr", "sklearn.tree._tree", "Tree", "numpy", "load", "ndarray", "dict", "list", "", " ", "\x00",
    "FunctionNode", "ObjectNode", "ConstructorFromReduceNode", "ReduceNode", "TreeNode", "NdArrayNode",
    "DictNode", "ListNode", "TupleNode", "JsonNode", "MethodNode", "PartialNode", "TypeNode", "OperatorFuncNode",
    "BytesNode", "SparseMatrixNode", "DTypeNode", "SetNode", "SliceNode", "CachedNode", "RandomStateNode",
    "schema.json", "../schema.json", "/etc/passwd", "json", "numpy", "sklearn.linear_model._logistic",
    "LogisticRegression", "StandardScaler",
]
KEYS = ["__class__", "__module__", "__loader__", "content", "file", "type", "__id__", "__reduce__", "args",
        "protocol", "is_json", "shape", "key_types", "attrs", "_skops_version"]
VALUES = st.one_of(
    st.sampled_from(NAMES),
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.none(),
    st.booleans(),
    st.floats(),
    st.lists(st.sampled_from(NAMES), max_size=3),
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(NAMES), max_size=3),
)


def mutate_schema(draw: st.DrawFn, schema: dict[str, Any], members: dict[str, bytes]) -> dict[str, Any]:
    schema = json.loads(json.dumps(schema))
    for _ in range(draw(st.integers(1, 3), label="edits")):
        nodes = list(hp.walk_nodes(schema))
        node = nodes[draw(st.integers(0, len(nodes) - 1), label="node")]
        kind = draw(st.sampled_from(["set", "delete", "swap_file", "clear"]), label="kind")
        if kind == "set":
            node[draw(st.sampled_from(KEYS), label="key")] = draw(VALUES, label="value")
        elif kind == "delete" and node:
            del node[draw(st.sampled_from(sorted(node)), label="key")]
        elif kind == "swap_file":
            node["file"] = draw(st.sampled_from(sorted(members) + ["schema.json", "missing.npy"]), label="file")
        else:
            node.clear()
    return schema


@FUZZ
@given(st.data())
def test_mutated_schema(seeds: Seeds, data: st.DataObject) -> None:
    schema = mutate_schema(data.draw, seeds.skops_schema, seeds.skops_members)
    path = seeds.folder / "schema.skops"
    hp.write_skops(path, schema, seeds.skops_members)
    load_or_refuse(path, path.read_bytes())


# --------------------------------------------------------------------------- central directory / local headers

CENTRAL_FIELDS = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"), "compressed": (20, "<I"),
                  "uncompressed": (24, "<I"), "name_len": (28, "<H"), "extra_len": (30, "<H"),
                  "local_offset": (42, "<I")}
LOCAL_FIELDS = {"flags": (6, "<H"), "method": (8, "<H"), "compressed": (18, "<I"), "uncompressed": (22, "<I"),
                "name_len": (26, "<H"), "extra_len": (28, "<H")}


@FUZZ
@given(st.data())
def test_mutated_zip_headers(seeds: Seeds, data: st.DataObject) -> None:
    out = bytearray(seeds.skops)
    central = hp.central_directory(seeds.skops)
    with zipfile.ZipFile(io.BytesIO(seeds.skops)) as archive:
        local = [info.header_offset for info in archive.infolist()]
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        if data.draw(st.booleans(), label="central"):
            base, _ = data.draw(st.sampled_from(central), label="entry")
            name = data.draw(st.sampled_from(sorted(CENTRAL_FIELDS)), label="field")
            offset, fmt = CENTRAL_FIELDS[name]
        else:
            base = data.draw(st.sampled_from(local), label="entry")
            name = data.draw(st.sampled_from(sorted(LOCAL_FIELDS)), label="field")
            offset, fmt = LOCAL_FIELDS[name]
        top = (1 << (8 * struct.calcsize(fmt))) - 1
        old = struct.unpack_from(fmt, out, base + offset)[0]
        value = data.draw(st.one_of(
            st.sampled_from([0, 1, top, top - 1, 1 << 31 if top > 0xFFFF else 0x8000, old + 1 & top, old - 1 & top,
                             old * 2 & top, 8, 12, 14, 99]),
            st.integers(0, top)), label="value")
        struct.pack_into(fmt, out, base + offset, value)
    load_or_refuse(seeds.folder / "headers.skops", bytes(out))
