"""Attribute-level changes the registry asks for, applied owner by owner.

Array casts are planned array by array (``plan.py``); these act on whole
attributes: a vocabulary's numpy integers become Python ints and its terms
go in column order; sub-estimators' fitted random states become None.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..report import Transformed
from ..paths import join, matches
from .registry import Knowledge, attribute_knowledge


def _vocabulary(owner: Any, attr: str) -> str | None:
    mapping = getattr(owner, attr)
    if not isinstance(mapping, dict) or not all(isinstance(v, (int, np.integer)) for v in mapping.values()):
        return None
    ints = sum(isinstance(value, np.integer) for value in mapping.values())
    ordered = sorted(mapping.items(), key=lambda item: int(item[1]))
    reordered = any(a[0] != b for a, b in zip(ordered, mapping))
    if not ints and not reordered:
        return None
    # the same dict object, refilled: anything else holding it (a pipeline's copy) sees the change too
    mapping.clear()
    mapping.update((term, int(value)) for term, value in ordered)
    done = [f"{ints} numpy integer values -> Python int"] if ints else []
    return "; ".join(done + (["terms in column order"] if reordered else []))


def _fitted_rng(owner: Any, attr: str) -> str | None:
    if isinstance(getattr(owner, attr), np.random.RandomState):
        setattr(owner, attr, None)
        return "RandomState -> None"
    return None


EFFECTS: dict[str, Callable[[Any, str], str | None]] = {"vocabulary": _vocabulary, "fitted-rng": _fitted_rng}
ONLY_INSIDE_FITTED = {"fitted-rng"}  # not for the model the user fitted, only for what it fitted


def _inside_fitted(path: str) -> bool:
    return any(part.endswith("_") for part in path.split(".")[:-1])


def apply_attribute_knowledge(
    owners: Iterable[tuple[str, Any]], keep: Iterable[str] = ()
) -> list[Transformed]:
    keep = tuple(keep)
    changes = []
    grouped: dict[str, list[str]] = {}
    about: dict[str, tuple[str, str, str]] = {}
    for path, owner in owners:
        for attr in list(vars(owner)):
            full = join(path, attr)
            if matches(full, keep):
                continue
            entry: Knowledge
            for entry in attribute_knowledge(owner, attr):
                if entry.effect in ONLY_INSIDE_FITTED and not _inside_fitted(full):
                    continue
                detail = EFFECTS[entry.effect](owner, attr)
                if not detail:
                    continue
                if entry.effect in ONLY_INSIDE_FITTED:
                    grouped.setdefault(entry.effect, []).append(full)
                    about[entry.effect] = (type(owner).__name__, detail, entry.reason)
                    continue
                changes.append(Transformed(full, type(owner).__name__, entry.effect, detail, entry.reason))
    for effect, paths in grouped.items():
        owner_name, detail, reason = about[effect]
        changes.append(Transformed(paths[0] if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} more)",
                                   owner_name, effect, f"{len(paths)} sub-estimators: {detail}", reason))
    return changes
