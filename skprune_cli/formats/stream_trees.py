"""Shrinking a forest ``.skops`` archive to archive, one tree at a time.

A forest of several GB does not fit a CI runner's memory, and the trees are
nearly all of it. So the trees never meet in memory: the rest of the model
(the "light" model, each tree replaced by a one-leaf stand-in) is loaded,
pruned and checked as usual; each tree is then read from the input archive,
checked node by node, transformed exactly, compared with its original on
probe rows (and the user's ``--data``), written to the output archive and
dropped. ``schema.json`` is the light model's, with each stand-in swapped for
its tree's members.

``feature_importances_`` of a forest is the mean of its trees' normalised
importances, so a first pass over the trees records each one's importances
at every rounding precision; the precision for the whole forest is then
chosen exactly as in memory (the fewest bits within the tolerance).
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import InputRefused
from ..paths import join, matches
from ..progress import reporter, step
from .archive import Limits, check_archive, check_references, member_sizes, npy_header, read_checked_schema

STREAM_MIN_BYTES = 256 << 20  # "auto": archives that expand to less are shrunk in memory
TREE_SHARE = 0.9  # "auto": ... or whose trees hold less than this share of the bytes
FOREST_MODULES = ("sklearn.ensemble._forest", "sklearn.ensemble._iforest")
MARKER = 10**12  # a stand-in's max_depth: MARKER + its tree's index
PROBE_SPLITS = 1000  # split nodes per tree whose value and float32 neighbours are probed


@dataclass
class TreeRef:
    """One ``Tree`` in the input's schema."""

    index: int
    path: str
    node: dict[str, Any]  # the Tree's schema entry (in the input schema)
    nodes_file: str
    values_file: str


@dataclass
class StreamPlan:
    source: Path
    schema: dict[str, Any]
    trees: list[TreeRef]
    bytes_total: int
    bytes_trees: int


def _state(tree_node: dict[str, Any]) -> dict[str, Any]:
    return tree_node["content"]["content"]


