"""Deciding, array by array, what the rules and the registry allow.

The plan is pure: it looks at the walked arrays and says what each one may
become, without touching the model. ``prune.py`` applies it (and, once the
fidelity check runs, narrows it again where a cast does not pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .estimators import knowledge_for
from .paths import matches
from .rules import CastPlan, Rung, plan_cast, rounding_ladder
from .walk import ArrayRef


@dataclass
class Decision:
    """What may happen to one array, and (once applied) what did.

    ``exact`` keeps every value but still changes the dtype, and a dtype can
    change a computation (HistGradientBoosting accumulates its predictions in
    the dtype of ``_baseline_prediction``): under a check it is the last rung
    of the ladder, after the lossy ones (narrowest first). ``final`` is what
    was applied, None for unchanged.
    """

    ref: ArrayRef
    exact: np.dtype | None
    lossy: tuple[Rung, ...]
    reason: str
    locked: str = ""  # "", "frozen" or "dtype": what the registry or structure forbids
    final: Rung | np.dtype | None = None  # a lossy rung, the exact dtype, or None (unchanged)
    held: list[str] = field(default_factory=list)

    @property
    def target(self) -> np.dtype | None:
        """The narrowest dtype on offer (what an unchecked run applies)."""
        return self.lossy[0].dtype if self.lossy else self.exact

    @property
    def rungs(self) -> tuple[Rung, ...]:
        """Every change a check may try, most compressible first; the exact cast comes last."""
        return self.lossy + ((Rung(self.exact),) if self.exact is not None else ())

    @property
    def action(self) -> str:
        if self.held and self.final_dtype != self.target:
            return "held back"
        if self.final is None:
            return "kept"
        if isinstance(self.final, Rung) and self.final.keep is not None:
            return "rounded"
        return "exact" if self.final_dtype == self.exact else "cast"

    def explain(self) -> str:
        applied = self.final.name if isinstance(self.final, Rung) else str(self.final or "")
        if not self.held:
            if isinstance(self.final, Rung) and self.final.keep is not None:
                return f"{applied}: {self.reason}"
            return self.reason
        kept = applied or f"{self.ref.dtype.name} (unchanged)"
        if self.action == "held back":
            return "; ".join(self.held) + f"; kept {kept}"
        return f"{kept} ({self.reason}); finer rounding refused: " + "; ".join(self.held)

    def bytes_for(self, dtype: np.dtype | None) -> int:
        ref = self.ref
        if dtype is None:
            return ref.nbytes
        payload = ref.values()
        return ref.nbytes - payload.nbytes + payload.size * dtype.itemsize

    def bytes_after(self) -> int:
        return self.bytes_for(self.target)

    @property
    def final_dtype(self) -> np.dtype | None:
        return self.final.dtype if isinstance(self.final, Rung) else self.final


def _precision(table: dict[np.dtype, np.dtype]) -> int | None:
    """How many mantissa bits the preset lets a float keep: 10 (float16), 23 (float32) or None."""
    targets = {t for s, t in table.items() if s.kind == "f"}
    if np.dtype(np.float16) in targets:
        return 10
    if np.dtype(np.float32) in targets:
        return 23
    return None


def decide(ref: ArrayRef, table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True) -> Decision:
    pattern = matches(ref.path, keep, ref.alias_paths)
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
    precision = _precision(table)
    if known is not None and known.effect in ("dtype", "computation"):
        rungs = rounding_ladder(dtype, ref.values().nbytes, precision) if not ref.is_sparse else ()
        return Decision(ref, None, rungs, known.reason, "dtype")
    if not ref.replaceable:
        owner = ref.owner_class
        return Decision(ref, None, (), f"held inside compiled {owner} state", "dtype")
    plan: CastPlan = plan_cast(ref.values(), table, lossless)
    if known is not None and known.effect == "min-float32":
        lossy = tuple(r for r in plan.lossy if r.dtype.itemsize >= 4)  # exact casts change no value: kept
        reason = plan.reason if lossy == plan.lossy else f"{plan.reason}; not below float32: {known.reason}"
        return Decision(ref, plan.exact, lossy, reason)
    return Decision(ref, plan.exact, plan.lossy, plan.reason)


def plan_arrays(
    refs: list[ArrayRef], table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True
) -> list[Decision]:
    keep = tuple(keep)
    return [decide(ref, table, keep, lossless) for ref in refs]
