"""The file-to-file job behind ``skprune shrink``: load, prune with checks, write, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .fidelity import load_check_data
from .formats import Limits, Target, check_target, load_command, read_model, target_for, write_model
from .options import DEFAULT_TOLERANCE, PruneOptions
from .pruning import prune_model
from .report import ShrinkReport


@dataclass
class ShrinkRequest:
    """Everything ``shrink`` was asked to do, as the CLI or a script states it."""

    source: Path
    output: Path | None
    preset: str = "auto"
    cast: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    zip: bool = False
    compression: str | None = None
    force: bool = False
    dry_run: bool = False
    trust: tuple[str, ...] = ()
    check: bool = True
    data: Path | None = None
    data_key: str | None = None
    data_field: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    label_tolerance: float = 0.0
    exclude: tuple[str, ...] = ()
    drop_importances: bool = False
    limits: Limits = Limits()
    stream: bool | None = None  # forests: tree by tree, archive to archive (None: when it pays)


def shrink_file(request: ShrinkRequest) -> ShrinkReport:
    if request.tolerance < 0 or not 0 <= request.label_tolerance <= 1:
        raise UsageError("--tolerance must be >= 0 and --label-tolerance within 0..1")
    options = PruneOptions.build(request.preset, request.cast, request.keep, check=request.check,
                                 tolerance=request.tolerance, label_tolerance=request.label_tolerance,
                                 exclude=request.exclude, drop_importances=request.drop_importances)
    if request.output is None and not request.dry_run:
        raise UsageError("missing -o/--output (or pass --dry-run to only report)")
    if request.data is not None and not request.check:
        raise UsageError("--data is used by the fidelity check; it makes no sense with --no-check")
    target = target_for(request.output, request.zip, request.compression) if request.output else None
    if target is not None and not request.dry_run:
        check_target(request.output, request.force, (request.source,))  # type: ignore[arg-type]
        streamed = _shrink_streamed(request, options, target)  # forests larger than memory (streaming.py)
        if streamed is not None:
            return streamed

    loaded = read_model(request.source, request.trust, request.limits)
    inputs = load_check_data(request.data, loaded.model, request.data_key, request.data_field)
    result = prune_model(loaded.model, options, inputs)

    output = written = None
    trusted: list[str] = []
    command = ""
    if target is not None and not request.dry_run:
        written = write_model(
            result.model, request.output, target, force=request.force, inputs=(request.source,),  # type: ignore[arg-type]
            estimate_best=target.format == "skops" and target.compression == "deflate",
            size_hint=result.bytes_after,
        )
        output, trusted = written.info, written.trusted
        command = load_command(request.output, target, trusted)  # type: ignore[arg-type]
    return ShrinkReport(
        input=loaded.info,
        output=output,
        dry_run=request.dry_run,
        preset=options.effective_preset if request.preset != "auto" else "auto",
        casts=[str(c) for c in options.casts],
        arrays=result.changes,
        dropped=result.dropped,
        memory_bytes_before=result.bytes_before,
        memory_bytes_after=result.bytes_after,
        disk_ratio=(output.bytes / loaded.info.bytes) if output and loaded.info.bytes else None,
        load_command=command,
        trusted_types=trusted,
        transformed=result.transformed,
        check=result.check,
        compression=target.compression if target else "none",
        compression_members=written.methods if output else None,
        notes=loaded.notes,
        best_saving_estimate=written.best_saving if output and target.compression == "deflate" else None,  # type: ignore[union-attr]
    )


def _shrink_streamed(request: ShrinkRequest, options: PruneOptions, target: Target) -> ShrinkReport | None:
    from .formats import check_input, sniff
    from .formats.stream_trees import stream_plan
    from .streaming import shrink_streamed

    check_input(request.source)
    if target.format != "skops" or sniff(request.source) != "skops":
        return None
    plan = stream_plan(request.source, options.keep, request.stream, request.limits)
    if plan is None:
        return None
    return shrink_streamed(plan, request.output, target, options, force=request.force, trust=request.trust,  # type: ignore[arg-type]
                           inputs_for=lambda model: load_check_data(request.data, model, request.data_key,
                                                                    request.data_field))


def shrink(source: str | Path, output: str | Path | None = None, **options: object) -> ShrinkReport:
    """Library twin of the ``shrink`` command: ``shrink("m.skops", "lite.skops", zip=True)``."""
    request = ShrinkRequest(Path(source), Path(output) if output is not None else None, **options)  # type: ignore[arg-type]
    return shrink_file(request)
