"""What every probe generator shares: the result type, the input stage, "does the model run on it"."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..compare import available_methods, run_method


@dataclass
class Probes:
    X: Any
    source: str


def input_stage(model: Any) -> Any:
    """The estimator that sees raw input: a pipeline's first step, a search's best estimator..."""
    seen = set()
    while id(model) not in seen:
        seen.add(id(model))
        steps = getattr(model, "steps", None)
        if isinstance(steps, list) and steps:
            model = steps[0][1]
            continue
        for attr in ("best_estimator_", "estimator_"):
            inner = getattr(model, attr, None)
            if inner is not None and hasattr(inner, "fit"):
                model = inner
                break
        else:
            return model
    return model


def final_stage(model: Any) -> tuple[Any, Any]:
    """(the steps before the last one as one transformer or None, the last estimator)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        return model[:-1], steps[-1][1]
    return None, model


def methods_that_run(model: Any, X: Any, rows: int = 8) -> int:
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in available_methods(model):
            try:
                run_method(model, method, X[:rows])
                count += 1
            except Exception:  # noqa: BLE001 - counted as not running
                pass
    return count


def take_rows(array: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows drawn with replacement, copying only those rows (a 50k-row ``_fit_X`` stays put)."""
    return np.asarray(array[np.sort(rng.integers(0, len(array), size=n))], dtype=float)
