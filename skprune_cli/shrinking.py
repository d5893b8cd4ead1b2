"""The file-to-file job behind ``skprune shrink``: load, prune with checks, write, report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .fidelity import load_check_data
from .formats import check_target, load_command, read_model, target_for, write_model
from .options import DataOptions, LoadOptions, PruneOptions, RunOptions, WriteOptions, split_flat
from .pruning import prune_model
from .report import ShrinkReport


@dataclass(init=False)
class ShrinkRequest:
    """One input file plus one validated options object per stage.

    Scripts may still pass the flat names (``ShrinkRequest(src, out, preset="exact", zip=True)``):
    they are sorted into the stages, so old call sites keep working.
    """

    source: Path
    output: Path | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    prune: PruneOptions = field(default_factory=PruneOptions)
    data: DataOptions = field(default_factory=DataOptions)
    write: WriteOptions = field(default_factory=WriteOptions)
    config: str | None = None  # the pyproject.toml the options came from, if any

    def __init__(self, source: str | Path, output: str | Path | None = None, *, load: LoadOptions | None = None,
                 prune: PruneOptions | None = None, data: DataOptions | Path | None = None,
                 write: WriteOptions | None = None, config: str | None = None, **flat: Any) -> None:
        if isinstance(data, (str, Path)):  # the old flat ``data=Path`` keyword
            flat["data"], data = data, None
        staged = split_flat(flat)
        self.source = Path(source)
        self.load = load or LoadOptions(**staged["load"])
        self.prune = prune or PruneOptions(**staged["prune"])
        self.data = data or DataOptions(**staged["data"])
        write = write or WriteOptions(**staged["write"])
        if output is not None:
            write = WriteOptions(Path(output), write.zip, write.compression, write.force, write.dry_run)
        self.write = write
        self.output = write.output
        self.config = config

    @classmethod
    def of(cls, source: str | Path, run: RunOptions, config: str | None = None) -> "ShrinkRequest":
        return cls(source, load=run.load, prune=run.prune, data=run.data, write=run.write, config=config)


def shrink_file(request: ShrinkRequest) -> ShrinkReport:
    options, write, data = request.prune, request.write, request.data
    if write.output is None and not write.dry_run:
        raise UsageError("no output given: pass output= (-o), or dry_run=True (--dry-run) to only report")
    if data.data is not None and not options.check:
        raise UsageError("data is used by the fidelity check; it makes no sense with check=False (--no-check)")
    target = target_for(write.output, write.zip, write.compression) if write.output else None
    if target is not None and not write.dry_run:
        check_target(write.output, write.force, (request.source,))  # type: ignore[arg-type]

    loaded = read_model(request.source, request.load.trust, request.load.limits)
    inputs = load_check_data(data.data, loaded.model, data.data_key, data.data_field)
    result = prune_model(loaded.model, options, inputs)

    output = written = None
    trusted: list[str] = []
    command = ""
    if target is not None and not write.dry_run:
        written = write_model(
            result.model, write.output, target, force=write.force, inputs=(request.source,),  # type: ignore[arg-type]
            estimate_best=target.format == "skops" and target.compression == "deflate",
            size_hint=result.bytes_after,
        )
        output, trusted = written.info, written.trusted
        command = load_command(write.output, target, trusted)  # type: ignore[arg-type]
    return ShrinkReport(
        input=loaded.info,
        output=output,
        dry_run=write.dry_run,
        preset=options.effective_preset if options.preset != "auto" else "auto",
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
        config=request.config,
    )


def shrink(source: str | Path, output: str | Path | None = None, **options: Any) -> ShrinkReport:
    """Library twin of the ``shrink`` command: ``shrink("m.skops", "lite.skops", zip=True)``."""
    return shrink_file(ShrinkRequest(source, output, **options))
