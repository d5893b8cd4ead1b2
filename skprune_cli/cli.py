"""The ``skprune`` command: parses options, reads ``[tool.skprune]``, calls the library, renders.

Exit codes: 0 done; 1 the pruned model failed the fidelity check; 2 usage
error; 3 input refused; 4 output not written; 5 internal error (a bug);
6 the CI gate (``--fail-above-savings``) found a model that could be much smaller.
A batch (several inputs, a folder, or ``-d``) ends with the worst of its files' codes.
"""

from __future__ import annotations

import time

IMPORTED = time.perf_counter()  # before the imports below: a command's time includes them

import contextlib
import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console

from . import __version__, signals
from .cli_options import (
    CastOpt, Compression, DataFieldOpt, DataKeyOpt, DataOpt, Format, JobsOpt, JsonOpt, LabelTolOpt, MaxRatioOpt,
    MaxSizeOpt, ModelsArg, NoConfigOpt, Preset, PresetOpt, TolOpt, TrustOpt, VerboseOpt, _flag,
)
from .config import load_config
from .errors import EXIT_FIDELITY, SkpruneError, UsageError
from .formats import Limits
from .options import CheckOptions, DataOptions, LoadOptions, PruneOptions, RunOptions, WriteOptions, check_gate
from .progress import Reporter, reporting
from .render import RichReporter, render_batch, render_check, render_inspect, render_shrink

PROGRESS_MIN_BYTES = 10 << 20  # below this a run takes a blink: no bar

EXIT_INTERNAL = 5
LAUNCHED: float | None = None  # the process's start, when run as the ``skprune`` command (``main``)

app = typer.Typer(
    name="skprune",
    help="Make saved scikit-learn models small: per-dtype casts, estimator-aware pruning, checked predictions.\n\n"
         "Examples:  skprune inspect model.skops  |  skprune shrink model.skops -o lite.skops --zip  |  "
         "skprune shrink models/ -d lite/ --jobs 4  |  skprune check model.skops lite.skops --data rows.csv\n\n"
         "Options may also come from \\[tool.skprune] in the nearest pyproject.toml; flags win. "
         "Exit codes: 0 done, 1 check failed, 2 usage, 3 input refused, 4 output not written, 5 bug, 6 CI gate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"skprune {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, metavar="", help="Show the version and exit.")] = False,
) -> None:
    """skprune: make saved scikit-learn models small, and check they still predict the same."""


