"""Where a model's bytes are: the heaviest arrays and what the rules would save."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .formats import Limits, read_model
from .plan import plan_arrays
from .prune import PruneOptions
from .report import ArrayEntry, FileInfo, InspectReport
from .walk import walk


def _entries(model: Any, options: PruneOptions) -> list[ArrayEntry]:
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
    if isinstance(model, (str, Path)):
        loaded = read_model(Path(model), trust, limits)
        model, info = loaded.model, loaded.info
    entries = _entries(model, options)
    total = sum(e.bytes for e in entries)
    for e in entries:
        e.share = e.bytes / total if total else 0.0
    ranked = sorted(entries, key=lambda e: (-e.bytes, e.path))
    return InspectReport(
        model=info,
        root=type(model).__name__,
        arrays=ranked[:top] if top else ranked,
        total_arrays=len(entries),
        total_bytes=total,
        total_bytes_after=sum(e.bytes_after for e in entries),
        preset=options.effective_preset,
    )
