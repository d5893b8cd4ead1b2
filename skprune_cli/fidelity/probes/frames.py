"""Probes for models fitted on pandas DataFrames: named columns, text categories.

A model with ``feature_names_in_`` (on itself or on its input stage) is
checked on DataFrames with those columns in that order. What each column
holds is read from the fitted preprocessing: a ColumnTransformer maps each
transformer's columns back to input names (``_transformer_to_input_indices``);
inside it, encoders' ``categories_`` (OneHotEncoder, OrdinalEncoder,
TargetEncoder) give the values of text or categorical columns, scalers' and
imputers' statistics the centre and spread of numeric ones. Rows with missing
values and with unseen categories are added where the model accepts them.

pandas is an optional extra (``pip install 'skprune[pandas]'``): a model
fitted on DataFrames was built with pandas, but loading and pruning it does
not need it. Without pandas such a model is checked on plain arrays where it
takes them (numeric columns), and otherwise only exact changes are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..compare import OUTPUT_METHODS
from .common import Probes, input_stage, methods_that_run
from .text import text_probes

PANDAS_HINT = "pip install 'skprune[pandas]'"


def pandas_or_none() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def feature_names(model: Any) -> list[str] | None:
    """The input column names the model was fitted with, if they are all strings."""
    for obj in (model, input_stage(model)):
        try:
            names = getattr(obj, "feature_names_in_", None)
        except Exception:  # noqa: BLE001 - a delegating property on an unfitted step
            names = None
        if isinstance(names, np.ndarray) and names.ndim == 1 and len(names) and all(isinstance(n, str) for n in names):
            return [str(n) for n in names]
    return None


@dataclass
class Column:
    name: str
    categories: np.ndarray | None = None  # values of a categorical column
    centre: float = 0.0
    spread: float = 1.0
    source: str = ""
    vectorizer: Any = None  # a text column: documents for this vectoriser

    @property
    def is_text(self) -> bool:
        return self.vectorizer is not None or (self.categories is not None and self.categories.dtype.kind in "OUS")


def _parts(transformer: Any) -> list[Any]:
    steps = getattr(transformer, "steps", None)
    return [s for _, s in steps] if isinstance(steps, list) else [transformer]


def _describe(transformer: Any, columns: list[Column]) -> None:
    """Fill ``columns`` (the transformer's input columns, in order) from what it stores."""
    k = len(columns)
    for part in _parts(transformer):
        name = type(part).__name__
        if k == 1 and hasattr(part, "build_analyzer") and isinstance(getattr(part, "vocabulary_", None), dict):
            columns[0].vectorizer, columns[0].source = part, f"{name} vocabulary"
            continue
        categories = getattr(part, "categories_", None)
        if isinstance(categories, list) and len(categories) == k:
            for col, values in zip(columns, categories):
                values = np.asarray(values)
                present = values[[not _missing(v) for v in values]] if values.dtype == object else values
                if len(present) and col.categories is None:
                    col.categories, col.source = present, f"{name} categories"
            continue
        centre, scale = getattr(part, "mean_", None), getattr(part, "scale_", None)
        if centre is None:
            centre = getattr(part, "center_", None)
        stats = getattr(part, "statistics_", None)
        if isinstance(centre, np.ndarray) and centre.shape == (k,) and centre.dtype.kind == "f":
            spread = scale if isinstance(scale, np.ndarray) and scale.shape == (k,) else np.ones(k)
            for col, c, s in zip(columns, centre, spread):
                if col.categories is None:  # a scaler after an imputer knows the spread too
                    col.centre, col.spread, col.source = float(c), float(s) if s > 0 else 1.0, f"{name} statistics"
        elif isinstance(stats, np.ndarray) and stats.shape == (k,):
            for col, value in zip(columns, stats):
                if col.source:
                    continue
                if isinstance(value, str):
                    col.categories, col.source = np.array([value], dtype=object), f"{name} statistics"
                elif isinstance(value, (int, float, np.number)) and np.isfinite(value):
                    col.centre, col.spread = float(value), max(abs(float(value)) / 2, 1.0)
                    col.source = f"{name} statistics"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def columns_of(model: Any, names: list[str]) -> list[Column]:
    """What each named input column holds, as far as the fitted preprocessing tells."""
    columns = [Column(n) for n in names]
    stage = input_stage(model)
    router = stage if hasattr(stage, "_transformer_to_input_indices") else getattr(stage, "_preprocessor", None)
    mapping = getattr(router, "_transformer_to_input_indices", None)
    if isinstance(mapping, dict):
        fitted = {name: trans for name, trans, _ in getattr(router, "transformers_", [])}
        for name, indices in mapping.items():
            trans = fitted.get(name)
            if trans is None or isinstance(trans, str) or not len(indices):
                continue
            _describe(trans, [columns[int(i)] for i in indices if int(i) < len(columns)])
    else:
        _describe(stage, columns)
    return columns


def column_kinds(model: Any, names: list[str]) -> dict[str, str]:
    """"string" for columns the model reads as text categories, else "unknown" (typed by content)."""
    return {c.name: "string" if c.is_text else "unknown" for c in columns_of(model, names)}


def frame(pd: Any, data: dict[str, np.ndarray], names: list[str]) -> Any:
    return pd.DataFrame({n: data[n] for n in names}, columns=names)


def _draw(col: Column, n: int, rng: np.random.Generator) -> np.ndarray:
    if col.vectorizer is not None:
        docs = text_probes(None, col.vectorizer, n, rng)
        return np.array(docs.X if docs is not None else [""] * n, dtype=object)
    if col.categories is not None:
        values = col.categories[rng.integers(0, len(col.categories), size=n)]
        return values.astype(object) if col.is_text else values.astype(float)
    scale = rng.choice([1.0, 1.0, 3.0], size=n)
    return rng.normal(col.centre, col.spread * scale)


def frame_probes(model: Any, names: list[str], n: int, rng: np.random.Generator) -> Probes | None:
    """DataFrame rows in the model's column order, with missing values and unseen categories
    where the model takes them; None if the model does not run on them."""
    pd = pandas_or_none()
    if pd is None:
        return None
    columns = columns_of(model, names)
    data = {c.name: _draw(c, n, rng) for c in columns}
    probes = frame(pd, data, names)
    wanted = methods_that_run(model, probes, rows=n)
    if wanted == 0:
        return None
    extras = []
    for label, spoil in (("missing values", _with_missing), ("unseen categories", _with_unseen)):
        variant = spoil(columns, data, n // 8, rng)
        if variant is not None:
            spoiled = frame(pd, variant, names)
            if methods_that_run(model, spoiled, rows=len(spoiled)) == wanted:
                probes = pd.concat([probes, spoiled], ignore_index=True)
                extras.append(label)
    text = sum(c.is_text for c in columns)
    told = sum(bool(c.source) for c in columns)
    sources = sorted({c.source.split(" ")[0] for c in columns if c.source})
    source = (f"{len(probes)} DataFrame rows in the model's {len(names)} named columns ({text} text, "
              f"{told} described by {', '.join(sources) or 'nothing stored'}")
    return Probes(probes, source + (f"; with {' and '.join(extras)}" if extras else "") + ")")


def _with_missing(columns: list[Column], data: dict[str, np.ndarray], m: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    out = {}
    for c in columns:
        part = data[c.name][:m].copy()
        holes = rng.random(m) < 0.3
        part[holes] = np.nan
        out[c.name] = part
    return out if m else None


def _with_unseen(columns: list[Column], data: dict[str, np.ndarray], m: int,
                 rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    if not m or not any(c.categories is not None for c in columns):
        return None
    out = {c.name: data[c.name][m: 2 * m].copy() for c in columns}
    for c in columns:
        if c.categories is not None:
            swap = rng.random(len(out[c.name])) < 0.3
            out[c.name][swap] = "skprune-unseen" if c.is_text else float(np.max(c.categories)) + 1.0
    return out


class Framed:
    """A model seen through DataFrames: numeric probe code passes arrays, the model gets its columns."""

    def __init__(self, model: Any, names: list[str], pd: Any) -> None:
        self.model, self.names, self.pd = model, names, pd
        self.classes_ = getattr(model, "classes_", None)
        for method in OUTPUT_METHODS:
            if hasattr(model, method):
                setattr(self, method, self._call(method))

    def _call(self, method: str) -> Any:
        def call(X: np.ndarray) -> Any:
            return getattr(self.model, method)(self.pd.DataFrame(X, columns=self.names))
        return call


class Coded:
    """A DataFrame model driven with float rows, categorical columns as codes into their categories,
    so that numeric probe code (the boundary search) can move along the numeric columns."""

    def __init__(self, model: Any, columns: list[Column], pd: Any) -> None:
        self.model, self.columns, self.pd = model, columns, pd
        self.classes_ = getattr(model, "classes_", None)
        self.coded = np.array([c.categories is not None for c in columns])
        for method in OUTPUT_METHODS:
            if hasattr(model, method):
                setattr(self, method, self._call(method))

    def _call(self, method: str) -> Any:
        def call(X: np.ndarray) -> Any:
            return getattr(self.model, method)(self.frame(X))
        return call

    def frame(self, X: np.ndarray) -> Any:
        data: dict[str, np.ndarray] = {}
        for j, c in enumerate(self.columns):
            if c.categories is None:
                data[c.name] = X[:, j]
                continue
            codes = X[:, j]
            valid = np.isfinite(codes) & (codes >= 0) & (codes < len(c.categories))
            values = np.full(len(X), np.nan, dtype=object if c.is_text else float)
            values[valid] = c.categories[codes[valid].astype(int)]
            data[c.name] = values
        return frame(self.pd, data, [c.name for c in self.columns])

    def encode(self, df: Any) -> np.ndarray:
        out = np.empty((len(df), len(self.columns)))
        for j, c in enumerate(self.columns):
            values = df[c.name].to_numpy()
            if c.categories is None:
                out[:, j] = np.asarray(values, dtype=float)
            else:
                lookup = {v: k for k, v in enumerate(c.categories.tolist())}
                out[:, j] = [lookup.get(v, np.nan) if not _missing(v) else np.nan for v in values.tolist()]
        return out
