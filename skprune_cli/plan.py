"""Deciding, array by array, what the rules and the registry allow.

The plan is pure: it looks at the walked arrays and says what each one may
become, without touching the model. ``prune.py`` applies it (and, once the
fidelity check runs, narrows it again where a cast does not pass).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .estimators import knowledge_for
from .rules import CastPlan, plan_cast
from .walk import ArrayRef


@dataclass
class Decision:
    """What happens to one array. ``target`` None means it stays as it is."""

    ref: ArrayRef
    target: np.dtype | None
    exact: bool
    reason: str
    locked: str = ""  # "", "frozen" or "dtype": what the registry or structure forbids

    @property
    def action(self) -> str:
        if self.target is None:
            return "kept"
        return "exact" if self.exact else "cast"

    def bytes_after(self) -> int:
        ref = self.ref
        if self.target is None:
            return ref.nbytes
        payload = ref.values()
        return ref.nbytes - payload.nbytes + payload.size * self.target.itemsize


def matches(path: str, aliases: Iterable[str], patterns: Iterable[str]) -> str | None:
    """The first pattern matching ``path`` or one of its aliases."""
    candidates = [path, *aliases]
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(p, pattern) for p in candidates):
            return pattern
    return None


def decide(ref: ArrayRef, table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True) -> Decision:
    pattern = matches(ref.path, ref.alias_paths, keep)
    if pattern is not None:
        return Decision(ref, None, False, f"matches --keep {pattern}", "frozen")
    known = knowledge_for(ref.owner, ref.attr)
    if known is not None and known.effect == "frozen":
        return Decision(ref, None, False, known.reason, "frozen")
    dtype = ref.dtype
    if dtype.kind not in "fiu":
        return Decision(ref, None, False, f"{dtype} arrays are never cast", "frozen")
    if not ref.is_sparse and type(ref.array) is not np.ndarray:
        return Decision(ref, None, False, f"{type(ref.array).__name__} is kept as is", "frozen")
    if known is not None:
        return Decision(ref, None, False, known.reason, "dtype")
    if not ref.replaceable:
        owner = ref.owner_class
        return Decision(ref, None, False, f"held inside compiled {owner} state", "dtype")
    plan: CastPlan = plan_cast(ref.values(), table, lossless)
    return Decision(ref, plan.target, plan.exact, plan.reason)


def plan_arrays(
    refs: list[ArrayRef], table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True
) -> list[Decision]:
    keep = tuple(keep)
    return [decide(ref, table, keep, lossless) for ref in refs]
