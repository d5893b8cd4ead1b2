"""Structural checks of tree-shaped state that compiled code indexes without bounds checks.

A crafted sklearn ``Tree``, HistGradientBoosting ``TreePredictor`` or KD/Ball
tree loads fine but reads out of bounds (or loops) at predict time. skops
therefore does not trust ``Tree`` and ``TreePredictor`` by default; skprune
checks every node instead, so a valid tree loads without ``--trust`` and an
invalid one is refused even with it.

Rules (each tree): node count matches its arrays; an internal node's children
lie within the tree and after the node itself (so no cycle is possible), a
leaf has none; split features lie below the number of input features; value
arrays have the shape the tree declares.

The same holds for other content on the reviewed list (``trust.py``) that
compiled code reads by index: a KD/Ball tree's distance-metric weights must
match the data's width, sparse matrices' indices must lie inside their shape,
and a B-spline's knots must fit its degree and coefficients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputRefused

TREE_LEAF = -1


class TreeError(ValueError):
    """What is wrong with one tree."""


def _children_ok(left: np.ndarray, right: np.ndarray, inner: np.ndarray, leaf_marker: int | None) -> None:
    n = len(left)
    index = np.arange(n)
    for name, child in (("left", left), ("right", right)):
        bad = inner & ((child <= index) | (child >= n))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TreeError(f"node {i} has {name} child {int(child[i])} (must lie in {i + 1}..{n - 1})")
        if leaf_marker is not None and (~inner & (child != leaf_marker)).any():
            i = int(np.flatnonzero(~inner & (child != leaf_marker))[0])
            raise TreeError(f"leaf {i} has a {name} child {int(child[i])}")


def check_tree(tree: Any) -> None:
    state = tree.__getstate__()
    check_tree_arrays(state["nodes"], state["values"].shape, int(state["node_count"]), tree.n_features,
                      tree.n_outputs, int(np.max(tree.n_classes)))


def check_tree_arrays(nodes: np.ndarray, values_shape: tuple[int, ...], n: int, n_features: int,
                      n_outputs: int, max_classes: int) -> None:
    """The rules for one sklearn tree, on its arrays (a loaded Tree, or a .skops file's members)."""
    if nodes.dtype.names is None or not {"left_child", "right_child", "feature"} <= set(nodes.dtype.names):
        raise TreeError("nodes are not sklearn tree records")
    if len(nodes) != n or values_shape[0] != n or n < 1:
        raise TreeError(f"node_count {n} disagrees with {len(nodes)} nodes and {values_shape[0]} values")
    left, right = nodes["left_child"], nodes["right_child"]
    inner = left != TREE_LEAF
    if (inner != (right != TREE_LEAF)).any():
        i = int(np.flatnonzero(inner != (right != TREE_LEAF))[0])
        raise TreeError(f"node {i} has exactly one child")
    _children_ok(left, right, inner, TREE_LEAF)
    feature = nodes["feature"][inner]
    if feature.size and (feature.min() < 0 or feature.max() >= n_features):
        raise TreeError(f"a split uses feature {int(feature.max() if feature.max() >= n_features else feature.min())} "
                        f"of {n_features}")
    expected = (n, n_outputs, max_classes)
    if tuple(values_shape) != expected:
        raise TreeError(f"values have shape {tuple(values_shape)}, expected {expected}")


def check_predictor(predictor: Any, n_features: int | None) -> None:
    lengths = {name: len(value) for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets")
               if isinstance(value := getattr(predictor, name, None), np.ndarray)}
    check_predictor_arrays(getattr(predictor, "nodes", None), n_features, lengths)


def check_predictor_arrays(nodes: Any, n_features: int | None, bitsets: dict[str, int]) -> None:
    """The rules for one HistGradientBoosting predictor, on its arrays."""
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or not len(nodes):
        raise TreeError("predictor has no node records")
    for field in ("left", "right", "is_leaf", "feature_idx", "is_categorical", "bitset_idx"):
        if field not in nodes.dtype.names:
            raise TreeError(f"predictor nodes lack the {field!r} field")
    inner = nodes["is_leaf"] == 0
    _children_ok(nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), inner, None)
    feature = nodes["feature_idx"][inner]
    if feature.size and (feature.min() < 0 or (n_features is not None and feature.max() >= n_features)):
        raise TreeError(f"a split uses feature {int(feature.max())} of {n_features}")
    categorical = inner & (nodes["is_categorical"] != 0)
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        if categorical.any() and (name not in bitsets or nodes["bitset_idx"][categorical].max() >= bitsets[name]):
            raise TreeError(f"a categorical split points past {name}")


def check_binary_tree(tree: Any) -> None:
    state = tree.__getstate__()
    weights = state[12] if len(state) > 12 else None
    metric = state[11]
    _, vec, mat = metric.__getstate__()[:3]
    check_binary_tree_arrays(np.shape(state[0]), state[1], state[2], np.shape(state[3]), int(state[5]),
                             int(state[6]), None if weights is None else np.shape(weights),
                             type(metric).__name__, np.shape(vec), np.shape(mat))


