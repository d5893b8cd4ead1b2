"""Attribute-level changes the registry asks for, applied owner by owner.

Array casts are planned array by array (``plan.py``); these act on whole
attributes: converting a vocabulary's numpy integers to Python ints, and
(later) removing attributes that no prediction method reads.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Iterable

import numpy as np

from ..report import Transformed
from ..walk import join
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


EFFECTS: dict[str, Callable[[Any, str], str | None]] = {"python-ints": _python_ints}


def apply_attribute_knowledge(
    owners: Iterable[tuple[str, Any]], keep: Iterable[str] = ()
) -> list[Transformed]:
    keep = tuple(keep)
    changes = []
    for path, owner in owners:
        for attr in list(vars(owner)):
            full = join(path, attr)
            if any(fnmatch.fnmatchcase(full, pattern) for pattern in keep):
                continue
            entry: Knowledge
            for entry in attribute_knowledge(owner, attr):
                detail = EFFECTS[entry.effect](owner, attr)
                if detail:
                    changes.append(Transformed(full, type(owner).__name__, entry.effect, detail, entry.reason))
    return changes
