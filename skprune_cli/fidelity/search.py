"""Keeping only the lossy casts that pass the fidelity check.

Every candidate array goes down its ladder (float16, then float32, then the
exact narrowing, then unchanged) together with the others: one check when
everything passes, as on most models. When the check fails, culprits are found
by bisection over groups of candidates, largest first, so a big model with one
sensitive array costs a few checks, not one per array. A candidate is accepted
only on top of everything accepted before it, so the final model is exactly
the one that passed the last check. Before any check, a rung that breaks a
property of the original values (``invariants.py``) is skipped and the report
says which property stopped it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import FidelityError
from ..plan import Decision
from ..report import CheckReport
from ..rules import Rung, cast
from .compare import worst
from .invariants import Invariants

Check = Callable[[], CheckReport]


class Candidate:
    """One array with lossy rungs, remembering its values before any lossy change."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        ref = decision.ref
        # a replaceable array is swapped, so the original object survives as is; state held
        # inside a compiled object (a Tree's values) is overwritten in place, so copy it first
        self.original: np.ndarray | None = ref.values() if ref.replaceable else ref.values().copy()
        self.level = 0
        self.invariants = Invariants.of(self.original)
        self._prepared: tuple[int, np.ndarray] | None = None  # the next rung's values, computed once

    @property
    def rung(self) -> Rung:
        return self.decision.rungs[self.level]

    @property
    def has_rung(self) -> bool:
        return self.level < len(self.decision.rungs)

    def admissible(self) -> bool:
        """Skip the rungs that break a property of the original values; is there one left?"""
        assert self.original is not None
        while self.has_rung:
            values = self.rung.apply(self.original)
            broken = self.invariants.broken(self.original, values) if self.rung.dtype != self.exact_dtype else None
            if broken is None:
                self._prepared = (self.level, values)
                return True
            self.decision.held.append(f"{self.rung.name}: would break the invariant '{broken}'")
            self.level += 1
        return False

    @property
    def exact_dtype(self) -> np.dtype | None:
        return self.decision.exact if self.level == len(self.decision.rungs) - 1 else None

    def take_rung(self) -> None:
        assert self.original is not None
        prepared, self._prepared = self._prepared, None
        values = prepared[1] if prepared is not None and prepared[0] == self.level else self.rung.apply(self.original)
        self.decision.ref.assign(values)
        self.decision.final = self.rung

    def take_safe(self) -> None:
        assert self.original is not None
        self.decision.ref.assign(self.original)
        self.decision.final = None

    def release(self) -> None:
        self.original = None
        self._prepared = None


def apply_exact(decisions: Sequence[Decision]) -> None:
    for d in decisions:
        if d.exact is not None and not d.lossy:
            d.ref.assign(cast(d.ref.values(), d.exact))
            d.final = d.exact


def apply_unchecked(decisions: Sequence[Decision]) -> None:
    """What ``--no-check`` does: the narrowest plain dtype everywhere; no rounding goes unchecked."""
    for d in decisions:
        chosen = d.unchecked
        if isinstance(chosen, Rung):
            d.ref.assign(chosen.apply(d.ref.values()))
        elif chosen is not None:
            d.ref.assign(cast(d.ref.values(), chosen))
        d.final = chosen


def _search(
    groups: list[list[Candidate]], check: Check, last: CheckReport | None
) -> tuple[list[Candidate], CheckReport | None]:
    """Accept the largest groups that pass on top of what passed before; return the rejects."""
    rejected: list[Candidate] = []
    stack = list(reversed(groups))
    while stack:
        group = [c for c in stack.pop() if c.admissible() or c.release()]
        if not group:
            continue
        for c in group:
            c.take_rung()
        report = check()
        if report.passed:
            last = report
            for c in group:
                c.release()
            continue
        for c in group:
            c.take_safe()
        if len(group) == 1:
            c = group[0]
            c.decision.held.append(f"{c.rung.name}: {worst(report)}")
            rejected.append(c)
            continue
        mid = len(group) // 2
        stack.append(group[mid:])
        stack.append(group[:mid])
    return rejected, last


def settle(decisions: Sequence[Decision], check: Check) -> CheckReport:
    """Apply every rung the check allows; return the final check."""
    candidates = sorted((Candidate(d) for d in decisions if d.rungs), key=lambda c: -c.decision.ref.nbytes)
    candidates = [c for c in candidates if c.admissible() or c.release()]
    for c in candidates:
        c.take_rung()
    report = check()
    if report.passed:
        for c in candidates:
            c.release()
        return report
    for c in candidates:
        c.take_safe()
    if candidates:
        baseline = check()
        if not baseline.passed:
            raise FidelityError(f"even the exact-only model fails the check (no cast applied): {worst(baseline)}")
    else:
        raise FidelityError(f"even the exact-only model fails the check (no cast applied): {worst(report)}")
    last: CheckReport | None = baseline
    big, rest = _tiers(candidates)
    for c in big:  # the largest arrays get the error budget first, one ladder step at a time
        last = _descend(c, check, report if len(candidates) == 1 else None) or last
    pending = [c for c in rest if c.has_rung]
    groups = [pending] if pending else []
    while pending:
        rejected, last = _search(groups, check, last)
        for c in rejected:
            c.level += 1
            if not c.has_rung:
                c.release()
        pending = [c for c in rejected if c.has_rung]
        groups = [pending]
    assert last is not None
    return last


BIG_SHARE = 0.9
BIG_COUNT = 4


def _tiers(candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """The few arrays that hold most of the bytes, and the rest."""
    total = sum(c.decision.ref.nbytes for c in candidates)
    big: list[Candidate] = []
    covered = 0
    for c in candidates:
        if len(big) == BIG_COUNT or covered >= BIG_SHARE * total:
            break
        big.append(c)
        covered += c.decision.ref.nbytes
    return big, candidates[len(big):]


def _descend(c: Candidate, check: Check, known_failure: CheckReport | None) -> CheckReport | None:
    """Walk one array down its ladder until a rung passes; None when none does."""
    if known_failure is not None:  # a lone candidate already failed at its first rung
        c.decision.held.append(f"{c.rung.name}: {worst(known_failure)}")
        c.level += 1
    while c.admissible():
        c.take_rung()
        report = check()
        if report.passed:
            c.release()
            return report
        c.take_safe()
        c.decision.held.append(f"{c.rung.name}: {worst(report)}")
        c.level += 1
    c.release()
    return None
