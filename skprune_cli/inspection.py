"""Where a model's bytes are: the heaviest arrays and what the rules would save.

A ``.skops`` file is listed from its archive directory, ``.npy`` headers and
``schema.json``: no estimator is built, nothing in the file runs. Savings
follow the registry (by class name). A pickle, or an estimator in memory, is walked as ``shrink``
walks it, with lossless narrowing detected from the values.

Both paths ask ``plan.judge``, the decider ``shrink`` uses, so the "after"
column is what an unchecked ``shrink`` with the same options does. For
``.skops`` files the values of numeric arrays are read (as data, never
unpickled) up to ``VALUE_BUDGET`` bytes to see exact narrowing; beyond it the
estimate comes from dtypes alone.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .plan import Subject, Verdict, judge, unchecked_target
from .rules import Rung
from .formats import Limits, check_input, read_model, sniff
from .formats.schema_inspect import SchemaArray, list_arrays
from .estimators.registry import REGISTRY
from .options import PruneOptions
from .paths import join, matches
from .report import ArrayEntry, FileInfo, InspectReport

COMPILED_OWNERS = frozenset({"Tree"})  # schema owners whose arrays live in compiled state


def _entry(subject: Subject, verdict: Verdict, nbytes: int, owner: str, shape: list[int],
           dropped: str | None = None) -> ArrayEntry:
    """What an unchecked ``shrink`` with the same options does to this array."""
    chosen = unchecked_target(verdict.lossy, verdict.exact)
    after = chosen.dtype if isinstance(chosen, Rung) else chosen
    bytes_after = nbytes if after is None else \
        nbytes - subject.payload_bytes + subject.payload_bytes // subject.dtype.itemsize * after.itemsize
    dtype_after = str(after if after is not None else subject.dtype)
    if dropped is not None:
        dtype_after, bytes_after = "dropped", 0
    return ArrayEntry(
        path=subject.path, owner=owner, dtype=str(subject.dtype) + (" (sparse)" if subject.sparse else ""),
        shape=shape, bytes=nbytes, dtype_after=dtype_after, bytes_after=bytes_after,
        note=dropped if dropped is not None else verdict.reason,
    )


def _drops(owners: Iterable[tuple[str, set[str], Iterable[str]]], keep: tuple[str, ...]) -> dict[str, str]:
    """Attribute paths ``shrink`` removes as training-only (as ``estimators/apply.py`` does), with why."""
    out = {}
    for path, names, attrs in owners:
        for attr in attrs:
            full = join(path, attr)
            entry = next((e for e in REGISTRY if e.effect == "drop" and e.applies_to_names(names, attr)), None)
            if entry is not None and matches(full, keep) is None:
                out[full] = f"training only: {entry.reason}"
    return out


def _dropped(path: str, drops: dict[str, str]) -> str | None:
    parts = path.split(".")
    for i in range(1, len(parts) + 1):
        reason = drops.get(".".join(parts[:i]))
        if reason is not None:
            return reason
    return None


def _object_entries(model: Any, options: PruneOptions) -> list[ArrayEntry]:
    from .estimators.registry import _class_names
    from .plan import subject_of  # the object path needs the walker (scipy); the .skops path does not
    from .walk import graph

    table, keep = options.table(), tuple(options.keep)
    found = graph(model)
    drops = _drops(((p, _class_names(o), list(vars(o))) for p, o in found.owners), keep) \
        if options.drop_training else {}
    entries = []
    for ref in found.arrays:
        subject = subject_of(ref)
        verdict = judge(subject, table, keep, options.lossless)
        entries.append(_entry(subject, verdict, ref.nbytes, ref.owner_class, list(ref.shape),
                              _dropped(ref.path, drops)))
    return entries


VALUE_BUDGET = 256 << 20  # array bytes read to detect exact narrowing; beyond it, estimates from dtypes


class _MemberValues:
    """Reads one array's values from the archive (``allow_pickle=False``: data, never code)."""

    def __init__(self, archive: zipfile.ZipFile, array: SchemaArray) -> None:
        self.archive, self.array = archive, array

    def __call__(self) -> np.ndarray:
        raw = self.archive.read(self.array.file)
        if self.array.sparse:
            with zipfile.ZipFile(io.BytesIO(raw)) as inner:
                raw = inner.read("data.npy")
        return np.load(io.BytesIO(raw), allow_pickle=False)


def _owner_path(array: SchemaArray) -> str:
    parts = array.path.split(".")
    at = len(parts) - 1 - parts[::-1].index(array.attr) if array.attr in parts else len(parts) - 1
    return ".".join(parts[:at])


def _schema_owners(arrays: list[SchemaArray]) -> tuple[dict[str, tuple[str, set[str]]], set[str]]:
    """Owner paths with their class and attributes, and the owners that are compiled objects:
    a compiled object's pickled state (a Tree's, a KD-tree's) is listed under its class, with tuple
    positions as attributes; its arrays can be rewritten in place, never replaced."""
    owners: dict[str, tuple[str, set[str]]] = {}
    compiled: set[str] = set()
    for a in arrays:
        path = _owner_path(a)
        owners.setdefault(path, (a.owner_class, set()))
        if a.owner_class in COMPILED_OWNERS or a.attr.isdigit():
            compiled.add(path)
    for a in arrays:  # an owner's attributes: the next segment of every array path below it
        parts = a.path.split(".")
        for i in range(len(parts)):
            owner = owners.get(".".join(parts[:i]))
            if owner is not None:
                owner[1].add(parts[i])
    return owners, compiled


def _schema_subject(array: SchemaArray, values: Any, compiled_owners: set[str]) -> Subject:
    holders = [array.path, *array.alias_paths]
    compiled = any(p.rpartition(".")[0] in compiled_owners for p in holders) or \
        array.owner_class in COMPILED_OWNERS or array.attr.isdigit()
    return Subject(
        path=array.path, alias_paths=tuple(array.alias_paths), owner_names=frozenset({array.owner_class}),
        # a sparse listing counts data, indices and indptr together: the estimate treats it all as data
        attr=array.attr, dtype=array.dtype, payload_bytes=array.nbytes, sparse=array.sparse,
        replaceable=not compiled, compiled_owner=array.owner_class, values=values,
    )


def _schema_entries(path: Path, options: PruneOptions, limits: Limits,
                    trust: Iterable[str]) -> tuple[list[ArrayEntry], str, int]:
    listing = list_arrays(str(path), limits, trust)
    table, keep = options.table(), tuple(options.keep)
    owners, compiled = _schema_owners(listing.arrays)
    drops = _drops(((p, {cls}, attrs) for p, (cls, attrs) in owners.items()), keep) if options.drop_training else {}
    entries = []
    budget = VALUE_BUDGET
    with zipfile.ZipFile(path) as archive:
        for a in listing.arrays:
            values = None
            if a.dtype.kind in "fiu" and a.dtype.names is None and a.nbytes <= budget:
                values, budget = _MemberValues(archive, a), budget - a.nbytes
            subject = _schema_subject(a, values, compiled)
            entries.append(_entry(subject, judge(subject, table, keep, options.lossless), a.nbytes,
                                  a.owner_class, list(a.shape), _dropped(a.path, drops)))
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
