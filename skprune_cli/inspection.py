"""Where a model's bytes are: the heaviest arrays and what the rules would save.

A ``.skops`` file is listed from its archive directory, ``.npy`` headers and
``schema.json`` alone: no estimator is built, nothing in the file runs, no
array data is read. Savings are then estimated from dtypes and the registry
(by class name). A pickle, or an estimator in memory, is walked as ``shrink``
walks it, with lossless narrowing detected from the values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .estimators.registry import knowledge_by_name
from .formats import Limits, check_input, read_model, sniff
from .formats.schema_inspect import SchemaArray, list_arrays
from .options import PruneOptions
from .paths import matches
from .report import ArrayEntry, FileInfo, InspectReport


def _object_entries(model: Any, options: PruneOptions) -> list[ArrayEntry]:
    from .plan import plan_arrays  # the object path needs the walker (scipy); the .skops path does not
    from .walk import walk

    decisions = plan_arrays(walk(model), options.table(), options.keep, options.lossless)
    entries = []
    for d in decisions:
        ref = d.ref
        entries.append(
            ArrayEntry(
                path=ref.path,
                owner=ref.owner_class,
                dtype=str(ref.dtype) + (" (sparse)" if ref.is_sparse else ""),
                shape=list(ref.shape),
                bytes=ref.nbytes,
                dtype_after=str(d.target) if d.target is not None else str(ref.dtype),
                bytes_after=d.bytes_after(),
                note=d.reason,
            )
        )
    return entries


def _estimate(array: SchemaArray, table: dict, keep: tuple[str, ...]) -> tuple[str, int, str]:
    """(dtype after, bytes after, why) from the dtype and the registry, without the values."""
    dtype = array.dtype
    if matches(array.path, keep, array.alias_paths):
        return str(dtype), array.nbytes, "matches --keep"
    known = knowledge_by_name(array.owner_class, array.attr)
    if known is not None and known.effect == "drop":
        return "dropped", 0, f"training only: {known.reason}"
    if known is not None and known.effect in ("frozen", "dtype", "computation"):
        return str(dtype), array.nbytes, known.reason
    target = table.get(dtype) if dtype.kind in "fiu" and dtype.names is None else None
    if known is not None and known.effect == "min-float32" and target is not None and target.itemsize < 4:
        target = np.dtype(np.float32)
    if target is None:
        return str(dtype), array.nbytes, "no rule for this dtype" if dtype.names is None else "structured records"
    elements = array.nbytes // dtype.itemsize if not array.sparse else 0
    after = array.nbytes - elements * (dtype.itemsize - target.itemsize)
    return str(target), after, "estimated from the dtype (values not read)"


def _schema_entries(path: Path, options: PruneOptions, limits: Limits,
                    trust: Iterable[str]) -> tuple[list[ArrayEntry], str, int]:
    listing = list_arrays(str(path), limits, trust)
    table = options.table()
    entries = []
    for a in listing.arrays:
        after, after_bytes, note = _estimate(a, table, options.keep)
        entries.append(ArrayEntry(
            path=a.path, owner=a.owner_class, dtype=str(a.dtype) + (" (sparse)" if a.sparse else ""),
            shape=list(a.shape), bytes=a.nbytes, dtype_after=after, bytes_after=after_bytes, note=note,
        ))
    return entries, listing.root_class, listing.schema_bytes


def inspect_model(
    model: Any,
    *,
    preset: str = "auto",
    cast: Iterable[str] = (),
    trust: Iterable[str] = (),
    top: int | None = None,
    limits: Limits = Limits(),
) -> InspectReport:
    """Inspect a fitted estimator, or a ``.skops``/``.pkl`` file given by path."""
    options = PruneOptions.build(preset, cast, check=False)  # "auto" is estimated as its unchecked float32
    info: FileInfo | None = None
    schema_bytes: int | None = None
    if isinstance(model, (str, Path)):
        path = Path(model)
        check_input(path)
        if sniff(path) == "skops" and not str(path).lower().endswith((".pkl", ".pickle")):
            entries, root, schema_bytes = _schema_entries(path, options, limits, trust)
            info = FileInfo(str(path), "skops", path.stat().st_size)
        else:
            loaded = read_model(path, trust, limits)
            entries, root, info = _object_entries(loaded.model, options), type(loaded.model).__name__, loaded.info
    else:
        entries, root = _object_entries(model, options), type(model).__name__
    total = sum(e.bytes for e in entries)
    for e in entries:
        e.share = e.bytes / total if total else 0.0
    ranked = sorted(entries, key=lambda e: (-e.bytes, e.path))
    return InspectReport(
        model=info,
        root=root,
        arrays=ranked[:top] if top else ranked,
        total_arrays=len(entries),
        total_bytes=total,
        total_bytes_after=sum(e.bytes_after for e in entries),
        preset=options.effective_preset,
        schema_bytes=schema_bytes,
    )