def find_trees(schema: dict[str, Any]) -> list[TreeRef]:
    """Every sklearn ``Tree`` in a schema, with the readable path ``walk`` gives it."""
    found: list[TreeRef] = []
    stack: list[tuple[Any, str]] = [(schema, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend((item, join(path, str(i))) for i, item in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            continue
        if node.get("__class__") == "Tree" and node.get("__module__") == "sklearn.tree._tree":
            try:
                state = _state(node)
                files = state["nodes"]["file"], state["values"]["file"]
            except (KeyError, TypeError):
                continue  # not the shape skops writes: left to the in-memory path, which refuses it
            if all(isinstance(f, str) for f in files):
                found.append(TreeRef(len(found), path, node, *files))
            continue
        content = node.get("content")
        if node.get("__loader__") in ("ObjectNode", "DictNode", "ListNode", "TupleNode") or isinstance(content, dict):
            inner = content.get("content") if node.get("__loader__") == "ObjectNode" and isinstance(content, dict) else content
            if isinstance(inner, dict):
                stack.extend((v, join(path, str(k))) for k, v in reversed(list(inner.items())))
            elif isinstance(inner, list):
                stack.append((inner, path))
    return sorted(found, key=lambda t: t.index)


_ROOT_MODULE = re.compile(rb'\s*\{\s*"__class__"\s*:\s*"[A-Za-z_][A-Za-z0-9_]*"\s*,\s*"__module__"\s*:\s*"([A-Za-z0-9_.]+)"')


def _may_be_forest(archive: zipfile.ZipFile) -> bool:
    """False when the schema's opening names a root that is no forest (skops writes the root's
    class and module first). Only ever a reason to skip streaming: anything else is parsed."""
    try:
        with archive.open("schema.json") as handle:
            head = handle.read(512)
    except (KeyError, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile):
        return True  # the full checks say what is wrong
    found = _ROOT_MODULE.match(head)
    return found is None or found.group(1).decode() in FOREST_MODULES


def stream_plan(source: Path, keep: tuple[str, ...], force: bool | None, limits: Limits = Limits()) -> StreamPlan | None:
    """The trees to stream, or None when ``source`` is better shrunk in memory.

    ``force`` True streams any forest archive, False never streams, None decides:
    a RandomForest/ExtraTrees/IsolationForest archive of at least 256 MiB whose
    trees hold 90% of its bytes.
    """
    if force is False:
        return None
    try:
        with zipfile.ZipFile(source) as archive:
            if force is None and sum(i.file_size for i in archive.infolist()) < STREAM_MIN_BYTES:
                return None  # from the zip directory alone: most inputs stop here
            if force is None and not _may_be_forest(archive):
                return None  # a 1.5 GB text model: its 550 MB schema is parsed once, by the in-memory reader
            check_archive(archive, str(source), limits)
            from skops.io._protocol import PROTOCOL

            schema = read_checked_schema(archive, str(source), PROTOCOL)
            sizes = member_sizes(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None  # the in-memory reader says what is wrong with it
    if schema.get("__module__") not in FOREST_MODULES:
        return None
    trees = find_trees(schema)
    if not trees or any(matches(t.path, keep) for t in trees):
        return None
    if any(not t.path.startswith("estimators_.") for t in trees):
        return None
    total = sum(sizes.values())
    in_trees = sum(sizes.get(t.nodes_file, 0) + sizes.get(t.values_file, 0) for t in trees)
    if force is None and (total < STREAM_MIN_BYTES or in_trees < TREE_SHARE * total):
        return None
    check_references(schema, str(source), sizes)
    return StreamPlan(Path(source), schema, trees, total, in_trees)


# ---------------------------------------------------------------- reading trees


class _Members:
    """The input archive as skops reads it, plus the stand-ins' members."""

    def __init__(self, archive: zipfile.ZipFile, extra: dict[str, bytes] | None = None) -> None:
        self._zip = archive
        self._extra = extra or {}

    def read(self, name: str) -> bytes:
        if name in self._extra:
            return self._extra[name]
        return self._zip.read(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zip, name)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def fresh_ids(schema: Any) -> Iterator[int]:
    """Object ids no entry of ``schema`` uses."""
    top, stack = 0, [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__id__"), int):
                top = max(top, node["__id__"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return iter(range(top + 1, top + 1 << 62))


def light_schema(plan: StreamPlan, archive: zipfile.ZipFile) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The schema with each tree a one-leaf stand-in (max_depth MARKER + index), and their members."""
    from sklearn.tree._tree import NODE_DTYPE

    leaf = np.zeros(1, NODE_DTYPE)
    leaf["left_child"] = leaf["right_child"] = -1
    leaf["feature"] = leaf["threshold"] = -2
    leaf_bytes = npy_bytes(leaf)
    schema = copy.deepcopy(plan.schema)
    fresh = fresh_ids(schema)
    by_path = {t.path: t for t in plan.trees}
    members: dict[str, bytes] = {}
    for tree in find_trees(schema):
        source = by_path[tree.path]
        shape, _, _ = npy_header(archive, source.values_file)
        if len(shape) != 3:
            raise InputRefused(f"malformed tree at {tree.path}: values have shape {shape}", str(plan.source))
        state = _state(tree.node)
        name = f"skprune-stub-{source.index}"
        members[f"{name}-nodes.npy"] = leaf_bytes
        members[f"{name}-values.npy"] = npy_bytes(np.zeros((1, *shape[1:])))
        state["nodes"]["file"], state["values"]["file"] = f"{name}-nodes.npy", f"{name}-values.npy"
        # skops reuses the object loaded for an __id__ it has seen (equal ints share one), so the
        # changed entries get ids of their own
        state["node_count"] = {**state["node_count"], "content": "1", "__id__": next(fresh)}
        state["max_depth"] = {**state["max_depth"], "content": str(MARKER + source.index), "__id__": next(fresh)}
    return schema, members


def load_light(plan: StreamPlan, trust: tuple[str, ...]) -> Any:
    """The model with stand-in trees, through skops' audit like any ``.skops`` input."""
    from skops.io._audit import get_tree
    from skops.io._utils import LoadContext

    from .trust import refusal, refused as unreviewed

    source = str(plan.source)
    with zipfile.ZipFile(plan.source) as archive:
        schema, members = light_schema(plan, archive)
        try:
            context = LoadContext(src=_Members(archive, members), protocol=schema["protocol"])  # type: ignore[arg-type]
            tree = get_tree(schema, context, trusted=list(trust) or None)
            refused = unreviewed(tree.get_unsafe_set())  # the reviewed list, as for any .skops input
        except Exception as exc:  # noqa: BLE001 - malformed archives are refused, not crashed on
            raise InputRefused(f"malformed skops archive ({type(exc).__name__}: {exc})", source) from None
        if refused:
            raise InputRefused(refusal(refused), source)
        try:
            return tree.construct()
        except Exception as exc:  # noqa: BLE001
            raise InputRefused(f"could not rebuild the model ({type(exc).__name__}: {exc})", source) from None


@contextlib.contextmanager
def _refusing(tree: TreeRef, source: str) -> Iterator[None]:
    """Anything wrong while reading ``tree`` becomes one refusal naming it (both passes read trees)."""
    from .tree_checks import TreeError

    try:
        yield
    except TreeError as exc:
        raise InputRefused(f"malformed tree at {tree.path}: {exc}; refusing it even when trusted", source) from None
    except Exception as exc:  # noqa: BLE001
        raise InputRefused(f"malformed tree at {tree.path} ({type(exc).__name__}: {exc})", source) from None


def read_tree(archive: zipfile.ZipFile, tree: TreeRef, source: str) -> Any:
    """One tree from the input archive, its nodes checked before anything computes on them."""
    from skops.io._audit import get_tree
    from skops.io._utils import LoadContext

    from .tree_checks import check_tree

    with _refusing(tree, source):
        context = LoadContext(src=_Members(archive), protocol=0)  # type: ignore[arg-type]
        built = get_tree(tree.node, context, trusted=["sklearn.tree._tree.Tree"]).construct()
        check_tree(built)
    return built


MAX_WIDTH = 1 << 24  # input columns a streamed tree may declare when the forest does not say (a bincount's length)


def read_nodes(archive: zipfile.ZipFile, tree: TreeRef, source: str, width: int | None = None) -> tuple[np.ndarray, int]:
    """Only a tree's node records and its input width, checked: all the importances pass needs.

    The values (often as big as the nodes) are neither read nor rebuilt into a ``Tree``; the
    second pass reads and checks the whole tree again before anything is written.
    """
    from .tree_checks import TreeError, check_tree_arrays

    with _refusing(tree, source):
        n_features = int(tree.node["__reduce__"]["args"]["content"][0]["content"])
        if (width is not None and n_features != width) or not 0 < n_features <= MAX_WIDTH:
            raise TreeError(f"the tree declares {n_features} input features, the forest {width}")
        count = int(_state(tree.node)["node_count"]["content"])
        nodes = np.load(io.BytesIO(archive.read(tree.nodes_file)), allow_pickle=False)
        values_shape, _, _ = npy_header(archive, tree.values_file)
        if nodes.ndim != 1 or len(values_shape) != 3:
            raise TreeError(f"nodes of shape {nodes.shape}, values of shape {values_shape}")
        check_tree_arrays(nodes, values_shape, count, n_features, values_shape[1], values_shape[2])
        missing = {"impurity", "weighted_n_node_samples", "n_node_samples"} - set(nodes.dtype.names or ())
        if missing:
            raise TreeError(f"nodes lack {', '.join(sorted(missing))}")
    return nodes, n_features


def iter_nodes(plan: StreamPlan, label: str, width: int | None = None) -> Iterator[tuple[TreeRef, np.ndarray, int]]:
    with zipfile.ZipFile(plan.source) as archive, step(label, len(plan.trees)):
        for tree in plan.trees:
            yield tree, *read_nodes(archive, tree, str(plan.source), width)
            reporter().advance(1)


def iter_trees(plan: StreamPlan, label: str) -> Iterator[tuple[TreeRef, Any]]:
    with zipfile.ZipFile(plan.source) as archive, step(label, len(plan.trees)):
        for tree in plan.trees:
            yield tree, read_tree(archive, tree, str(plan.source))
            reporter().advance(1)