def check_binary_tree_arrays(data_shape: tuple[int, ...], idx_array: np.ndarray, node_data: np.ndarray,
                             bounds_shape: tuple[int, ...], n_levels: int, declared_nodes: int,
                             weights_shape: tuple[int, ...] | None, metric: str, vec_shape: tuple[int, ...],
                             mat_shape: tuple[int, ...]) -> None:
    """KD/Ball tree state: indices within the data, node ranges, bounds and metric weights consistent."""
    if len(data_shape) != 2:
        raise TreeError(f"data has shape {data_shape}")
    n_samples, width = data_shape
    if idx_array.shape != (n_samples,) or (len(idx_array) and (idx_array.min() < 0 or idx_array.max() >= n_samples)):
        raise TreeError("index array does not point into the data")
    n_nodes = len(node_data)
    starts, ends, leaves = node_data["idx_start"], node_data["idx_end"], node_data["is_leaf"]
    if ((starts < 0) | (ends < starts) | (ends > n_samples)).any():
        raise TreeError("a node's sample range lies outside the data")
    internal = np.flatnonzero(leaves == 0)
    if internal.size and 2 * internal.max() + 2 >= n_nodes:
        raise TreeError("an internal node's children lie past the last node")
    if len(bounds_shape) != 3 or bounds_shape[1] != n_nodes or bounds_shape[2] != width:
        raise TreeError(f"node bounds have shape {bounds_shape}")
    if declared_nodes != n_nodes or not 0 <= n_levels < 63 or n_nodes != 2 ** n_levels - 1:
        raise TreeError(f"{n_nodes} nodes disagree with n_nodes {declared_nodes} and n_levels {n_levels}")
    if weights_shape is not None and weights_shape != (n_samples,):
        raise TreeError(f"sample weights have shape {weights_shape}, expected ({n_samples},)")
    check_metric(metric, vec_shape, mat_shape, width)


def check_metric(name: str, vec_shape: tuple[int, ...], mat_shape: tuple[int, ...], width: int) -> None:
    """Weights that a distance metric reads for every input column must have one per column."""
    if len(vec_shape) != 1 or len(mat_shape) != 2:
        raise TreeError(f"{name} has weights of shape {vec_shape} and {mat_shape}")
    if name.startswith("SEuclidean") and vec_shape[0] != width:
        raise TreeError(f"{name} has {vec_shape[0]} variances for {width} features")
    if name.startswith(("Minkowski", "WMinkowski")) and vec_shape[0] not in (0, width):
        raise TreeError(f"{name} has {vec_shape[0]} weights for {width} features")
    if name.startswith("Mahalanobis") and tuple(mat_shape) != (width, width):
        raise TreeError(f"{name} has a {mat_shape} matrix for {width} features")
    if name.startswith("PyFunc"):
        raise TreeError(f"{name} calls a function stored in the file")


def check_sparse(matrix: Any) -> None:
    """Compressed sparse indices are used unchecked by scipy's compiled kernels: check them all."""
    check = getattr(matrix, "check_format", None)
    if check is not None:
        try:
            check(full_check=True)
        except (ValueError, TypeError) as exc:
            raise TreeError(f"sparse {type(matrix).__name__}: {exc}") from None


def check_bspline(spline: Any) -> None:
    """What ``BSpline.__init__`` checks (skops bypasses it): knots sorted, enough of them for k."""
    t, c, k = np.asarray(spline.t), np.asarray(spline.c), spline.k
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise TreeError(f"B-spline degree {k!r} is not a non-negative integer")
    n = t.shape[0] - k - 1 if t.ndim == 1 else -1
    if t.ndim != 1 or n < k + 1 or (np.diff(t) < 0).any() or not np.isfinite(t).all():
        raise TreeError(f"B-spline of degree {k} has {t.shape} knots (need sorted, finite, at least {2 * k + 2})")
    if c.ndim < 1 or c.shape[0] < n:
        raise TreeError(f"B-spline has {c.shape[0] if c.ndim else 0} coefficients for {n} basis elements")


def _n_features(owners: list[tuple[str, Any]], path: str) -> int | None:
    """The input width of the estimator that holds the predictor at ``path``."""
    best = None
    for owner_path, owner in owners:
        if path.startswith(owner_path) and hasattr(owner, "_predictors"):
            best = getattr(owner, "n_features_in_", None)
    return best


def validate_model(found: Any, source: str) -> list[str]:
    """Refuse the model (its ``walk.graph``) if any tree is malformed; say what was validated."""
    from sklearn.tree._tree import Tree

    counts = {"Tree": 0, "TreePredictor": 0, "KD/Ball tree": 0, "sparse matrix": 0, "B-spline": 0}
    where = ""
    try:
        for ref in found.arrays:
            if not isinstance(ref.array, np.ndarray):
                where = f"sparse matrix at {ref.path or 'the root'}"
                check_sparse(ref.array)
                counts["sparse matrix"] += 1
        for path, obj in found.compiled:
            if isinstance(obj, Tree):
                where = f"tree at {path or 'the root'}"
                check_tree(obj)
                counts["Tree"] += 1
            elif type(obj).__name__ in ("KDTree", "BallTree") and type(obj).__module__.startswith("sklearn."):
                where = f"tree at {path or 'the root'}"
                check_binary_tree(obj)
                counts["KD/Ball tree"] += 1
        for path, obj in found.owners:
            if type(obj).__name__ == "TreePredictor" and type(obj).__module__.startswith("sklearn."):
                where = f"tree at {path or 'the root'}"
                check_predictor(obj, _n_features(found.owners, path))
                counts["TreePredictor"] += 1
            elif type(obj).__name__ == "BSpline" and type(obj).__module__.startswith("scipy."):
                where = f"B-spline at {path}"
                check_bspline(obj)
                counts["B-spline"] += 1
    except TreeError as exc:
        raise InputRefused(f"malformed {where}: {exc}; refusing it even when trusted", source) from None
    except Exception as exc:  # noqa: BLE001 - state we cannot even read is malformed too
        raise InputRefused(f"malformed {where}: {type(exc).__name__}: {exc}", source) from None
    return [f"{n} {kind} object(s) validated" for kind, n in counts.items() if n and kind in _NOTED]


_NOTED = ("Tree", "TreePredictor", "KD/Ball tree")
