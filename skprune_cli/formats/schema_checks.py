"""Checking what a ``.skops`` schema describes, from its members, before anything is built.

``inspect`` lists a file without constructing the model, yet must refuse exactly what
``shrink`` refuses: these run the node checks of ``tree_checks.py`` (trees, HGB predictors,
KD/Ball trees, sparse matrices, B-splines) on the members the schema names, and check that the
root is an estimator or a bundle holding one.
"""

from __future__ import annotations

import io
import zipfile
from types import SimpleNamespace
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from ..errors import InputRefused
from .archive import npy_header
from .schema_nodes import DICT_DECODER, OWNERS, AttrDict, DictNode, JsonNode, ListNode, NdArrayNode, Node, ObjectNode, TupleNode
from .tree_checks import (TreeError, check_binary_tree_arrays, check_bspline, check_predictor_arrays, check_sparse,
                          check_tree_arrays)

if TYPE_CHECKING:
    from .schema_inspect import _Lister


def _json_int(node: object) -> int | None:
    if isinstance(node, JsonNode):
        try:
            value = msgspec.json.decode(node.content)
        except msgspec.DecodeError:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def _load_member(archive: zipfile.ZipFile, node: object) -> np.ndarray | None:
    if isinstance(node, NdArrayNode) and node.type == "numpy" and node.file:
        return np.load(io.BytesIO(archive.read(node.file)), allow_pickle=False)
    return None


def check_trees(lister: _Lister, archive: zipfile.ZipFile, path: str) -> None:
    """The node checks of tree_checks.py, on the members of every Tree and TreePredictor."""
    for where, tree in lister.trees:
        try:
            state = tree.content.content if isinstance(tree.content, AttrDict) else {}
            args = tree.reduce.args.content if tree.reduce and isinstance(tree.reduce.args, TupleNode) else []
            n_features = _json_int(args[0]) if len(args) > 2 else None
            n_outputs = _json_int(args[2]) if len(args) > 2 else None
            classes = _load_member(archive, args[1]) if len(args) > 2 else None
            nodes = _load_member(archive, state.get("nodes"))
            values = state.get("values")
            node_count = _json_int(state.get("node_count"))
            parts = (n_features, n_outputs, classes, nodes, node_count)
            if any(part is None for part in parts) or not isinstance(values, NdArrayNode):
                raise TreeError("the tree's state is incomplete")
            values_shape, _, _ = npy_header(archive, values.file)  # type: ignore[arg-type]
            check_tree_arrays(nodes, values_shape, node_count, n_features, n_outputs,  # type: ignore[arg-type]
                              int(np.max(classes)))
        except TreeError as exc:
            raise InputRefused(f"malformed tree at {where or 'the root'}: {exc}; refusing it even when trusted",
                               path) from None
    for where, predictor in lister.predictors:
        attrs = predictor.content.content if isinstance(predictor.content, AttrDict) else {}
        try:
            lengths = {name: npy_header(archive, node.file)[0][0]  # type: ignore[arg-type]
                       for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets")
                       if isinstance(node := attrs.get(name), NdArrayNode) and node.file}
            check_predictor_arrays(_load_member(archive, attrs.get("nodes")), None, lengths)
        except TreeError as exc:
            raise InputRefused(f"malformed tree at {where}: {exc}; refusing it even when trusted", path) from None


def _tuple_items(node: object) -> list:
    state = node.content if isinstance(node, ObjectNode) else None
    return list(state.content) if isinstance(state, TupleNode) else []


def _shape(archive: zipfile.ZipFile, node: object) -> tuple[int, ...] | None:
    if isinstance(node, NdArrayNode) and node.type == "numpy" and node.file:
        return tuple(npy_header(archive, node.file)[0])
    return None


def _check_binary_tree(archive: zipfile.ZipFile, tree: ObjectNode) -> None:
    items = _tuple_items(tree)
    if len(items) < 12:
        raise TreeError("the tree's state is incomplete")
    metric = items[11]
    metric_state = _tuple_items(metric)
    weights = items[12] if len(items) > 12 else None
    parts = (_shape(archive, items[0]), _load_member(archive, items[1]), _load_member(archive, items[2]),
             _shape(archive, items[3]), _json_int(items[5]), _json_int(items[6]))
    if any(part is None for part in parts) or len(metric_state) < 3 or not isinstance(metric, Node):
        raise TreeError("the tree's state is incomplete")
    vec, mat = _shape(archive, metric_state[1]), _shape(archive, metric_state[2])
    if vec is None or mat is None:
        raise TreeError("the distance metric's state is incomplete")
    weights_shape = _shape(archive, weights) if isinstance(weights, NdArrayNode) else None
    check_binary_tree_arrays(*parts, weights_shape, metric.cls, vec, mat)  # type: ignore[arg-type]


def check_extras(lister: _Lister, archive: zipfile.ZipFile, path: str) -> None:
    """KD/Ball trees, sparse matrices and B-splines: the checks ``shrink`` runs on loaded objects."""
    where = ""
    try:
        for where, node in lister.binary_trees:
            _check_binary_tree(archive, node)
        for where, member in lister.sparse:
            import scipy.sparse

            with archive.open(member) as handle:
                check_sparse(scipy.sparse.load_npz(io.BytesIO(handle.read())))
        for where, node in lister.splines:
            attrs = node.content.content if isinstance(node.content, AttrDict) else {}
            knots, coefs = attrs.get("_t", attrs.get("t")), attrs.get("_c", attrs.get("c"))
            spline = SimpleNamespace(t=_load_member(archive, knots), c=_load_member(archive, coefs),
                                     k=_json_int(attrs.get("k")))
            if spline.t is None or spline.c is None:
                raise TreeError("the B-spline's state is incomplete")
            check_bspline(spline)
    except TreeError as exc:
        kind = ("tree" if any(where == w for w, _ in lister.binary_trees)
                else "sparse matrix" if any(where == w for w, _ in lister.sparse) else "B-spline")
        raise InputRefused(f"malformed {kind} at {where or 'the root'}: {exc}; refusing it even when trusted",
                           path) from None


def check_root(root: object, path: str) -> None:
    """The root must be an estimator, or a dict/list bundle holding one (as read_model decides)."""
    def estimator(node: object) -> bool:
        return isinstance(node, OWNERS) and node.module.startswith("sklearn.")

    if estimator(root):
        return
    children: list[object] = []
    if isinstance(root, DictNode):
        children = list(DICT_DECODER.decode(root.content).values())
    elif isinstance(root, (ListNode, TupleNode)):
        children = list(root.content)
    if not any(estimator(child) for child in children):
        kind = root.cls if isinstance(root, Node) and root.cls else type(root).__name__
        raise InputRefused(f"not a scikit-learn model: the file holds a {kind}", path)
