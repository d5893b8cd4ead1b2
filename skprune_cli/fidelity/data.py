"""User data for the fidelity check (``--data``): arrays, tables and documents.

``.npy``; ``.npz`` (the first array, or ``--data-key``); ``.csv`` (a header row
names the columns; each column is numeric where every cell parses, else text);
``.txt`` (one document per line); ``.jsonl`` (one JSON object per line: a
record per row, or the ``--data-field`` document for text models). At most
``max_rows`` rows are used, the first ones, so a check stays quick on big files.

A data file is as untrusted as a model file: it is never unpickled, and it is
read with hard caps (bytes per line and per cell, columns, cells, array bytes)
checked *before* anything is parsed or allocated, so a one-line 256 MiB CSV or
an ``.npz`` bomb costs a few MB and ends as a usage error naming the file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from ..errors import UsageError
from ..formats import check_input
from .compare import available_methods, run_method
from .probes import Probes
from .probes.frames import column_kinds, feature_names, input_stage, pandas_or_none

MAX_ROWS = 5000
MAX_LINE_BYTES = 8 << 20  # one CSV row, one JSON record, one document
MAX_CELL_BYTES = 1 << 20  # one CSV cell
MAX_COLUMNS = 100_000
MAX_CELLS = 5_000_000  # rows are cut to stay under this; memory stays in the tens of MB
MAX_ARRAY_BYTES = 1 << 30  # an .npz member read whole (Fortran order)
PICKLE_MAGIC = (b"\x80", b"(", b"c", b"]", b"}")


@dataclass
class Table:
    """Rows of a CSV or JSONL file as raw columns, typed once the model's wishes are known."""

    names: list[str] | None  # None: no header, columns are positional
    columns: list[np.ndarray]  # object arrays: str, float/int/bool, or None for a missing cell

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def _lines(handle: BinaryIO, path: Path) -> Iterator[tuple[int, str]]:
    """Lines with a hard cap on their length, read without ever holding more than the cap."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise UsageError(f"line {number} is longer than {_mib(MAX_LINE_BYTES)}; a data file's rows are capped "
                             "at that", str(path))
        yield number, raw.decode("utf-8", errors="replace")


def _sniff_binary(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x93NUMPY"):
        raise UsageError("holds binary arrays, not text; name it .npz or .npy", str(path))
    if head[:1] == b"\x80" and len(head) > 1 and head[1:2] in bytes(range(2, 6)):
        raise UsageError("holds a pickle; data files are never unpickled", str(path))


def _check_width(width: int, path: Path, number: int) -> None:
    if width > MAX_COLUMNS:
        raise UsageError(f"line {number} has {width} columns; a data file may have at most {MAX_COLUMNS}", str(path))


def _narrow(lines: Iterator[tuple[int, str]], path: Path) -> Iterator[str]:
    """Lines whose separators already say "too many columns" are refused before csv splits them."""
    for number, line in lines:
        _check_width(line.count(",") + 1, path, number)
        yield line


@contextmanager
def _cell_limit() -> Iterator[None]:
    old = csv.field_size_limit(MAX_CELL_BYTES)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _csv(path: Path, max_rows: int) -> Table:
    rows: list[list[str]] = []
    limit = max_rows + 1
    with path.open("rb") as handle, _cell_limit():
        reader = csv.reader(_narrow(_lines(handle, path), path))
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                _check_width(len(row), path, reader.line_num)
                rows.append(row)
                limit = min(limit, max(2, MAX_CELLS // len(row)))
                if len(rows) >= limit:
                    break
        except csv.Error as exc:
            raise UsageError(f"line {reader.line_num} is not valid CSV ({exc})", str(path)) from None
    if not rows:
        raise UsageError("no rows", str(path))
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise UsageError(f"rows have different numbers of columns: {sorted(widths)[:5]}", str(path))
    body = rows[1:] if _has_header(rows) else rows
    names = [c.strip() for c in rows[0]] if body is not rows else None
    if not body:
        raise UsageError("a header but no rows", str(path))
    body = body[:max_rows]
    columns = [np.array([None if not r[j].strip() else r[j] for r in body], dtype=object) for j in range(len(rows[0]))]
    return Table(names, columns)


def _has_header(rows: list[list[str]]) -> bool:
    """A first row is a header when a column is numeric below it but not in it, or when it
    is all text above rows that hold numbers (as csv.Sniffer judges, but without guessing types)."""
    first, rest = rows[0], rows[1:]
    if not rest:
        return not any(_is_number(c) for c in first)
    numeric_below = [all(_is_number(r[j]) or not r[j].strip() for r in rest[:50]) for j in range(len(first))]
    if any(below and not _is_number(c) and c.strip() for c, below in zip(first, numeric_below)):
        return True
    distinct = len(set(first)) == len(first) and all(c.strip() for c in first)
    return distinct and not any(_is_number(c) for c in first) and not any(numeric_below) and _unlike_rows(first, rest)


def _unlike_rows(first: list[str], rest: list[str]) -> bool:
    """All-text tables: a header's cells do not come back as values in their column."""
    return all(c not in {r[j] for r in rest[:200]} for j, c in enumerate(first))


