"""Pruning a fitted model: exact changes first, then lossy casts the check allows.

The model is changed in place here (the CLI path never copies a big model);
``prune(..., inplace=False)`` deep-copies first so the caller's object is left
untouched. Reference outputs are computed from the model before anything
changes, so no second copy of the original is needed to verify the result.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .estimators.apply import apply_object_knowledge
from .fidelity.checker import Checker, not_worth_the_risk, rebuilt_objects, refresh
from .fidelity.probes import Probes
from .fidelity.search import apply_unchecked
from .options import DEFAULT_TOLERANCE, PruneOptions
from .plan import Decision, plan_arrays
from .progress import step
from .report import ArrayChange, CheckReport, Dropped, Transformed
from .rules import CastRule


@dataclass
class PruneResult:
    model: Any
    decisions: list[Decision] = field(default_factory=list)
    changes: list[ArrayChange] = field(default_factory=list)
    transformed: list[Transformed] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    check: CheckReport | None = None

    @property
    def bytes_before(self) -> int:
        return sum(c.bytes_before for c in self.changes) + sum(d.bytes for d in self.dropped)

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
        reason=decision.explain(),
    )


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def prune_model(model: Any, options: PruneOptions, inputs: Probes | None = None) -> PruneResult:
    """Prune ``model`` in place and say what changed and how it was checked."""
    with step("reference outputs"):
        checker = Checker(model, inputs, tolerance=options.tolerance, label_tolerance=options.label_tolerance) \
            if options.check else None
    with step("pruning"):
        found, transformed, dropped = apply_object_knowledge(model, options.objects())
        rebuilt = rebuilt_objects(found.owners)
        arrays = [r for r in found.arrays if not _under(r.path, [p for p, _ in rebuilt])]
        decisions = plan_arrays(arrays, options.table(), options.keep, options.lossless)
        not_worth_the_risk(decisions, options.min_lossy_bytes)
    before = [(str(d.ref.dtype), d.ref.nbytes) for d in decisions]
    if checker is None:
        apply_unchecked(decisions)
        report = None
        refresh(rebuilt)
    else:
        checker.rebuilt = rebuilt
        report = checker.settle(model, decisions, transformed)
    changes = [describe(d, dtype, nbytes) for d, (dtype, nbytes) in zip(decisions, before)]
    return PruneResult(model, decisions, changes, transformed, dropped, report)


def prune(
    estimator: Any,
    *,
    preset: str = "auto",
    cast: Iterable[str | CastRule] = (),
    keep: Iterable[str] = (),
    exclude: Iterable[str] = (),
    X: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
    check: bool = True,
    drop_training: bool = True,
    drop_importances: bool = False,
    inplace: bool = False,
) -> Any:
    """Return a smaller copy of ``estimator`` (or shrink it in place).

    ``save_model(prune(pipe), "lite.skops", compression="lzma")`` writes the small file; the result is a
    plain scikit-learn object. Lossy casts are kept only where outputs on ``X``
    (or on probes made from the model) stay within ``tolerance``.
    """
    options = PruneOptions.build(preset, cast, keep, check=check, tolerance=tolerance, exclude=exclude,
                                 drop_training=drop_training, drop_importances=drop_importances)
    model = estimator if inplace else copy.deepcopy(estimator)
    inputs = Probes(X, f"{len(X)} rows given by the caller") if X is not None else None
    return prune_model(model, options, inputs).model
