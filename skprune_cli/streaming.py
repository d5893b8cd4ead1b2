"""``shrink`` for forests larger than memory: the job behind ``formats/stream_trees.py``.

The light model (each tree a stand-in) goes through ``prune_model`` like any
model, so drops, casts and the fidelity check of the non-tree parts are
today's. Trees are then transformed one at a time with the same exact
transforms as in memory (``estimators/trees.py``), each compared with its
original on probe rows before it is written: leaf indices and leaf values
must be identical, or nothing is written.
"""

from __future__ import annotations

import json
import queue
import threading
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .errors import FidelityError
from .estimators.trees import (IMPORTANCE_LEVELS, TreeSummary, _Fields, _importance_error, describe_trees,
                               round_importances, transform_tree)
from .formats import Target, load_command
from .formats.atomic import atomic_write
from .formats.compression import Policy
from .formats.time_budget import best_budget, held_back_note
from .formats.stream_trees import MARKER, PROBE_SPLITS, StreamPlan, iter_nodes, iter_trees, load_light, npy_bytes
from .options import PruneOptions
from .fidelity.probes import Probes
from .progress import step
from .pruning import prune_model
from .rounding import bitround
from .report import FileInfo, ShrinkReport, Transformed


def rounded_importances(nodes: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """A tree's normalised importances exactly, and at every precision of ``IMPORTANCE_LEVELS``.

    The rounding is ``_Fields.round``'s (``bitround``: nearest, ties to even, ``bits`` minus the
    node's lightness mantissa bits) done on ``frexp`` mantissas, so each precision costs three
    array passes instead of a tree rewrite; the sums are ``compute_feature_importances``'.
    """
    fields = _Fields(nodes)
    inner = np.flatnonzero(nodes["left_child"] >= 0)
    left, right = nodes["left_child"][inner], nodes["right_child"][inner]
    feature = nodes["feature"][inner]
    # a node of impurity 0 (most leaves of a grown forest) adds 0 to every gain however its weight
    # is rounded: only the others are rounded, at every precision (the root too: it scales)
    live = fields.impurity != 0
    live[0] = True
    where = np.flatnonzero(live)
    impurity, weights, lighter = fields.impurity[where], fields.weights[where], fields.lighter[where]
    impurity_m, impurity_e = np.frexp(impurity)
    weight_m, weight_e = np.frexp(weights)
    product = np.zeros(len(nodes))

    def importances(impurity: np.ndarray, weights: np.ndarray) -> np.ndarray:
        product[where] = weights * impurity
        gain = product[inner] - product[left] - product[right]
        found = np.bincount(feature, gain, minlength=n_features)
        with np.errstate(invalid="ignore", divide="ignore"):
            found = found / weights[0]
            total = found.sum()
            return found / total if total > 0 else found

    def rounded(values: np.ndarray, mantissa: np.ndarray, exponent: np.ndarray, keep: np.ndarray) -> np.ndarray:
        out = np.ldexp(np.rint(np.ldexp(mantissa, keep + 1)), exponent - keep - 1)
        bare = keep == 0  # no mantissa bit left: bitround breaks ties on the exponent's last bit
        out[bare] = bitround(values[bare], 0)
        return out

    exact = importances(impurity, weights)
    levels = []
    for impurity_bits, weight_bits in IMPORTANCE_LEVELS:
        levels.append(importances(rounded(impurity, impurity_m, impurity_e, np.clip(impurity_bits - lighter, 0, 52)),
                                  rounded(weights, weight_m, weight_e, np.clip(weight_bits - lighter, 0, 52))))
    return exact, np.array(levels)


def forest_importance_bits(plan: StreamPlan, tolerance: float,
                           width: int | None) -> tuple[tuple[int, int], float] | None:
    """First pass: the fewest mantissa bits for impurity and node weights that keep the forest's
    ``feature_importances_`` (the mean of its trees' normalised importances) within ``tolerance``."""
    reference: np.ndarray | None = None
    rounded: np.ndarray | None = None
    pending: deque[Future[tuple[np.ndarray, np.ndarray]]] = deque()

    def add(done: Future[tuple[np.ndarray, np.ndarray]]) -> None:
        nonlocal reference, rounded
        exact, levels = done.result()
        reference = exact if reference is None else reference + exact
        rounded = levels if rounded is None else rounded + levels

    # numpy's array passes release the GIL: trees are rounded on both cores while the next is read;
    # at most two wait, so memory stays a few trees; sums in tree order, as one thread would add them
    with ThreadPoolExecutor(2, thread_name_prefix="skprune-importances") as pool:
        for _, nodes, n_features in iter_nodes(plan, "importances", width):
            if len(nodes) > 1:
                pending.append(pool.submit(rounded_importances, nodes, n_features))
            while len(pending) > 2:
                add(pending.popleft())
        while pending:
            add(pending.popleft())
    if reference is None or rounded is None:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = reference / reference.sum()
        for level, total in zip(IMPORTANCE_LEVELS, rounded):
            error = _importance_error(reference, total / total.sum())
            if error <= tolerance:
                return level, error
    return None


def _copy(tree: Any) -> Any:
    from sklearn.tree._tree import Tree

    state = tree.__getstate__()
    twin = Tree(tree.n_features, tree.n_classes, tree.n_outputs)
    twin.__setstate__({**state, "nodes": state["nodes"].copy(), "values": state["values"].copy()})
    return twin


def probe_rows(tree: Any, extra: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Rows at split values and their float32 neighbours (other features drawn from the tree's
    thresholds), plus the user's rows."""
    nodes = tree.__getstate__()["nodes"]
    inner = np.flatnonzero(nodes["left_child"] >= 0)
    picked = inner if len(inner) <= PROBE_SPLITS else rng.choice(inner, PROBE_SPLITS, replace=False)
    features, thresholds = nodes["feature"][picked], nodes["threshold"][picked].astype(np.float32)
    base = np.zeros((len(picked), tree.n_features), np.float32)
    for f in np.unique(features):
        pool = thresholds[features == f]
        base[:, f] = rng.choice(pool, len(picked))
    rows = [extra] if extra is not None else []
    for shifted in (np.nextafter(thresholds, np.float32(-np.inf)), thresholds, np.nextafter(thresholds, np.float32(np.inf))):
        block = base.copy()
        block[np.arange(len(picked)), features] = shifted
        rows.append(block)
    return np.ascontiguousarray(np.concatenate(rows) if rows else base)


def verify_tree(original: Any, new: Any, rows: np.ndarray, where: str) -> None:
    same = np.array_equal(original.apply(rows), new.apply(rows)) and \
        np.array_equal(original.predict(rows), new.predict(rows))
    if not same:
        raise FidelityError(f"the exact transforms changed the outputs of {where} (a bug: please report it)")


def _user_rows(inputs: Probes | None, n_features: int) -> np.ndarray | None:
    if inputs is None:
        return None
    try:
        rows = np.asarray(inputs.X, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return np.ascontiguousarray(rows[:5000]) if rows.ndim == 2 and rows.shape[1] == n_features else None


class _Writer:
    """Members packed and compressed on a second thread while the next tree is read and checked
    (zlib, lzma and bz2 release the GIL); at most ``depth`` members wait, so memory stays bounded."""

    def __init__(self, members: Any, depth: int = 4) -> None:
        self._members = members
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="skprune-writer", daemon=True)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._members.writestr(*item)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    self._error = exc

    def writestr(self, name: str, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((name, data))

    def __enter__(self) -> "_Writer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        self._members.close()  # members still compressing on the pool are written
        if self._error is not None and exc[0] is None:
            raise self._error


class _Buffered:
    """The light model's members, held until the stand-ins' ones can be left out."""

    def __init__(self) -> None:
        self.members: dict[str, bytes] = {}

    def namelist(self) -> dict[str, bytes]:
        return self.members

    def writestr(self, name: str, data: Any) -> None:
        self.members[name] = bytes(data)


def _files(state: Any) -> Iterable[str]:
    stack = [state]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                yield node["file"]
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):  # skops keeps a tuple's entries as a tuple
            stack.extend(node)


def splice(state: Any, written: dict[int, tuple[str, str]], plan: StreamPlan) -> int:
    """Swap each stand-in in the light model's state for its streamed tree; returns how many."""
    swapped = 0
    stack = [state]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("__class__") == "Tree" and node.get("__module__") == "sklearn.tree._tree":
            content = node["content"]["content"]
            index = int(content["max_depth"]["content"]) - MARKER
            original = plan.trees[index].node["content"]["content"]
            # no id: skops would hand every entry with the id of the int 1 the first one's value (a JSON
            # value needs none, see CompactNames)
            for key in ("max_depth", "node_count"):
                content[key] = {k: v for k, v in content[key].items() if k != "__id__"} | {"content": original[key]["content"]}
            content["nodes"]["file"], content["values"]["file"] = written[index]
            swapped += 1
            continue
        stack.extend(node.values())
    return swapped


def write_streamed(plan: StreamPlan, light: Any, options: PruneOptions, inputs: Probes | None,
                   handle: Any, policy: Policy) -> tuple[TreeSummary, list[str]]:
    """Trees one at a time, then the light model's members and the spliced schema."""
    import skops
    from skops.io._utils import SaveContext, get_state

    from .formats.skops_io import CompactNames, _PolicyZip, audit_schema

    summary = TreeSummary()
    per_forest = hasattr(type(light), "feature_importances_") and not options.drop_importances
    width = getattr(light, "n_features_in_", None)  # every tree reads the forest's inputs
    chosen = forest_importance_bits(plan, options.objects().importance_tolerance,
                                    width if isinstance(width, int) else None) if per_forest else None
    if chosen is not None:
        summary.importance_bits.append(chosen[0])
        summary.worst_importance_error = chosen[1]
    rng = np.random.default_rng(0)
    written: dict[int, tuple[str, str]] = {}
    with zipfile.ZipFile(handle, "w", allowZip64=True) as zip_file, _Writer(_PolicyZip(zip_file, policy)) as members:
        extra: np.ndarray | None = None
        for ref, tree in iter_trees(plan, "shrinking trees"):
            extra = _user_rows(inputs, tree.n_features) if extra is None else extra
            original = _copy(tree)
            transform_tree(tree, summary, options.drop_importances)
            if chosen is not None and tree.node_count > 1:
                fields = _Fields(tree.__getstate__()["nodes"])
                fields.round(chosen[0])
                fields.finish(chosen[0])
            elif not options.drop_importances and not per_forest:
                round_importances(tree, [tree], options.objects().importance_tolerance, summary)
            verify_tree(original, tree, probe_rows(original, extra, rng), ref.path)
            state = tree.__getstate__()
            names = (f"skprune-tree-{ref.index}-nodes.npy", f"skprune-tree-{ref.index}-values.npy")
            for name, array in zip(names, (state["nodes"], state["values"])):
                members.writestr(name, npy_bytes(array))
            written[ref.index] = names
            del original, tree, state
        buffered = _Buffered()
        context = SaveContext(zip_file=buffered)  # type: ignore[arg-type]
        state = get_state(light, context)
        context.clear_memo()
        if splice(state, written, plan) != len(plan.trees):
            raise FidelityError("the model's trees changed places while pruning (a bug: please report it)")
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        needed, compact = set(_files(state)), CompactNames(short_names=False)  # tree members are named already
        for name, data in buffered.members.items():
            if name in needed and compact.member(name, data) is not None:
                members.writestr(name, data)
        compact.rename(state)
        members.writestr("schema.json", json.dumps(state, separators=(",", ":")).encode("utf-8"))
    return summary, audit_schema(state)


def shrink_streamed(plan: StreamPlan, output: Path, target: Target, options: PruneOptions, *, force: bool,
                    trust: tuple[str, ...], inputs_for: Any, started: float | None = None) -> ShrinkReport:
    """Shrink ``plan.source`` into ``output`` without ever holding two trees in memory.

    ``inputs_for(model)`` reads the user's ``--data`` against the light model.
    """
    light = load_light(plan, trust)
    inputs = inputs_for(light)
    result = prune_model(light, options, inputs)
    # the forest is most of the work here and LZMA preset 0 compresses its nodes 1.5x faster than
    # preset 1 for 1.5% more bytes: the plain round trip it is measured against is one DEFLATE pass
    policy = Policy(target.compression, fast_preset=0, budget=best_budget(target.compression, started, plan.bytes_total))
    with atomic_write(output, force) as handle, step("writing", None):
        summary, trusted = write_streamed(plan, light, options, inputs, handle, policy)
    transformed = [t for t in result.transformed if t.effect != "tree-exact"]
    transformed.append(Transformed(
        "estimators_.*.tree_", "Tree", "tree-exact",
        f"{summary.trees} trees, {summary.nodes} nodes, streamed one at a time: "
        f"{describe_trees(summary, options.drop_importances)}; every tree's leaf indices and values "
        "compared with the original's at its split values and their float32 neighbours",
        "trees compare float32 inputs and read leaf values only"))
    size_in, size_out = plan.source.stat().st_size, output.stat().st_size
    note = (f"streamed tree by tree ({len(plan.trees)} trees, {plan.bytes_trees / 2**20:.0f} MiB of "
            f"{plan.bytes_total / 2**20:.0f} MiB): the check ran on the rest of the model")
    return ShrinkReport(
        input=FileInfo(str(plan.source), "skops", size_in),
        output=FileInfo(str(output), "skops", size_out),
        dry_run=False,
        preset=options.effective_preset,
        casts=[str(c) for c in options.casts],
        arrays=result.changes,
        dropped=result.dropped,
        memory_bytes_before=result.bytes_before,
        memory_bytes_after=result.bytes_after,
        disk_ratio=size_out / size_in if size_in else None,
        load_command=load_command(output, target, trusted),
        trusted_types=trusted,
        transformed=transformed,
        check=result.check,
        compression=target.compression,
        compression_members=policy.chosen or None,
        notes=[note, *held_back_note(policy.budget)],
    )
