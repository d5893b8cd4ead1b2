"""Keeping only the lossy casts that pass the fidelity check.

Every array first takes its exact narrowing. Lossy candidates then go down
their ladder (float16, then float32, then unchanged) together: one check when
everything passes, as on most models. When the check fails, culprits are found
by bisection over groups of candidates, largest first, so a big model with one
sensitive array costs a few checks, not one per array. A candidate is accepted
only on top of everything accepted before it, so the final model is exactly
the one that passed the last check.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .errors import FidelityError
from .plan import Decision
from .report import CheckReport
from .rules import cast
from .verify import worst

Check = Callable[[], CheckReport]


class Candidate:
    """One array with lossy rungs, remembering its values before any lossy change."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.original: np.ndarray | None = decision.ref.values()
        self.level = 0

    @property
    def rung(self) -> np.dtype:
        return self.decision.lossy[self.level]

    @property
    def has_rung(self) -> bool:
        return self.level < len(self.decision.lossy)

    def take_rung(self) -> None:
        self._set(self.rung)

    def take_safe(self) -> None:
        self._set(self.decision.exact)

    def _set(self, dtype: np.dtype | None) -> None:
        assert self.original is not None
        values = self.original if dtype is None else cast(self.original, dtype)
        self.decision.ref.replace(values)
        self.decision.final = dtype

    def release(self) -> None:
        self.original = None


def apply_exact(decisions: Sequence[Decision]) -> None:
    for d in decisions:
        if d.exact is not None and not d.lossy:
            d.ref.replace(cast(d.ref.values(), d.exact))
            d.final = d.exact


def apply_unchecked(decisions: Sequence[Decision]) -> None:
    """What ``--no-check`` does: take the narrowest rung everywhere."""
    for d in decisions:
        if d.target is not None:
            d.ref.replace(cast(d.ref.values(), d.target))
            d.final = d.target


def _search(
    groups: list[list[Candidate]], check: Check, last: CheckReport | None
) -> tuple[list[Candidate], CheckReport | None]:
    """Accept the largest groups that pass on top of what passed before; return the rejects."""
    rejected: list[Candidate] = []
    stack = list(reversed(groups))
    while stack:
        group = stack.pop()
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
    """Apply exact changes, then every lossy rung the check allows; return the final check."""
    apply_exact(decisions)
    candidates = sorted((Candidate(d) for d in decisions if d.lossy), key=lambda c: -c.decision.ref.nbytes)
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
            raise FidelityError(f"even the exact-only model fails the check: {worst(baseline)}")
    else:
        raise FidelityError(f"even the exact-only model fails the check: {worst(report)}")
    last: CheckReport | None = baseline
    if len(candidates) == 1:  # the failed check above already judged it
        only = candidates[0]
        only.decision.held.append(f"{only.rung.name}: {worst(report)}")
        only.level += 1
        pending = [only] if only.has_rung else []
        groups = [pending]
    else:
        mid = len(candidates) // 2
        pending, groups = candidates, [candidates[:mid], candidates[mid:]]
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
