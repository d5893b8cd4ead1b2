"""Running the original and the pruned model on the same inputs and comparing.

The metric is the command-line contract: for continuous outputs the relative
error ``max|new - ref| / max|ref|`` per method must stay within the tolerance;
predicted labels must be identical (unless a label tolerance is given); a NaN
or inf that was not there before, or a method that now raises, fails.
Reference outputs are computed once from the original model, so the original
can be changed in place afterwards.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_regressor

from ..options import DEFAULT_TOLERANCE
from ..report import CheckReport, MethodCheck

OUTPUT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform", "score_samples")


def _as_array(value: Any) -> Any:
    if sp.issparse(value):
        return value.tocsr()
    if isinstance(value, (list, tuple)):  # multi-output predict_proba
        return [_as_array(v) for v in value]
    return np.asarray(value)


def run_method(model: Any, method: str, X: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _as_array(getattr(model, method)(X))


def available_methods(model: Any) -> list[str]:
    return [m for m in OUTPUT_METHODS if hasattr(model, m)]


class Runs:
    """``model``'s methods on ``X``. A Pipeline runs its leading steps once for all its methods,
    as each of its methods would (transform step by step, then the final step's method): a text
    pipeline's vectoriser then reads the probe documents once per check, not once per method."""

    def __init__(self, model: Any, X: Any) -> None:
        from sklearn.pipeline import Pipeline

        self.model, self.X = model, X
        steps = model.steps if isinstance(model, Pipeline) else []
        self._final = steps[-1][1] if len(steps) > 1 and steps[-1][1] not in (None, "passthrough") else None
        self._prefix: tuple[Any, BaseException | None] | None = None

    def __call__(self, owner: Any, method: str) -> Any:
        if owner is not self.model or self._final is None or not hasattr(self._final, method):
            return run_method(owner, method, self.X)
        if self._prefix is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._prefix = (self.model[:-1].transform(self.X), None)
            except Exception as exc:  # noqa: BLE001 - every method then raises it, as the pipeline's would
                self._prefix = (None, exc)
        transformed, error = self._prefix
        if error is not None:
            raise error
        # a copy per method: a final step may work in place (copy=False), each method must see the same rows
        return run_method(self._final, method, transformed.copy() if hasattr(transformed, "copy") else transformed)


@dataclass
class Reference:
    """The original model's outputs on the check inputs, method by method."""

    X: Any
    source: str
    outputs: dict[str, Any]
    failures: dict[str, str]
    labels: dict[str, bool]

    @property
    def rows(self) -> int:
        return len(self.X) if not hasattr(self.X, "shape") else int(self.X.shape[0])


@dataclass
class BundleReference:
    """References for each estimator of a dict/list "bundle" file, checked together."""

    parts: list[tuple[Any, Reference]]  # (key in the bundle, that estimator's reference)


def _is_labels(model: Any, method: str, value: Any) -> bool:
    """Discrete outputs are compared for equality: class predictions, and integer or text outputs.

    A sparse output (a CountVectorizer's integer counts) is a matrix of numbers, never labels:
    it is compared entry by entry as a continuous output, where any changed count shows.
    """
    if isinstance(value, list):
        return method == "predict" and not is_regressor(model)
    if sp.issparse(value):
        return False
    if value.dtype.kind not in "fc":
        return True
    return method == "predict" and not is_regressor(model) and hasattr(model, "classes_")


def inner_estimators(model: Any) -> list[tuple[str, Any]]:
    """Fitted sub-estimators that see the same raw input as ``model`` (voting, one-vs-rest...)."""
    n = getattr(model, "n_features_in_", None)
    found: list[tuple[str, Any]] = []
    members = getattr(model, "estimators_", None)
    if isinstance(members, (list, tuple)) or (isinstance(members, np.ndarray) and members.dtype == object):
        found += [(f"estimators_.{i}", e) for i, e in enumerate(np.ravel(np.asarray(members, dtype=object)))]
    for attr in ("best_estimator_", "estimator_"):
        if getattr(model, attr, None) is not None:
            found.append((attr, getattr(model, attr)))
    return [(p, e) for p, e in found if hasattr(e, "fit") and getattr(e, "n_features_in_", None) == n]


def _collect(model: Any, X: Any, prefix: str, into: Reference) -> None:
    runs = Runs(model, X)
    for method in available_methods(model):
        name = f"{prefix}{method}"
        try:
            into.outputs[name] = runs(model, method)
            into.labels[name] = _is_labels(model, method, into.outputs[name])
        except Exception as exc:  # noqa: BLE001 - a method the original cannot run is not checked
            if not prefix:
                into.failures[name] = f"{type(exc).__name__}: {exc}"


def reference_outputs(model: Any, X: Any, source: str) -> Reference:
    """The original's outputs. When all of them are discrete (hard voting, say), the
    continuous outputs of sub-estimators that see the same input are recorded too:
    they show a drift long before a label flips on some unseen row."""
    reference = Reference(X, source, {}, {}, {})
    _collect(model, X, "", reference)
    if reference.outputs and all(reference.labels.values()):
        for path, inner in inner_estimators(model):
            _collect(inner, X, f"{path}.", reference)
    return reference


def _resolve(model: Any, name: str) -> tuple[Any, str]:
    """``estimators_.0.predict_proba`` -> (that estimator, "predict_proba")."""
    *path, method = name.split(".")
    obj = model
    for part in path:
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj, method


def _flatten(value: Any) -> list[Any]:
    return [p for v in value for p in _flatten(v)] if isinstance(value, list) else [value]


def _dense(value: Any) -> np.ndarray:
    return value.toarray() if sp.issparse(value) else np.asarray(value)


def _compare_sparse(ref: Any, new: Any) -> tuple[float, float, int]:
    """The same metric without densifying (a document-term matrix can be huge when dense)."""
    if not sp.issparse(new) or ref.shape != new.shape:
        return _compare_continuous(_dense(ref), _dense(new)) if ref.shape == np.shape(new) else (float("inf"),) * 2 + (0,)
    ref_c = ref.tocsr().astype(np.float64)
    new_c = new.tocsr().astype(np.float64)
    new_nonfinite = int(np.count_nonzero(~np.isfinite(new_c.data))) - int(np.count_nonzero(~np.isfinite(ref_c.data)))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = abs(new_c - ref_c)
    data = diff.data.copy()
    data[np.isnan(data)] = np.inf
    err = float(data.max(initial=0.0))
    finite = ref_c.data[np.isfinite(ref_c.data)]
    scale = float(np.abs(finite).max(initial=0.0))
    return err, (err / scale if scale > 0 else err), max(new_nonfinite, 0)


def _compare_continuous(ref: Any, new: Any) -> tuple[float, float, int]:
    """(max abs error, relative error, new non-finite count); equal infinities count as equal."""
    if sp.issparse(ref):
        return _compare_sparse(ref, new)
    ref_a = _dense(ref).astype(np.float64, copy=False)
    new_a = _dense(new).astype(np.float64, copy=False)
    if ref_a.shape != new_a.shape:
        return float("inf"), float("inf"), 0
    with np.errstate(invalid="ignore", over="ignore"):
        same = (ref_a == new_a) | (np.isnan(ref_a) & np.isnan(new_a))
        diff = np.where(same, 0.0, np.abs(new_a - ref_a))
    finite_ref = np.isfinite(ref_a)
    new_nonfinite = int(np.count_nonzero(finite_ref & ~np.isfinite(new_a)))
    diff[np.isnan(diff)] = np.inf
    err = float(diff.max(initial=0.0))
    scale = float(np.abs(ref_a[finite_ref]).max(initial=0.0))
    return err, (err / scale if scale > 0 else err), new_nonfinite


def compare_method(method: str, ref: Any, new: Any, labels: bool, tolerance: float, label_tolerance: float) -> MethodCheck:
    if labels:
        pairs = list(zip(_flatten(ref), _flatten(new)))
        if any(np.shape(a) != np.shape(b) for a, b in pairs):
            return MethodCheck(method, "mismatch", labels_equal=False, label_agreement=0.0, error="shape changed")
        total = sum(np.size(a) for a, _ in pairs)
        agree = sum(int(np.count_nonzero(np.asarray(a) == np.asarray(b))) for a, b in pairs)
        agreement = agree / total if total else 1.0
        ok = 1.0 - agreement <= label_tolerance
        return MethodCheck(method, "ok" if ok else "mismatch", labels_equal=agree == total, label_agreement=agreement)
    worst_abs, worst_rel, nonfinite = 0.0, 0.0, 0
    for a, b in zip(_flatten(ref), _flatten(new)):
        abs_err, rel_err, bad = _compare_continuous(a, b)
        worst_abs, worst_rel, nonfinite = max(worst_abs, abs_err), max(worst_rel, rel_err), nonfinite + bad
    ok = worst_rel <= tolerance and nonfinite == 0
    return MethodCheck(method, "ok" if ok else "mismatch", max_abs_error=worst_abs, max_rel_error=worst_rel,
                       new_nonfinite=nonfinite)


def check_against(
    reference: Reference | BundleReference, model: Any, tolerance: float = DEFAULT_TOLERANCE,
    label_tolerance: float = 0.0,
) -> CheckReport:
    """Compare ``model`` with the stored reference outputs."""
    if isinstance(reference, BundleReference):
        reports = [(key, check_against(part, model[key], tolerance, label_tolerance)) for key, part in reference.parts]
        methods = [dataclasses.replace(m, method=f"{key}.{m.method}") for key, r in reports for m in r.methods]
        return CheckReport(passed=all(r.passed for _, r in reports), tolerance=tolerance,
                           rows=sum(r.rows for _, r in reports),
                           data_source="; ".join(f"{key}: {r.data_source}" for key, r in reports), methods=methods)
    methods: list[MethodCheck] = []
    for method, reason in reference.failures.items():
        methods.append(MethodCheck(method, "skipped", error=f"the original raises too ({reason[:120]})"))
    runs = Runs(model, reference.X)
    for method, ref in reference.outputs.items():
        try:
            owner, name = _resolve(model, method)
        except (AttributeError, IndexError, TypeError):
            owner, name = None, method
        if owner is None or not hasattr(owner, name):
            methods.append(MethodCheck(method, "error", error="method missing on the pruned model"))
            continue
        try:
            new = runs(owner, name)
        except Exception as exc:  # noqa: BLE001 - a raising method is a failed check, reported
            methods.append(MethodCheck(method, "error", error=f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        methods.append(compare_method(method, ref, new, reference.labels[method], tolerance, label_tolerance))
    order = {m: i for i, m in enumerate(OUTPUT_METHODS)}
    methods.sort(key=lambda m: ("." in m.method, order.get(m.method, len(order))))
    passed = all(m.status in ("ok", "skipped") for m in methods) and any(m.status == "ok" for m in methods)
    return CheckReport(passed=passed, tolerance=tolerance, rows=reference.rows, data_source=reference.source,
                       methods=methods)


def rejudge(report: CheckReport, tolerance: float, label_tolerance: float = 0.0) -> CheckReport:
    """The same measurements judged against another tolerance (no model is run)."""
    methods = []
    for m in report.methods:
        status = m.status
        if status in ("ok", "mismatch"):
            if m.labels_equal is not None:
                ok = 1.0 - (m.label_agreement or 0.0) <= label_tolerance
            else:
                ok = (m.max_rel_error or 0.0) <= tolerance and m.new_nonfinite == 0
            status = "ok" if ok else "mismatch"
        methods.append(dataclasses.replace(m, status=status))
    passed = all(m.status in ("ok", "skipped") for m in methods) and any(m.status == "ok" for m in methods)
    return dataclasses.replace(report, methods=methods, passed=passed, tolerance=tolerance)


def worst(report: CheckReport) -> str:
    """One phrase naming what failed, for the report's "held back because" column."""
    for m in report.methods:
        if m.status == "error":
            return f"{m.method} raises ({m.error[:80]})"
    for m in report.methods:
        if m.status == "mismatch":
            if m.labels_equal is False:
                return f"{m.method} changes {1 - (m.label_agreement or 0):.2%} of labels"
            if m.new_nonfinite:
                return f"{m.method} produces {m.new_nonfinite} new NaN/inf"
            return f"{m.method} relative error {m.max_rel_error:.2e} > {report.tolerance:g}"
    if not any(m.status == "ok" for m in report.methods):
        return "no output method could be checked"
    return "passed"
