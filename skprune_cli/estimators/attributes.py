"""Attribute-level changes the registry asks for, applied owner by owner.

Array casts are planned array by array (``plan.py``); these act on whole
attributes: converting a vocabulary's numpy integers to Python ints, and
(later) removing attributes that no prediction method reads.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..report import Transformed
from ..paths import join, matches
from .registry import Knowledge, attribute_knowledge


def _python_ints(owner: Any, attr: str) -> str | None:
    mapping = getattr(owner, attr)
    if not isinstance(mapping, dict):
        return None
    changed = 0
    for key, value in mapping.items():
        if isinstance(value, np.integer):
            mapping[key] = int(value)
            changed += 1
    return f"{changed} numpy integer values -> Python int" if changed else None


def _fitted_rng(owner: Any, attr: str) -> str | None:
    if isinstance(getattr(owner, attr), np.random.RandomState):
        setattr(owner, attr, None)
        return "RandomState -> None"
    return None


EFFECTS: dict[str, Callable[[Any, str], str | None]] = {"python-ints": _python_ints, "fitted-rng": _fitted_rng}
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
