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
from .fidelity.search import apply_exact, apply_unchecked, settle
from .layout import choose_layouts
from .plan import Decision, plan_arrays
from .fidelity.probes import Probes, probe_gap, synthesize
from .report import ArrayChange, CheckReport, Dropped, Transformed
from .options import DEFAULT_TOLERANCE, SEARCH_MARGIN, PruneOptions
from .progress import reporter, step
from .rules import CastRule
from .fidelity.compare import BundleReference, Reference, check_against, reference_outputs, rejudge

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


def make_reference(model: Any, inputs: Probes | None) -> Reference | BundleReference | None:
    """The original's outputs on the user's data, or on probes made from the model; for a
    dict/list bundle, one reference per estimator in it."""
    from .formats import bundle_estimators, is_estimator

    if not is_estimator(model):
        parts = []
        for key, estimator in bundle_estimators(model):
            part = make_reference(estimator, inputs)
            if isinstance(part, Reference):
                parts.append((key, part))
        return BundleReference(parts) if parts else None
    probes = inputs if inputs is not None else synthesize(model)
    if probes is None:
        return None
    reference = reference_outputs(model, probes.X, probes.source)
    return reference if reference.outputs else None


def _apply(
    model: Any, decisions: Sequence[Decision], options: PruneOptions, reference: Reference | BundleReference | None,
    transformed: list[Transformed],
) -> CheckReport | None:
    if not options.check:
        apply_unchecked(decisions)
        return None
    if reference is None:
        reason = probe_gap(model) or "no output method could be checked (give --data, or --no-check to cast unchecked)"
        for d in decisions:
            if d.lossy:  # nothing to check a lossy cast against: only its exact part is taken
                d.held.append(reason)
                d.lossy = ()
        apply_exact(decisions)
        return None
    # probes are not the user's data: lossy casts must pass with half the tolerance to spare
    strict = options.tolerance * SEARCH_MARGIN

    def check() -> CheckReport:
        reporter().advance(1)
        return check_against(reference, model, strict, options.label_tolerance)

    with step("checking"):
        final = settle(decisions, check)
        switched, approved = choose_layouts(decisions, check)
    for path in switched:
        transformed.append(Transformed(path, "", "layout", "stored column by column (Fortran order)",
                                       "the same values compress better in this order"))
    return rejudge(approved or final, options.tolerance, options.label_tolerance)


def prune_model(model: Any, options: PruneOptions, inputs: Probes | None = None) -> PruneResult:
    """Prune ``model`` in place and say what changed and how it was checked."""
    with step("reference outputs"):
        reference = make_reference(model, inputs) if options.check else None
    with step("pruning"):
        found, transformed, dropped = apply_object_knowledge(model, options.objects())
        decisions = plan_arrays(found.arrays, options.table(), options.keep, options.lossless)
    before = [(str(d.ref.dtype), d.ref.nbytes) for d in decisions]
    report = _apply(model, decisions, options, reference, transformed)
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

    ``dump(prune(pipe), "lite.skops")`` is the whole recipe; the result is a
    plain scikit-learn object. Lossy casts are kept only where outputs on ``X``
    (or on probes made from the model) stay within ``tolerance``.
    """
    options = PruneOptions.build(preset, cast, keep, check=check, tolerance=tolerance, exclude=exclude,
                                 drop_training=drop_training, drop_importances=drop_importances)
    model = estimator if inplace else copy.deepcopy(estimator)
    inputs = Probes(X, f"{len(X)} rows given by the caller") if X is not None else None
    return prune_model(model, options, inputs).model
