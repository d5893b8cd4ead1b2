"""The one fidelity checker behind ``shrink``, ``skprune check`` and ``prune()``.

A ``Checker`` is built from the original model (an estimator, or a dict/list
bundle of them) and the inputs (the user's data, else probes made from each
estimator). It computes the reference outputs once, before anything changes,
and then offers everything the check does: compare a candidate, judge a
comparison at another tolerance, settle the casts of a plan (invariants, the
fallback search of ``search.py``, the layout trial of ``layout.py``).

Probes are not the user's data: while searching, a lossy cast must pass at a
margin under the tolerance (``SEARCH_MARGIN``, set from the held-out sweep in
``tests/benchmarks/sweep_heldout.py``); the final report judges the same
measurements at the tolerance itself.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..layout import choose_layouts
from ..options import DEFAULT_TOLERANCE, MIN_LOSSY_BYTES, SEARCH_MARGIN
from ..paths import join
from ..plan import Decision
from ..progress import reporter, step
from ..report import CheckReport, Transformed
from ..estimators.registry import rebuilt_attributes
from .compare import BundleReference, Reference, check_against, reference_outputs, rejudge
from .probes import Probes, probe_gap, synthesize
from .search import apply_exact, settle

def make_reference(model: Any, inputs: Probes | None) -> Reference | BundleReference | None:
    """The original's outputs on the user's data, or on probes made from the model; for a
    dict/list bundle, one reference per estimator in it."""
    from ..formats import bundle_estimators, is_estimator

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


def rebuilt_objects(owners: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(path of the rebuilt attribute, owner) for every attribute loading rebuilds (registry)."""
    return [(join(path, attr), owner) for path, owner in owners for attr, _ in rebuilt_attributes(owner)]


def refresh(objects: Iterable[tuple[str, Any]]) -> None:
    """Rebuild what loading rebuilds, so memory holds what the file will give back."""
    for _, owner in objects:
        owner.__setstate__(owner.__getstate__())


class Checker:
    """Reference outputs of one model (or bundle) and everything that compares against them."""

    def __init__(
        self, model: Any, inputs: Probes | None = None, *, tolerance: float = DEFAULT_TOLERANCE,
        label_tolerance: float = 0.0, margin: float = SEARCH_MARGIN,
    ) -> None:
        self.tolerance = tolerance
        self.label_tolerance = label_tolerance
        self.margin = margin
        self.reference = make_reference(model, inputs)
        self.rebuilt: list[tuple[str, Any]] = []

    @property
    def available(self) -> bool:
        return self.reference is not None

    @property
    def source(self) -> str:
        if isinstance(self.reference, BundleReference):
            return "; ".join(f"{key}: {part.source}" for key, part in self.reference.parts)
        return self.reference.source if self.reference is not None else ""

    def compare(self, candidate: Any, tolerance: float | None = None) -> CheckReport:
        """Run ``candidate`` on the inputs and compare with the reference outputs."""
        tolerance = self.tolerance if tolerance is None else tolerance
        if self.reference is None:
            return CheckReport(False, tolerance, 0, "no probe inputs could be made; pass data")
        refresh(self.rebuilt)
        return check_against(self.reference, candidate, tolerance, self.label_tolerance)

    def judge(self, report: CheckReport, tolerance: float | None = None) -> CheckReport:
        """The same measurements judged at ``tolerance`` (default: the checker's own)."""
        return rejudge(report, self.tolerance if tolerance is None else tolerance, self.label_tolerance)

    def settle(self, model: Any, decisions: Sequence[Decision], transformed: list[Transformed]) -> CheckReport | None:
        """Apply every cast of the plan that keeps the invariants and passes the check (at the
        search margin), then try the memory layouts that compress better; judged at the tolerance."""
        if self.reference is None:
            reason = probe_gap(model) or "no output method could be checked (give --data, or --no-check to cast unchecked)"
            for d in decisions:
                if d.lossy:  # nothing to check a lossy cast against: only its exact part is taken
                    d.held.append(reason)
                    d.lossy = ()
            apply_exact(decisions)
            refresh(self.rebuilt)
            return None
        strict = self.tolerance * self.margin

        def check() -> CheckReport:
            reporter().advance(1)
            return self.compare(model, strict)

        with step("checking"):
            final = settle(decisions, check)
            switched, approved = choose_layouts(decisions, check)
        refresh(self.rebuilt)
        for path in switched:
            transformed.append(Transformed(path, "", "layout", "stored column by column (Fortran order)",
                                           "the same values compress better in this order"))
        return self.judge(approved or final)


def not_worth_the_risk(decisions: Sequence[Decision], min_bytes: int = MIN_LOSSY_BYTES) -> int:
    """Withdraw lossy rungs when the arrays that could take one hold under ``min_bytes`` in all:
    a float16 cast would save at most three quarters of that and could break the model. Value-exact
    narrowings stay on offer (still checked). Returns the bytes concerned (0 if nothing changed)."""
    castable = sum(d.ref.nbytes for d in decisions if d.lossy)
    if castable == 0 or castable >= min_bytes:
        return 0
    for d in decisions:
        if d.lossy:
            d.lossy = ()
            d.reason += (f"; no lossy cast tried: the model's castable arrays hold {castable / 1024:.1f} KB, "
                         f"under the {min_bytes // 1024} KB worth the risk (ask with --cast to force)")
    return castable