def _stdout() -> Console:
    """Reports go to stdout; piped output is not wrapped at 80 columns and has no colour."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _messages(quiet: bool) -> Console:
    """Human messages go to stderr, and only to a terminal."""
    return Console(stderr=True, highlight=False, quiet=quiet or not sys.stderr.isatty())


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """One line on stderr and the contract's exit code; tracebacks only with SKPRUNE_DEBUG=1."""
    debug = os.environ.get("SKPRUNE_DEBUG") == "1"
    try:
        yield
    except SkpruneError as exc:
        if debug:
            raise
        print(f"skprune: {exc.one_line()}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (signals.py): 130 / 143, one line
        signals.announce(signals.message(exc))
        raise typer.Exit(signals.exit_code(exc)) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # noqa: BLE001 - anything else is our bug, still one line
        if debug:
            raise
        text = " ".join(str(exc).split())[:300]
        print(f"skprune: internal error: {type(exc).__name__}: {text} (set SKPRUNE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None


@contextlib.contextmanager
def _progress(paths: list[Path], silent: bool) -> Iterator[None]:
    """Rich bars on stderr for big files, only on a terminal and never with --quiet or --json."""
    size = sum(p.stat().st_size for p in paths if p.is_file())
    show = not silent and sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES
    drawer: Reporter = RichReporter(Console(stderr=True)) if show else Reporter()
    try:
        with reporting(drawer):
            yield
    finally:
        if isinstance(drawer, RichReporter):
            drawer.close()


def _path_arg(path: Path) -> Path:
    if not path.exists():
        raise UsageError("no such file", str(path))
    return path


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _with_config(ctx: typer.Context, params: dict[str, Any], no_config: bool) -> str | None:
    """Fill ``params`` from ``[tool.skprune]`` where the flag was not given; the file's path, if one applied."""
    if no_config:
        return None
    config = load_config()
    if config.path is None:
        return None
    for name, value in config.values.items():
        source = ctx.get_parameter_source(name) if name in params else None
        if name in params and (source is None or source.name in ("DEFAULT", "DEFAULT_MAP")):
            params[name] = value
    return str(config.path)


def _batch_mode(models: list[Path], output_dir: Path | None) -> bool:
    return output_dir is not None or len(models) > 1 or any(m.is_dir() for m in models)


def _report_batch(batch: Any, json_out: bool, quiet: bool) -> None:
    for outcome in batch.files:
        if outcome.exit_code:
            print(f"skprune: {outcome.error}", file=sys.stderr)
    if json_out:
        print(batch.to_json())
    elif not quiet:
        render_batch(batch, _stdout())
    raise typer.Exit(batch.exit_code)


@app.command()
def inspect(
    ctx: typer.Context,
    models: ModelsArg,
    top: Annotated[int, typer.Option("--top", min=1, help="Show the N heaviest rows.")] = 20,
    preset: PresetOpt = Preset.auto,
    cast: CastOpt = None,
    verbose: VerboseOpt = False,
    tree: Annotated[bool, _flag("--tree", help="Also draw the model as a tree of estimators with their sizes.")] = False,
    json_out: JsonOpt = False,
    jobs: JobsOpt = None,
    trust: TrustOpt = None,
    max_size: MaxSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
    no_config: NoConfigOpt = False,
) -> None:
    """List a model's heaviest arrays, each row's share of the bytes, and what the rules would save.

    Several files (or folders) give one summary row each; --json then prints one skprune.batch/1 document.

    Example: skprune inspect model.skops --top 10 --tree
    """
    with _errors():
        p = dict(preset=preset, cast=cast, trust=trust, max_size=max_size, max_ratio=max_ratio, top=top, jobs=jobs)
        config = _with_config(ctx, p, no_config)
        kwargs = dict(preset=_plain(p["preset"]), cast=tuple(p["cast"] or ()), trust=tuple(p["trust"] or ()),
                      limits=Limits.parse(p["max_size"], p["max_ratio"]))
        PruneOptions(kwargs["preset"], kwargs["cast"])  # bad options are one usage error, not one per file
        if _batch_mode(models, None):
            from .batch import expand_inputs, inspect_many

            batch = inspect_many(expand_inputs(models), {**kwargs, "top": p["top"]}, jobs=p["jobs"], config=config)
            if not json_out and verbose:
                for outcome in batch.files:
                    if outcome.report is not None:
                        render_inspect(outcome.report, _stdout(), top=p["top"], verbose=True)  # type: ignore[arg-type]
        else:
            from .inspection import inspect_model

            report = inspect_model(_path_arg(models[0]), **kwargs)
            report.config = config
            if json_out:
                report.arrays = report.arrays[: p["top"]]
                print(report.to_json())
            else:
                render_inspect(report, _stdout(), top=p["top"], verbose=verbose, tree=tree)
            return
    _report_batch(batch, json_out, False)


@app.command()
def shrink(
    ctx: typer.Context,
    models: ModelsArg,
    output: Annotated[Optional[Path], typer.Option(
        "-o", "--output", metavar="OUT",
        help="The output file, for exactly one input (required unless -d or --dry-run); its suffix picks the format: "
             ".skops, .pkl, .pkl.gz, .pkl.xz, .pkl.bz2.")] = None,
    output_dir: Annotated[Optional[Path], typer.Option(
        "-d", "--output-dir", metavar="OUTDIR",
        help="Folder for the results of one or more inputs, each under its own name (created if missing).")] = None,
    format_: Annotated[Optional[Format], typer.Option(
        "--format", help="With -d: write this format instead of each input's own.")] = None,
    jobs: JobsOpt = None,
    zip_: Annotated[bool, _flag("--zip", help="Compress: DEFLATE inside a .skops archive (still loads with skops.io.load); "
                                              "with -d, a .pkl input becomes .pkl.gz.")] = False,
    compression: Annotated[Optional[Compression], typer.Option(
        "--compression", help="Compression method; best tries each per archive member and keeps the smallest (slower).")] = None,
    cast: CastOpt = None,
    preset: PresetOpt = Preset.auto,
    data: DataOpt = None,
    data_key: DataKeyOpt = None,
    data_field: DataFieldOpt = None,
    tolerance: TolOpt = 1e-3,
    label_tolerance: LabelTolOpt = 0.0,
    no_check: Annotated[bool, _flag("--no-check", help="Do not verify: lossy casts are applied unchecked (auto then means float32).")] = False,
    keep: Annotated[Optional[list[str]], typer.Option("--keep", metavar="PATTERN", help="Leave arrays and attributes whose path matches this glob untouched, training-only ones included (repeatable).")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", metavar="PATTERN", help="Remove attributes whose path matches this glob (repeatable; the check must still pass).")] = None,
    drop_importances: Annotated[bool, _flag("--drop-importances", help="Zero tree impurity and node weights (feature_importances_ is lost; predictions unchanged).")] = False,
    dry_run: Annotated[bool, _flag("--dry-run", help="Report what would change; write nothing.")] = False,
    fail_above_savings: Annotated[Optional[float], typer.Option(
        "--fail-above-savings", metavar="FRACTION",
        help="CI gate: exit 6 when the result would be more than this fraction smaller on disk than the input "
             "(e.g. 0.2); with --dry-run the size is measured in a temporary file.")] = None,
    force: Annotated[bool, _flag("--force", help="Replace an existing output file.")] = False,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, _flag("--quiet", "-q", help="Print nothing but errors (and --json output).")] = False,
    verbose: VerboseOpt = False,
    trust: TrustOpt = None,
    max_size: MaxSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
    no_config: NoConfigOpt = False,
) -> None:
    """Write a smaller copy of each model and report what changed.

    One input: -o OUT. Several inputs or folders: -d OUTDIR (--jobs N at a time); one failing file does not stop the others, the exit code is the worst one, --json prints one skprune.batch/1 document.

    Example: skprune shrink model.skops -o lite.skops --zip --cast float64=float16
    """
    with _errors():
        p = dict(format_=format_, jobs=jobs, zip_=zip_, compression=compression, cast=cast, preset=preset, data=data,
                 data_key=data_key, data_field=data_field, tolerance=tolerance, label_tolerance=label_tolerance,
                 no_check=no_check, keep=keep, exclude=exclude, drop_importances=drop_importances, trust=trust,
                 max_size=max_size, max_ratio=max_ratio, fail_above_savings=fail_above_savings)
        config = _with_config(ctx, p, no_config)
        gate = p["fail_above_savings"]
        check_gate(gate)
        run = RunOptions(
            load=LoadOptions(tuple(p["trust"] or ()), Limits.parse(p["max_size"], p["max_ratio"])),
            prune=PruneOptions(_plain(p["preset"]), tuple(p["cast"] or ()), tuple(p["keep"] or ()),
                               check=not p["no_check"], tolerance=p["tolerance"], label_tolerance=p["label_tolerance"],
                               exclude=tuple(p["exclude"] or ()), drop_importances=p["drop_importances"]),
            data=DataOptions(p["data"], p["data_key"], p["data_field"]),
            write=WriteOptions(output, p["zip_"], _plain(p["compression"]), force, dry_run,
                               measure=dry_run and gate is not None),
        )
        if output is not None and output_dir is not None:
            raise UsageError("give -o OUT (one input) or -d OUTDIR (any number of inputs), not both")
        if _batch_mode(models, output_dir):
            if output is not None:
                raise UsageError("-o names one output file; for several inputs or a folder use -d OUTDIR")
            if output_dir is None and not dry_run:
                raise UsageError("several inputs need -d OUTDIR (or --dry-run to only report)")
            from .batch import expand_inputs, shrink_many

            batch = shrink_many(expand_inputs(models), output_dir, run, fmt=_plain(p["format_"]), jobs=p["jobs"],
                                config=config, fail_above=gate)
            if verbose and not json_out and not quiet:
                for outcome in batch.files:
                    if outcome.report is not None:
                        render_shrink(outcome.report, _stdout(), verbose=True)  # type: ignore[arg-type]
        else:
            if output is None and not dry_run:
                raise UsageError("missing -o OUT (the output file; or -d OUTDIR, or --dry-run to only report)")
            if p["format_"] is not None:
                raise UsageError("--format goes with -d OUTDIR; with -o the output's suffix picks the format")
            from .shrinking import ShrinkRequest, savings_gate, shrink_file

            with _progress(models, quiet or json_out):
                report = shrink_file(ShrinkRequest.of(_path_arg(models[0]), run, config, started=LAUNCHED))
            if json_out:
                print(report.to_json())
            elif not quiet:
                render_shrink(report, _stdout(), verbose=verbose)
            if report.output is not None and not report.dry_run:
                _messages(quiet or json_out).print(f"wrote {report.output.path}")
            if gate is not None:
                verdict = savings_gate(report, gate)
                if verdict is not None:
                    raise verdict
            return
    _report_batch(batch, json_out, quiet)


@app.command()
def check(
    ctx: typer.Context,
    models: Annotated[list[Path], typer.Argument(
        metavar="ORIGINAL PRUNED | ORIGINAL...", show_default=False,
        help="The original model file and the pruned one; with -d, original files or folders.")],
    pruned_dir: Annotated[Optional[Path], typer.Option(
        "-d", "--pruned-dir", metavar="DIR",
        help="Compare each ORIGINAL with the file of the same name in DIR (as shrink -d wrote them).")] = None,
    data: DataOpt = None,
    data_key: DataKeyOpt = None,
    data_field: DataFieldOpt = None,
    tolerance: TolOpt = 1e-3,
    label_tolerance: LabelTolOpt = 0.0,
    json_out: JsonOpt = False,
    jobs: JobsOpt = None,
    trust: TrustOpt = None,
    max_size: MaxSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
    no_config: NoConfigOpt = False,
) -> None:
    """Run both models on the same inputs and compare every output method (exit 1 on failure).

    Example: skprune check model.skops lite.skops --data sample.csv  (or: skprune check models/ -d lite/)
    """
    with _errors():
        from .fidelity import check_files

        p = dict(data=data, data_key=data_key, data_field=data_field, tolerance=tolerance,
                 label_tolerance=label_tolerance, trust=trust, max_size=max_size, max_ratio=max_ratio, jobs=jobs)
        config = _with_config(ctx, p, no_config)
        limits = CheckOptions(p["tolerance"], p["label_tolerance"])
        kwargs = dict(data=p["data"], data_key=p["data_key"], data_field=p["data_field"], tolerance=limits.tolerance,
                      label_tolerance=limits.label_tolerance, trust=tuple(p["trust"] or ()),
                      limits=Limits.parse(p["max_size"], p["max_ratio"]))
        if pruned_dir is not None:
            from .batch import check_many, expand_inputs

            batch = check_many(expand_inputs(models), pruned_dir, kwargs, jobs=p["jobs"], config=config)
        else:
            if len(models) != 2:
                raise UsageError("give ORIGINAL PRUNED, or original files with -d DIR (the pruned files' folder)")
            original, pruned = models
            with _progress([original, pruned], json_out):
                report = check_files(_path_arg(original), _path_arg(pruned), **kwargs)  # type: ignore[arg-type]
            report.config = config
            if json_out:
                print(report.to_json())
            else:
                render_check(report, _stdout())
            if not report.passed:
                raise typer.Exit(EXIT_FIDELITY)
            return
    _report_batch(batch, json_out, False)


def main() -> None:
    global LAUNCHED
    LAUNCHED = IMPORTED
    signals.run(app)  # SIGINT/SIGTERM: exit 130/143, one line, no temp file; library callers keep theirs


if __name__ == "__main__":  # pragma: no cover
    main()
