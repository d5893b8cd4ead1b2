"""The ``check`` job: the original and a pruned model on the same data or probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from ..errors import UsageError
from ..formats import Limits, read_model
from ..options import DEFAULT_TOLERANCE
from ..report import CheckReport
from .checker import Checker
from .data import check_fits, read_data
from .probes import Probes


def check(
    original: Any,
    pruned: Any,
    X: Any = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    label_tolerance: float = 0.0,
    source: str | None = None,
) -> CheckReport:
    """Compare every output method of ``pruned`` with ``original`` on ``X`` (or on probes);
    a dict/list bundle is compared estimator by estimator."""
    inputs = None if X is None else Probes(X, source or f"{len(X)} rows given by the caller")
    checker = Checker(original, inputs, tolerance=tolerance, label_tolerance=label_tolerance)
    return checker.compare(pruned)


def load_check_data(data: Path | None, model: Any, key: str | None = None, field: str | None = None) -> Probes | None:
    if data is None:
        return None
    probes = read_data(data, key, field)
    check_fits(model, probes, data)
    return probes


def check_files(
    original: Path,
    pruned: Path,
    *,
    data: Path | None = None,
    data_key: str | None = None,
    data_field: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    label_tolerance: float = 0.0,
    trust: Iterable[str] = (),
    limits: Limits = Limits(),
) -> CheckReport:
    if tolerance < 0 or not 0 <= label_tolerance <= 1:
        raise UsageError("--tolerance must be >= 0 and --label-tolerance within 0..1")
    trust = tuple(trust)
    first = read_model(original, trust, limits)
    second = read_model(pruned, trust, limits)
    probes = load_check_data(data, first.model, data_key, data_field)
    report = check(first.model, second.model, None if probes is None else probes.X,
                   tolerance=tolerance, label_tolerance=label_tolerance,
                   source=None if probes is None else probes.source)
    report.original, report.pruned = first.info, second.info
    return report
