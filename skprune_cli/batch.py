"""Many model files in one call: ``shrink A B C -d OUTDIR --jobs N``, ``inspect A B C``, ``check A B -d DIR``.

Each file runs on its own (in a process of its own when ``jobs > 1``: a model's
load, prune and check are CPU-bound Python), and one failing file never stops
the others: its outcome holds the exit code and the one-line reason instead of
a report. The batch ends with the worst exit code; ``--json`` prints one
``skprune.batch/1`` document listing every file's outcome in input order.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import EXIT_FIDELITY, EXIT_OK, EXIT_USAGE, SkpruneError, UsageError
from .options import RunOptions
from .report import BATCH_SCHEMA, CheckReport, InspectReport, ShrinkReport, _Doc
from .shrinking import ShrinkRequest, model_suffix, output_name, savings_gate, shrink_file

EXIT_INTERNAL = 5


@dataclass
class Outcome:
    """One file of a batch: its report, or why there is none."""

    input: str
    output: str | None
    exit_code: int
    error: str | None = None
    report: ShrinkReport | InspectReport | CheckReport | None = None


@dataclass
class BatchReport(_Doc):
    command: str
    exit_code: int
    files: list[Outcome]
    config: str | None = None
    schema: str = BATCH_SCHEMA


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder stands for the model files directly inside it (sorted by name)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and model_suffix(p))
            if not inside:
                raise UsageError("folder holds no model files (.skops, .pkl, .pkl.gz/xz/bz2, .joblib)", str(path))
            found.extend(inside)
        else:
            found.append(path)
    return found


def plan_outputs(sources: Sequence[Path], outdir: Path, fmt: str | None, zipped: bool) -> list[Path]:
    """Where each result goes; two inputs that would land on the same name are a usage error."""
    outputs = [outdir / output_name(source, fmt, zipped) for source in sources]
    seen: dict[Path, Path] = {}
    for source, output in zip(sources, outputs):
        if output in seen:
            raise UsageError(f"{seen[output]} and {source} would both be written to {output}")
        seen[output] = source
    return outputs


def _guarded(source: Path, output: Path | None, job: Callable[[], Any]) -> Outcome:
    try:
        report = job()
    except SkpruneError as exc:
        return Outcome(str(source), None, exc.exit_code, exc.one_line())
    except Exception as exc:  # noqa: BLE001 - a bug on one file must not end the batch
        text = " ".join(str(exc).split())[:300]
        return Outcome(str(source), None, EXIT_INTERNAL, f"{source}: internal error: {type(exc).__name__}: {text}")
    written = report.output.path if isinstance(report, ShrinkReport) and report.output and not report.dry_run else None
    return Outcome(str(source), written, EXIT_OK, None, report)


def shrink_one(source: Path, output: Path | None, run: RunOptions, config: str | None,
               fail_above: float | None) -> Outcome:
    """One file of ``shrink``; module-level so that worker processes can run it."""
    request = ShrinkRequest.of(source, replace(run, write=replace(run.write, output=output)), config)
    outcome = _guarded(source, output, lambda: shrink_file(request))
    if fail_above is not None and isinstance(outcome.report, ShrinkReport):
        verdict = savings_gate(outcome.report, fail_above)
        if verdict is not None:
            outcome.exit_code, outcome.error = verdict.exit_code, verdict.one_line()
    return outcome


def inspect_one(source: Path, kwargs: dict[str, Any]) -> Outcome:
    from .inspection import inspect_model

    return _guarded(source, None, lambda: inspect_model(source, **kwargs))


def check_one(original: Path, pruned: Path, kwargs: dict[str, Any]) -> Outcome:
    from .fidelity import check_files

    outcome = _guarded(original, None, lambda: check_files(original, pruned, **kwargs))
    if isinstance(outcome.report, CheckReport) and not outcome.report.passed:
        outcome.exit_code, outcome.error = EXIT_FIDELITY, f"{pruned}: check FAILED against {original}"
    return outcome


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def run_all(job: Callable[..., Outcome], calls: Sequence[tuple[Any, ...]], jobs: int) -> list[Outcome]:
    """Run ``job(*call)`` for every call, ``jobs`` at a time in worker processes; results in input order."""
    if jobs < 1:
        raise UsageError(f"jobs={jobs}: must be at least 1")
    workers = min(jobs, len(calls))
    if workers <= 1:
        return [job(*call) for call in calls]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        futures = [pool.submit(job, *call) for call in calls]
        return [f.result() for f in futures]


def worst(outcomes: Sequence[Outcome]) -> int:
    """The batch's exit code: the highest of its files' (0 when all went well)."""
    return max((o.exit_code for o in outcomes), default=EXIT_USAGE)


def shrink_many(sources: Sequence[Path], outdir: Path | None, run: RunOptions, *, fmt: str | None = None,
                jobs: int | None = None, config: str | None = None, fail_above: float | None = None) -> BatchReport:
    """Shrink every file into ``outdir`` (or only measure them in a dry run)."""
    outputs: list[Path | None] = [None] * len(sources)
    if outdir is not None:
        outputs = list(plan_outputs(sources, outdir, fmt, run.write.zip))
        if not run.write.dry_run:
            if outdir.exists() and not outdir.is_dir():
                raise UsageError("output folder is a file", str(outdir))
            outdir.mkdir(parents=True, exist_ok=True)
    calls = [(source, output, run, config, fail_above) for source, output in zip(sources, outputs)]
    outcomes = run_all(shrink_one, calls, jobs or default_jobs())
    return BatchReport("shrink", worst(outcomes), outcomes, config)


def check_many(originals: Sequence[Path], pruned_dir: Path, kwargs: dict[str, Any], *, jobs: int | None = None,
               config: str | None = None) -> BatchReport:
    """Each original against the file of the same name in ``pruned_dir`` (as ``shrink -d`` wrote it)."""
    calls = [(original, pruned_dir / original.name, kwargs) for original in originals]
    outcomes = run_all(check_one, calls, jobs or default_jobs())
    return BatchReport("check", worst(outcomes), outcomes, config)


def inspect_many(sources: Sequence[Path], kwargs: dict[str, Any], *, jobs: int | None = None,
                 config: str | None = None) -> BatchReport:
    outcomes = run_all(inspect_one, [(source, kwargs) for source in sources], jobs or default_jobs())
    return BatchReport("inspect", worst(outcomes), outcomes, config)
