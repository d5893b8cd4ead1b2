"""Applying the registry's whole-attribute and whole-object knowledge to a model.

Runs before any array is planned: training-only attributes (and those the
user excludes) are removed, vocabularies get Python ints in column order, trees and
HistGradientBoosting predictors get their exact transforms. Each step reports
what it did, aggregated so a 500-tree forest is one line, not 500.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..options import ObjectOptions
from ..report import Dropped, Transformed
from ..paths import join, matches
from ..walk import Graph, array_nbytes, graph, walk
from .attributes import apply_attribute_knowledge
from .hist_trees import PredictorSummary, transform_predictor
from .registry import droppable, object_effect
from .trees import Tree, TreeSummary, describe_trees, round_importances, transform_tree


def attribute_bytes(value: Any) -> int:
    return sum(array_nbytes(ref.array) for ref in walk(value))


def drop_attributes(owners: Iterable[tuple[str, Any]], options: ObjectOptions) -> list[Dropped]:
    dropped = []
    for path, owner in owners:
        for attr in list(vars(owner)):
            full = join(path, attr)
            if matches(full, options.keep):
                continue
            user = matches(full, options.exclude)
            entry = droppable(owner, attr) if options.drop_training else None
            if user is None and entry is None:
                continue
            reason = f"matches --exclude {user}" if user else f"training only: {entry.reason}"  # type: ignore[union-attr]
            size = attribute_bytes(getattr(owner, attr))
            delattr(owner, attr)
            dropped.append(Dropped(full, type(owner).__name__, size, reason))
    return dropped


def _importance_groups(found: Graph, trees: list[tuple[str, Tree]]) -> list[tuple[Any, list[Tree]]]:
    """Trees grouped under the outermost estimator that reports feature_importances_ for them."""
    by_path = dict(trees)
    groups: list[tuple[Any, list[Tree]]] = []
    claimed: set[str] = set()
    for path, owner in found.owners:
        if not hasattr(type(owner), "feature_importances_"):
            continue
        prefix = f"{path}." if path else ""
        members = [p for p in by_path if p.startswith(prefix) and p not in claimed]
        if members:
            claimed.update(members)
            groups.append((owner, [by_path[p] for p in members]))
    groups += [(by_path[p], [by_path[p]]) for p in by_path if p not in claimed]
    return groups


def transform_objects(found: Graph, options: ObjectOptions) -> list[Transformed]:
    trees, predictors = TreeSummary(), PredictorSummary()
    tree_objects: list[tuple[str, Tree]] = []
    predictor_paths: list[str] = []
    reasons: dict[str, str] = {}
    for path, obj in [*found.compiled, *found.owners]:
        if matches(path, options.keep):
            continue
        entry = object_effect(obj)
        if entry is None:
            continue
        reasons[entry.effect] = entry.reason
        if entry.effect == "tree-exact":
            transform_tree(obj, trees, options.drop_importances)
            tree_objects.append((path, obj))
        else:
            transform_predictor(obj, predictors)
            predictor_paths.append(path)
    if not options.drop_importances:
        for source, group in _importance_groups(found, tree_objects):
            round_importances(source, group, options.importance_tolerance, trees)
    tree_paths = [p for p, _ in tree_objects]
    out: list[Transformed] = []
    if trees.trees:
        detail = f"{trees.trees} trees, {trees.nodes} nodes: {describe_trees(trees, options.drop_importances)}"
        out.append(Transformed(_common(tree_paths), "Tree", "tree-exact", detail, reasons["tree-exact"]))
    if predictors.predictors:
        detail = (f"{predictors.predictors} predictors: {predictors.internal_values_zeroed} internal values "
                  "and all split gains zeroed")
        out.append(Transformed(_common(predictor_paths), "TreePredictor", "hgb-exact", detail, reasons["hgb-exact"]))
    return out


def _common(paths: list[str]) -> str:
    """``estimators_.*.tree_`` for many paths that differ only in indices."""
    if len(paths) == 1:
        return paths[0]
    parts = [p.split(".") for p in paths]
    if len({len(p) for p in parts}) != 1:
        return f"{paths[0]} (and {len(paths) - 1} more)"
    return ".".join(seg[0] if len(set(seg)) == 1 else "*" for seg in zip(*parts))


def apply_object_knowledge(model: Any, options: ObjectOptions) -> tuple[Graph, list[Transformed], list[Dropped]]:
    """Drop, then transform; returns the graph of what is left."""
    found = graph(model)
    dropped = drop_attributes(found.owners, options)
    if dropped:
        found = graph(model)
    transformed = apply_attribute_knowledge(found.owners, options.keep)
    transformed += transform_objects(found, options)
    return found, transformed, dropped
