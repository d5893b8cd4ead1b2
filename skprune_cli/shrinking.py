"""The file-to-file job behind ``skprune shrink``: load, prune with checks, write, report."""

from __future__ import annotations

import copy
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import SavingsGate, UsageError
from .fidelity.jobs import load_check_data
from .fidelity.probes import Probes
from .formats.advice import advise
from .formats import PICKLE_SUFFIXES, Target, check_target, load_command, read_model, target_for, write_model
from .options import ALIASES, DataOptions, LoadOptions, PruneOptions, RunOptions, WriteOptions, check_gate, split_flat
from .pruning import prune_model
from .report import FileInfo, ShrinkReport


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
    started: float = 0.0  # time.perf_counter() when the job began (best's time budget counts from it)

    def __init__(self, source: str | Path, output: str | Path | None = None, *, load: LoadOptions | None = None,
                 prune: PruneOptions | None = None, data: DataOptions | Path | None = None,
                 write: WriteOptions | None = None, config: str | None = None, started: float | None = None,
                 **flat: Any) -> None:
        if isinstance(data, (str, Path)):  # the old flat ``data=Path`` keyword
            flat["data"], data = data, None
        staged = split_flat(flat)
        self.source = Path(source)
        self.load = load or LoadOptions(**staged["load"])
        self.prune = prune or PruneOptions(**staged["prune"])
        self.data = data or DataOptions(**staged["data"])
        write = write or WriteOptions(**staged["write"])
        if output is not None:
            write = replace(write, output=Path(output))
        self.write = write
        self.output = write.output
        self.config = config
        self.started = time.perf_counter() if started is None else started

    @classmethod
    def of(cls, source: str | Path, run: RunOptions, config: str | None = None,
           started: float | None = None) -> "ShrinkRequest":
        return cls(source, load=run.load, prune=run.prune, data=run.data, write=run.write, config=config,
                   started=started)


MODEL_SUFFIXES = tuple(sorted({*PICKLE_SUFFIXES, ".skops", ".joblib"}, key=len, reverse=True))


def model_suffix(path: Path) -> str:
    """The model-file suffix a name ends with (``.pkl.gz`` as a whole), or "" for another name."""
    name = path.name.lower()
    return next((s for s in MODEL_SUFFIXES if name.endswith(s)), "")


def output_name(source: Path, fmt: str | None = None, zip: bool = False) -> str:
    """The file name a result gets in an output folder: the input's name, its format unless ``fmt`` says
    otherwise; a zipped pickle gains ``.gz`` so that standard loaders know to decompress it."""
    suffix = model_suffix(source)
    stem = source.name[: len(source.name) - len(suffix)] if suffix else source.name
    new = "." + fmt if fmt else (source.name[len(stem):] if suffix else ".skops")
    if zip and new.lower() in (".pkl", ".pickle"):
        new += ".gz"
    return stem + new


def shrink_file(request: ShrinkRequest) -> ShrinkReport:
    options, write, data = request.prune, request.write, request.data
    if write.output is None and not write.dry_run:
        raise UsageError("no output given: pass output= (-o), or dry_run=True (--dry-run) to only report")
    if data.data is not None and not options.check:
        raise UsageError("data is used by the fidelity check; it makes no sense with check=False (--no-check)")
    destination = write.output
    if destination is None and write.measure:
        destination = request.source.with_name(output_name(request.source, zip=write.zip))
    target = target_for(destination, write.zip, write.compression) if destination else None
    if target is not None and not write.dry_run:
        check_target(destination, write.force, (request.source,))  # type: ignore[arg-type]
        streamed = _shrink_streamed(request, target)  # forests larger than memory (streaming.py)
        if streamed is not None:
            return streamed

    loaded = read_model(request.source, request.load.trust, request.load.limits)
    inputs = load_check_data(data.data, loaded.model, data.data_key, data.data_field)
    result = prune_model(loaded.model, options, inputs)

    output = written = advice = None
    trusted: list[str] = []
    command = ""
    if target is not None and (not write.dry_run or write.measure):
        scratch = tempfile.mkdtemp(prefix="skprune-measure-") if write.dry_run else None
        path = Path(scratch) / destination.name if scratch else destination  # type: ignore[union-attr]
        try:
            written = write_model(
                result.model, path, target, force=write.force, inputs=(request.source,),
                estimate_best=target.format == "skops" and target.compression in ("deflate", "auto"),
                size_hint=result.bytes_after, started=request.started,
            )
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
        output, trusted = written.info, written.trusted
        advice = advise(result.model, output.bytes, loaded.info.bytes,
                        ".skops" if target.format == "skops" else destination.name[len(destination.stem):] or ".pkl",  # type: ignore[union-attr]
                        target.format == "pickle" and target.compression != "none", result.bytes_after)
        if scratch:
            output.path = str(write.output) if write.output else "(measured in a temporary file, not kept)"
        else:
            command = load_command(destination, target, trusted)  # type: ignore[arg-type]
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
        compression_members=written.methods if written else None,
        notes=loaded.notes + (written.notes if written else []),
        best_saving_estimate=written.best_saving if written and target.compression in ("deflate", "auto") else None,  # type: ignore[union-attr]
        config=request.config,
        format_advice=advice,
    )