_SCALARS = (str, int, float, bool, type(None))


def _jsonl_records(path: Path, max_rows: int) -> Table:
    names: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, line in _lines(handle, path):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise UsageError(f"line {number} is not JSON", str(path)) from None
            if not isinstance(record, dict):
                raise UsageError(f"line {number} is not a JSON object (one record per line)", str(path))
            for key, value in record.items():
                if not isinstance(value, _SCALARS):
                    raise UsageError(f"line {number}: field {key!r} is not a number, a string or null", str(path))
                names.setdefault(key, len(names))
            _check_width(len(names), path, number)
            records.append(record)
            if len(records) >= max_rows or len(records) * len(names) >= MAX_CELLS:
                break
    if not records:
        raise UsageError("no records", str(path))
    columns = [np.array([r.get(name) for r in records], dtype=object) for name in names]
    return Table(list(names), columns)


def _documents(path: Path, max_rows: int, field: str | None) -> list[str]:
    docs: list[str] = []
    with path.open("rb") as handle:
        for number, line in _lines(handle, path):
            if path.suffix.lower() == ".jsonl":
                if not line.strip():
                    continue
                try:
                    docs.append(str(json.loads(line)[field or "text"]))
                except (json.JSONDecodeError, KeyError, TypeError, IndexError, RecursionError):
                    raise UsageError(f"line {number} has no {field or 'text'!r} field", str(path)) from None
            else:
                docs.append(line.rstrip("\r\n"))
            if len(docs) == max_rows:
                break
    if not docs:
        raise UsageError("no documents", str(path))
    return docs


def _array_header(stream: BinaryIO, path: Path) -> tuple[np.dtype, tuple[int, ...], bool]:
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except Exception as exc:  # noqa: BLE001 - a malformed header is the user's file
        raise UsageError(f"not a readable .npy array ({exc})", str(path)) from None
    if dtype.hasobject:
        raise UsageError("holds an object array (pickled Python objects); data files are never unpickled", str(path))
    if len(shape) > 2:
        raise UsageError(f"holds a {len(shape)}-D array; data must be 1-D or 2-D", str(path))
    if dtype.kind not in "biufUS" or dtype.itemsize > MAX_CELL_BYTES:
        raise UsageError(f"holds {dtype} values; data must be numbers or short text", str(path))
    return dtype, shape, fortran


