"""Deciding, array by array, what the rules and the registry allow.

The plan is pure: it looks at the walked arrays and says what each one may
become, without touching the model. ``prune.py`` applies it (and, once the
fidelity check runs, narrows it again where a cast does not pass).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .estimators import knowledge_for
from .rules import CastPlan, plan_cast
from .walk import ArrayRef


@dataclass
class Decision:
    """What may happen to one array, and (once applied) what did.

    ``exact`` is always safe to take; ``lossy`` rungs (narrowest first) change
    values and are kept only if the fidelity check passes (or when the user
    turns the check off). ``final`` is the dtype applied, None for unchanged.
    """

    ref: ArrayRef
    exact: np.dtype | None
    lossy: tuple[np.dtype, ...]
    reason: str
    locked: str = ""  # "", "frozen" or "dtype": what the registry or structure forbids
    final: np.dtype | None = None
    held: list[str] = field(default_factory=list)

    @property
    def target(self) -> np.dtype | None:
        """The narrowest dtype on offer (what an unchecked run applies)."""
        return self.lossy[0] if self.lossy else self.exact

    @property
    def action(self) -> str:
        if self.held:
            return "held back"
        if self.final is None:
            return "kept"
        return "exact" if self.final == self.exact else "cast"

    def explain(self) -> str:
        if not self.held:
            return self.reason
        kept = self.final.name if self.final is not None else f"{self.ref.dtype.name} (unchanged)"
        return "; ".join(self.held) + f"; kept {kept}"

    def bytes_for(self, dtype: np.dtype | None) -> int:
        ref = self.ref
        if dtype is None:
            return ref.nbytes
        payload = ref.values()
        return ref.nbytes - payload.nbytes + payload.size * dtype.itemsize

    def bytes_after(self) -> int:
        return self.bytes_for(self.target)


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
        return Decision(ref, None, (), f"matches --keep {pattern}", "frozen")
    known = knowledge_for(ref.owner, ref.attr)
    if known is not None and known.effect == "frozen":
        return Decision(ref, None, (), known.reason, "frozen")
    dtype = ref.dtype
    if dtype.kind not in "fiu":
        return Decision(ref, None, (), f"{dtype} arrays are never cast", "frozen")
    if not ref.is_sparse and type(ref.array) is not np.ndarray:
        return Decision(ref, None, (), f"{type(ref.array).__name__} is kept as is", "frozen")
    if known is not None and known.effect == "dtype":
        return Decision(ref, None, (), known.reason, "dtype")
    if not ref.replaceable:
        owner = ref.owner_class
        return Decision(ref, None, (), f"held inside compiled {owner} state", "dtype")
    plan: CastPlan = plan_cast(ref.values(), table, lossless)
    if known is not None and known.effect == "min-float32":
        lossy = tuple(d for d in plan.lossy if d.itemsize >= 4)  # exact casts change no value: kept
        reason = plan.reason if lossy == plan.lossy else f"{plan.reason}; not below float32: {known.reason}"
        return Decision(ref, plan.exact, lossy, reason)
    return Decision(ref, plan.exact, plan.lossy, plan.reason)


def plan_arrays(
    refs: list[ArrayRef], table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True
) -> list[Decision]:
    keep = tuple(keep)
    return [decide(ref, table, keep, lossless) for ref in refs]