def _shrink_streamed(request: ShrinkRequest, target: Target) -> ShrinkReport | None:
    from .formats import check_input, sniff
    from .formats.stream_trees import stream_plan
    from .streaming import shrink_streamed

    check_input(request.source)
    if target.format != "skops" or sniff(request.source) != "skops":
        return None
    plan = stream_plan(request.source, request.prune.keep, request.write.stream, request.load.limits)
    if plan is None:
        return None
    data = request.data
    report = shrink_streamed(plan, request.write.output, target, request.prune,  # type: ignore[arg-type]
                             force=request.write.force, trust=request.load.trust, started=request.started,
                             inputs_for=lambda model: load_check_data(data.data, model, data.data_key, data.data_field))
    report.config = request.config
    return report


def savings_gate(report: ShrinkReport, fail_above: float) -> SavingsGate | None:
    """The CI gate's verdict: an error when shrinking would save more than ``fail_above`` of the file."""
    check_gate(fail_above)
    if report.disk_ratio is None:
        return None
    saving = 1 - report.disk_ratio
    if saving <= fail_above:
        return None
    return SavingsGate(f"could be {saving:.0%} smaller on disk (gate: {fail_above:.0%}); "
                       "shrink it and commit the result", report.input.path)


def shrink(source: str | Path, output: str | Path | None = None, **options: Any) -> ShrinkReport:
    """Library twin of the ``shrink`` command: ``shrink("m.skops", "lite.skops", zip=True)``."""
    return shrink_file(ShrinkRequest(source, output, **options))


def prune_report(estimator: Any, *, X: Any = None, inplace: bool = False, **options: Any) -> tuple[Any, ShrinkReport]:
    """``prune()`` plus the report the CLI prints: ``model, report = prune_report(pipe)``.

    Takes ``prune()``'s options (``preset``, ``cast``, ``keep``, ``exclude``, ``tolerance``,
    ``label_tolerance``, ``check``, ``drop_training``, ``drop_importances``). The report's
    ``input``/``output`` describe the object in memory; sizes on disk come from ``save_model``.
    """
    settings = PruneOptions(**{ALIASES.get(k, k): v for k, v in options.items()})
    model = estimator if inplace else copy.deepcopy(estimator)
    inputs = Probes(X, f"{len(X)} rows given by the caller") if X is not None else None
    result = prune_model(model, settings, inputs)
    memory = FileInfo(f"<{type(estimator).__name__} in memory>", "object", result.bytes_before)
    report = ShrinkReport(
        input=memory, output=None, dry_run=False,
        preset=settings.effective_preset if settings.preset != "auto" else "auto",
        casts=[str(c) for c in settings.casts], arrays=result.changes, dropped=result.dropped,
        memory_bytes_before=result.bytes_before, memory_bytes_after=result.bytes_after, disk_ratio=None,
        load_command="", transformed=result.transformed, check=result.check,
    )
    return result.model, report