def _read_rows(stream: BinaryIO, path: Path, max_rows: int) -> np.ndarray:
    """The first rows of the array that follows a .npy header in ``stream``, checked against its header."""
    dtype, shape, fortran = _array_header(stream, path)
    width = shape[1] if len(shape) == 2 else 1
    _check_width(width, path, 1)
    rows = min(shape[0] if shape else 1, max_rows, max(1, MAX_CELLS // max(width, 1)))
    if fortran and len(shape) == 2 and shape[0] > rows:
        total = shape[0] * width * dtype.itemsize
        if total > MAX_ARRAY_BYTES:
            raise UsageError(f"a {_mib(total)} column-ordered array; save it in C order or smaller", str(path))
        rows = shape[0]
    count = rows * width
    data = stream.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise UsageError("the array is shorter than its header says", str(path))
    flat = np.frombuffer(data, dtype=dtype, count=count)
    if len(shape) < 2:
        return flat.reshape(-1, 1)
    array = flat.reshape((width, rows)).T if fortran else flat.reshape(rows, width)
    return array[:max_rows]


def _npy(path: Path, max_rows: int) -> np.ndarray:
    with path.open("rb") as stream:
        if stream.read(6) != b"\x93NUMPY":
            stream.seek(0)
            if stream.read(1) in PICKLE_MAGIC[:1]:
                raise UsageError("holds a pickle, not a .npy array; data files are never unpickled", str(path))
            raise UsageError("not a .npy array (no NUMPY header)", str(path))
        stream.seek(0)
        return _read_rows(stream, path, max_rows)


def _npz(path: Path, key: str | None, max_rows: int) -> np.ndarray:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        with path.open("rb") as handle:
            head = handle.read(1)
        what = "a pickle" if head in PICKLE_MAGIC else "not a zip archive"
        raise UsageError(f"is {what}, not an .npz archive; data files are never unpickled", str(path)) from None
    with archive:
        members = [i for i in archive.infolist() if i.filename.endswith(".npy")]
        names = [i.filename[:-4] for i in members]
        if not names:
            raise UsageError("the .npz file holds no arrays", str(path))
        name = key or names[0]
        if name not in names:
            raise UsageError(f"no array {name!r} in the file (it has {', '.join(names[:10])})", str(path))
        try:
            with archive.open(members[names.index(name)]) as stream:
                return _read_rows(io.BufferedReader(stream), path, max_rows)  # type: ignore[arg-type]
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise UsageError(f"cannot read array {name!r} ({type(exc).__name__}: {exc})", str(path)) from None


def read_data(path: Path, key: str | None = None, field: str | None = None, max_rows: int = MAX_ROWS) -> Probes:
    """Read a data file within the caps. Tables come back raw (``Table``); ``check_fits``
    types and orders them for the model at hand."""
    path = Path(path)
    check_input(path)
    suffix = path.suffix.lower()
    X: Any
    if suffix == ".npy":
        X = _npy(path, max_rows)
    elif suffix == ".npz":
        X = _npz(path, key, max_rows)
    elif suffix == ".csv":
        _sniff_binary(path)
        X = _csv(path, max_rows)
    elif suffix == ".txt" or (suffix == ".jsonl" and field is not None):
        _sniff_binary(path)
        X = _documents(path, max_rows, field)
    elif suffix == ".jsonl":
        _sniff_binary(path)
        X = _jsonl_records(path, max_rows)
    else:
        raise UsageError("unknown data format; use .npy, .npz, .csv, .txt or .jsonl", str(path))
    return Probes(X, f"{len(X)} rows from {path.name}")


def _numeric(column: np.ndarray) -> np.ndarray | None:
    """The column as float64 when every present cell is a number, else None."""
    out = np.empty(len(column), dtype=np.float64)
    for i, cell in enumerate(column):
        if cell is None:
            out[i] = math.nan
        elif isinstance(cell, bool):
            return None
        elif isinstance(cell, (int, float)):
            out[i] = cell
        else:
            try:
                out[i] = float(cell)
            except ValueError:
                return None
    return out


def _text(column: np.ndarray) -> np.ndarray:
    return np.array([np.nan if c is None else c if isinstance(c, str) else str(c) for c in column], dtype=object)


def _typed(column: np.ndarray, kind: str) -> np.ndarray:
    """Numeric where every cell parses (unless the model keeps this column as text), else strings."""
    if kind == "string":
        return _text(column)
    numeric = _numeric(column)
    return numeric if numeric is not None else _text(column)


def _by_name(model: Any, table: Table, names: list[str], path: Path) -> tuple[Any, str]:
    first = [c[0] for c in table.columns]
    if table.names is None and len(table) > 1 and set(names) <= set(first):  # a header the sniffing missed
        table = Table([str(c) for c in first], [c[1:] for c in table.columns])
    if table.names is None:
        if len(table.columns) != len(names):
            raise UsageError(f"data has {len(table.columns)} columns and no header, but the model expects "
                             f"{len(names)} named columns ({', '.join(names[:5])}...)", str(path))
        order, note = list(range(len(names))), "no header: columns taken in the model's order"
    else:
        missing = [n for n in names if n not in table.names]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise UsageError(f"missing column{'s' if len(missing) > 1 else ''} {shown} that the model needs", str(path))
        order = [table.names.index(n) for n in names]
        extra = [n for n in table.names if n not in names]
        note = f"ignored columns: {', '.join(extra[:5])}{'...' if len(extra) > 5 else ''}" if extra else ""
    kinds = column_kinds(model, names)
    typed = {name: _typed(table.columns[j], kinds.get(name, "unknown")) for name, j in zip(names, order)}
    pd = pandas_or_none()
    if pd is not None:
        return pd.DataFrame(typed, columns=names), note
    if all(v.dtype.kind == "f" for v in typed.values()):
        return np.column_stack(list(typed.values())), note
    raise UsageError("the model takes a table with text columns, which needs pandas: pip install 'skprune[pandas]'",
                     str(path))


def _positional(model: Any, table: Table, path: Path) -> tuple[Any, str]:
    stage = input_stage(model)
    if hasattr(stage, "build_analyzer"):  # a text model reads one document per record
        if table.names is None or "text" not in table.names:
            raise UsageError("no 'text' field for this text model (name it with --data-field)", str(path))
        return [str(c) for c in table.columns[table.names.index("text")]], ""
    typed = [_typed(c, "unknown") for c in table.columns]
    if all(c.dtype.kind == "f" for c in typed):
        return np.column_stack(typed), ""
    return np.column_stack(typed).astype(object), ""


def check_fits(model: Any, data: Probes, path: Path) -> Probes:
    """Shape ``data`` for ``model`` (tables: columns matched by name, typed) and raise a usage
    error (exit 2) when the model cannot take it. ``data`` is updated in place and returned."""
    if isinstance(data.X, Table):
        names = feature_names(model)
        X, note = _by_name(model, data.X, names, path) if names else _positional(model, data.X, path)
        data.X = X
        if note:
            data.source += f" ({note})"
    expected = getattr(model, "n_features_in_", None)
    if isinstance(data.X, np.ndarray) and isinstance(expected, int) and data.X.shape[1] != expected:
        raise UsageError(f"data has {data.X.shape[1]} columns but the model expects {expected}", str(path))
    errors = []
    for method in available_methods(model):
        try:
            run_method(model, method, data.X[:4])
            return data
        except Exception as exc:  # noqa: BLE001 - collected for the message
            errors.append(f"{method}: {type(exc).__name__}: {str(exc)[:100]}")
    raise UsageError("the model cannot use this data (" + "; ".join(errors[:2]) + ")", str(path))
