"""The file-to-file job behind ``skprune shrink``: load, prune, write, report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from .errors import UsageError
from .formats import check_target, load_command, read_model, target_for, write_model
from .prune import PruneOptions, prune_model
from .report import ShrinkReport


@dataclass
class ShrinkRequest:
    """Everything ``shrink`` was asked to do, as the CLI or a script states it."""

    source: Path
    output: Path | None
    preset: str = "float32"
    cast: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    zip: bool = False
    compression: str | None = None
    force: bool = False
    dry_run: bool = False
    trust: tuple[str, ...] = field(default_factory=tuple)


def shrink_file(request: ShrinkRequest) -> ShrinkReport:
    options = PruneOptions.build(request.preset, request.cast, request.keep)
    if request.output is None and not request.dry_run:
        raise UsageError("missing -o/--output (or pass --dry-run to only report)")
    target = target_for(request.output, request.zip, request.compression) if request.output else None
    if target is not None and not request.dry_run:
        check_target(request.output, request.force, (request.source,))  # type: ignore[arg-type]

    loaded = read_model(request.source, request.trust)
    result = prune_model(loaded.model, options)

    output = None
    trusted: list[str] = []
    command = ""
    if target is not None and not request.dry_run:
        written = write_model(
            result.model, request.output, target, force=request.force, inputs=(request.source,)  # type: ignore[arg-type]
        )
        output, trusted = written.info, written.trusted
        command = load_command(request.output, target, trusted)  # type: ignore[arg-type]
    return ShrinkReport(
        input=loaded.info,
        output=output,
        dry_run=request.dry_run,
        preset=request.preset,
        casts=[str(c) for c in options.casts],
        arrays=result.changes,
        dropped=[],
        memory_bytes_before=result.bytes_before,
        memory_bytes_after=result.bytes_after,
        disk_ratio=(output.bytes / loaded.info.bytes) if output and loaded.info.bytes else None,
        load_command=command,
        trusted_types=trusted,
        transformed=result.transformed,
        compression=target.compression if target else "none",
    )


def shrink(source: str | Path, output: str | Path | None = None, **options: object) -> ShrinkReport:
    """Library twin of the ``shrink`` command: ``shrink("m.skops", "lite.skops", zip=True)``."""
    request = ShrinkRequest(Path(source), Path(output) if output is not None else None, **options)  # type: ignore[arg-type]
    return shrink_file(request)
