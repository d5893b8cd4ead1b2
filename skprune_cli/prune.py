"""Applying a plan to a fitted model: the library's ``prune``.

The model is changed in place here (the CLI path never copies a big model);
``prune(..., inplace=False)`` deep-copies first so the caller's object is left
untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .estimators.attributes import apply_attribute_knowledge
from .plan import Decision, plan_arrays
from .report import ArrayChange, Transformed
from .rules import CastRule, cast, rule_table
from .walk import graph


@dataclass
class PruneOptions:
    """Everything that shapes a prune, shared by the API and the CLI."""

    preset: str = "float32"
    casts: tuple[CastRule, ...] = ()
    keep: tuple[str, ...] = ()
    lossless: bool = True

    @classmethod
    def build(cls, preset: str = "float32", cast: Iterable[str | CastRule] = (), keep: Iterable[str] = ()) -> "PruneOptions":
        rules = tuple(c if isinstance(c, CastRule) else CastRule.parse(c) for c in cast)
        opts = cls(preset=preset, casts=rules, keep=tuple(keep))
        opts.table()  # validates the preset name early
        return opts

    def table(self) -> dict:
        return rule_table(self.preset, self.casts)


@dataclass
class PruneResult:
    model: Any
    decisions: list[Decision] = field(default_factory=list)
    changes: list[ArrayChange] = field(default_factory=list)
    transformed: list[Transformed] = field(default_factory=list)

    @property
    def bytes_before(self) -> int:
        return sum(c.bytes_before for c in self.changes)

    @property
    def bytes_after(self) -> int:
        return sum(c.bytes_after for c in self.changes)


def describe(decision: Decision, dtype_before: str, bytes_before: int) -> ArrayChange:
    ref = decision.ref
    return ArrayChange(
        path=ref.path,
        owner=ref.owner_class,
        shape=list(ref.shape),
        dtype_before=dtype_before,
        dtype_after=str(ref.dtype),
        bytes_before=bytes_before,
        bytes_after=ref.nbytes,
        action=decision.action,
        reason=decision.reason,
    )


def apply_decisions(decisions: Sequence[Decision]) -> list[ArrayChange]:
    """Cast every array the plan allows; one pass each, originals released at once."""
    changes = []
    for decision in decisions:
        ref = decision.ref
        dtype_before, bytes_before = str(ref.dtype), ref.nbytes
        if decision.target is not None:
            ref.replace(cast(ref.values(), decision.target))
        changes.append(describe(decision, dtype_before, bytes_before))
    return changes


def prune_model(model: Any, options: PruneOptions) -> PruneResult:
    """Prune ``model`` in place and say what changed."""
    found = graph(model)
    transformed = apply_attribute_knowledge(found.owners, options.keep)
    decisions = plan_arrays(found.arrays, options.table(), options.keep, options.lossless)
    changes = apply_decisions(decisions)
    return PruneResult(model, decisions, changes, transformed)


def prune(
    estimator: Any,
    *,
    preset: str = "float32",
    cast: Iterable[str | CastRule] = (),
    keep: Iterable[str] = (),
    inplace: bool = False,
) -> Any:
    """Return a smaller copy of ``estimator`` (or shrink it in place).

    ``dump(prune(pipe), "lite.skops")`` is the whole recipe; the result is a
    plain scikit-learn object.
    """
    options = PruneOptions.build(preset, cast, keep)
    model = estimator if inplace else copy.deepcopy(estimator)
    return prune_model(model, options).model
