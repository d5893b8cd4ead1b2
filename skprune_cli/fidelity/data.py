"""User data for the fidelity check (``--data``): arrays, tables and documents.

``.npy``; ``.npz`` (the first array, or ``--data-key``); ``.csv`` (numeric,
a header row is detected and skipped); ``.txt`` (one document per line);
``.jsonl`` (one JSON object per line, documents taken from ``--data-field``,
default ``text``). Files are never unpickled. At most ``max_rows`` rows are
used, the first ones, so a check stays quick on big files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..formats import check_input
from .probes import Probes
from .compare import available_methods, run_method

MAX_ROWS = 5000


def _npy(path: Path, key: str | None) -> np.ndarray:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if not names:
                    raise UsageError("the .npz file holds no arrays", str(path))
                name = key or names[0]
                if name not in names:
                    raise UsageError(f"no array {name!r} in the file (it has {', '.join(names)})", str(path))
                return archive[name]
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file, reported as such
        raise UsageError(f"cannot read the array ({type(exc).__name__}: {exc})", str(path)) from None


def _csv(path: Path, max_rows: int) -> np.ndarray:
    rows: list[list[float]] = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for i, row in enumerate(csv.reader(handle)):
            if not row:
                continue
            try:
                rows.append([float(cell) if cell.strip() else np.nan for cell in row])
            except ValueError:
                if i == 0:
                    continue  # a header
                raise UsageError(f"line {i + 1} is not numeric: {','.join(row)[:60]}", str(path)) from None
            if len(rows) == max_rows:
                break
    if not rows:
        raise UsageError("no numeric rows", str(path))
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise UsageError(f"rows have different numbers of columns: {sorted(widths)}", str(path))
    return np.array(rows, dtype=np.float64)


def _lines(path: Path, max_rows: int, field: str | None) -> list[str]:
    docs: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for i, line in enumerate(handle):
            if path.suffix == ".jsonl":
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    docs.append(str(record[field or "text"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise UsageError(f"line {i + 1} has no {field or 'text'!r} field", str(path)) from None
            else:
                docs.append(line.rstrip("\n"))
            if len(docs) == max_rows:
                break
    if not docs:
        raise UsageError("no documents", str(path))
    return docs


def read_data(path: Path, key: str | None = None, field: str | None = None, max_rows: int = MAX_ROWS) -> Probes:
    path = Path(path)
    check_input(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        X: Any = np.asarray(_npy(path, key)[:max_rows])
        if X.ndim == 1:
            X = X.reshape(-1, 1)
    elif suffix == ".csv":
        X = _csv(path, max_rows)
    elif suffix in (".txt", ".jsonl"):
        X = _lines(path, max_rows, field)
    else:
        raise UsageError("unknown data format; use .npy, .npz, .csv, .txt or .jsonl", str(path))
    return Probes(X, f"{len(X)} rows from {path.name}")


def check_fits(model: Any, data: Probes, path: Path) -> None:
    """A clear usage error (exit 2) when the model cannot take this data."""
    expected = getattr(model, "n_features_in_", None)
    if isinstance(data.X, np.ndarray) and isinstance(expected, int) and data.X.shape[1] != expected:
        raise UsageError(f"data has {data.X.shape[1]} columns but the model expects {expected}", str(path))
    methods = available_methods(model)
    errors = []
    for method in methods:
        try:
            run_method(model, method, data.X[:4])
            return
        except Exception as exc:  # noqa: BLE001 - collected for the message
            errors.append(f"{method}: {type(exc).__name__}: {str(exc)[:100]}")
    raise UsageError("the model cannot use this data (" + "; ".join(errors[:2]) + ")", str(path))
