"""Deciding, array by array, what the rules and the registry allow.

The plan is pure: it looks at the walked arrays and says what each one may
become, without touching the model. ``prune.py`` applies it (and, once the
fidelity check runs, narrows it again where a cast does not pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from .estimators.registry import ARRAY_EFFECTS, REGISTRY, Knowledge, _class_names
from .paths import matches
from .rules import CastPlan, Rung, plan_by_dtype, plan_cast, rounding_ladder

if TYPE_CHECKING:  # the walker needs scipy; inspect's schema path must not import it
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

    ref: "ArrayRef"
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
    def unchecked(self) -> Rung | np.dtype | None:
        """What ``--no-check`` applies: the narrowest plain cast; no rounding goes unchecked."""
        return unchecked_target(self.lossy, self.exact)

    @property
    def rungs(self) -> tuple[Rung, ...]:
        """Every change a check may try, most compressible first; the exact cast comes last."""
        return self.lossy + ((Rung(self.exact),) if self.exact is not None else ())

    @property
    def action(self) -> str:
        if isinstance(self.final, Rung) and not self.final.plain:
            return "rounded"
        if self.held and self.final_dtype != self.target:
            return "held back"
        if self.final is None:
            return "kept"
        return "exact" if self.final_dtype == self.exact else "cast"

    def explain(self) -> str:
        applied = self.final.name if isinstance(self.final, Rung) else str(self.final or "")
        if not self.held:
            if isinstance(self.final, Rung) and not self.final.plain:
                return f"{applied}: {self.reason}"
            return self.reason
        kept = applied or f"{self.ref.dtype.name} (unchanged)"
        if self.action == "rounded":
            return f"{applied} ({self.reason}); coarser refused: " + "; ".join(self.held)
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


def unchecked_target(lossy: tuple[Rung, ...], exact: np.dtype | None) -> Rung | np.dtype | None:
    plain = next((r for r in lossy if r.plain), None)
    return plain if plain is not None else exact


def _precision(table: dict[np.dtype, np.dtype]) -> int | None:
    """How many mantissa bits the preset lets a float keep: 10 (float16), 23 (float32) or None."""
    targets = {t for s, t in table.items() if s.kind == "f"}
    if np.dtype(np.float16) in targets:
        return 10
    if np.dtype(np.float32) in targets:
        return 23
    return None


@dataclass(frozen=True)
class Subject:
    """What the decider needs to know of one array, from a live object or from a schema alone.

    ``values`` reads the numeric payload (a sparse matrix's data) when it is at hand; None means
    the decision is estimated from the dtype (``inspect`` of a big ``.skops`` file).
    """

    path: str
    alias_paths: tuple[str, ...]
    owner_names: frozenset[str]  # the owner's class and its bases (a schema knows only the class)
    attr: str
    dtype: np.dtype
    payload_bytes: int
    sparse: bool = False
    replaceable: bool = True
    plain: bool = True  # a numpy ndarray (or a sparse matrix), not a subclass
    compiled_owner: str = ""
    values: Callable[[], np.ndarray] | None = None


@dataclass(frozen=True)
class Verdict:
    exact: np.dtype | None
    lossy: tuple[Rung, ...]
    reason: str
    locked: str = ""  # "", "frozen" or "dtype"


def _array_knowledge(names: frozenset[str], attr: str) -> Knowledge | None:
    """The strictest array constraint (frozen, then dtype, then min-float32), by class names."""
    found = [e for e in REGISTRY if e.effect in ARRAY_EFFECTS and e.applies_to_names(set(names), attr)]
    found.sort(key=lambda e: ARRAY_EFFECTS.index(e.effect))
    return found[0] if found else None


def judge(subject: Subject, table: dict[np.dtype, np.dtype], keep: Iterable[str] = (),
          lossless: bool = True) -> Verdict:
    """The one decision both ``shrink`` (via ``decide``) and ``inspect`` use.

    Training-only attributes are not judged here: ``shrink`` removes them before planning
    (``estimators/apply.py``) and ``inspect`` lists them as dropped by the same registry entries.
    """
    pattern = matches(subject.path, keep, list(subject.alias_paths))
    if pattern is not None:
        return Verdict(None, (), f"matches --keep {pattern}", "frozen")
    known = _array_knowledge(subject.owner_names, subject.attr)
    if known is not None and known.effect == "frozen":
        return Verdict(None, (), known.reason, "frozen")
    dtype = subject.dtype
    if known is not None and known.effect in ("dtype", "computation"):
        plain_float = subject.plain and not subject.sparse and dtype.kind == "f"
        rungs = rounding_ladder(dtype, subject.payload_bytes, _precision(table)) if plain_float else ()
        return Verdict(None, rungs, known.reason, "dtype")
    if dtype.kind not in "fiu" or dtype.names is not None:
        return Verdict(None, (), f"{dtype} arrays are never cast", "frozen")
    if not subject.plain:
        return Verdict(None, (), "array subclass is kept as is", "frozen")
    if not subject.replaceable:
        return Verdict(None, (), f"held inside compiled {subject.compiled_owner} state", "dtype")
    if subject.values is None:
        plan: CastPlan = plan_by_dtype(dtype, table, subject.payload_bytes)
    else:
        plan = plan_cast(subject.values(), table, lossless)
    if known is not None and known.effect == "min-float32":
        lossy = tuple(r for r in plan.lossy if r.dtype.itemsize >= 4)  # exact casts change no value: kept
        reason = plan.reason if lossy == plan.lossy else f"{plan.reason}; not below float32: {known.reason}"
        return Verdict(plan.exact, lossy, reason)
    return Verdict(plan.exact, plan.lossy, plan.reason)


def subject_of(ref: ArrayRef) -> Subject:
    return Subject(
        path=ref.path, alias_paths=tuple(ref.alias_paths), owner_names=frozenset(_class_names(ref.owner)),
        attr=ref.attr, dtype=ref.dtype, payload_bytes=int(ref.values().nbytes), sparse=ref.is_sparse,
        replaceable=ref.replaceable, plain=ref.is_sparse or type(ref.array) is np.ndarray,
        compiled_owner=ref.owner_class, values=ref.values,
    )


def decide(ref: ArrayRef, table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True) -> Decision:
    verdict = judge(subject_of(ref), table, keep, lossless)
    return Decision(ref, verdict.exact, verdict.lossy, verdict.reason, verdict.locked)


def plan_arrays(
    refs: list[ArrayRef], table: dict[np.dtype, np.dtype], keep: Iterable[str] = (), lossless: bool = True
) -> list[Decision]:
    keep = tuple(keep)
    return [decide(ref, table, keep, lossless) for ref in refs]
