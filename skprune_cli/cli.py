"""The ``skprune`` command: parses options, calls the library, renders the report.

Exit codes: 0 done; 1 the pruned model failed the fidelity check; 2 usage
error; 3 input refused; 4 output not written; 5 internal error (a bug).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console

from . import __version__
from .errors import EXIT_FIDELITY, EXIT_USAGE, SkpruneError
from .formats import Limits
from .inspection import inspect_model
from .options import DataOptions, LoadOptions, PruneOptions, WriteOptions
from .progress import Reporter, reporting
from .render import RichReporter, render_check, render_inspect, render_shrink

PROGRESS_MIN_BYTES = 10 << 20  # below this a run takes a blink: no bar

EXIT_INTERNAL = 5

app = typer.Typer(
    name="skprune",
    help="Make saved scikit-learn models small: per-dtype casts, estimator-aware pruning, checked predictions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

TrustOpt = Annotated[
    Optional[list[str]],
    typer.Option("--trust", metavar="TYPE", help="Trust one more type or pickle global, e.g. sklearn.tree._tree.Tree (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout, nothing else there.")]
PresetOpt = Annotated[str, typer.Option("--preset", help="auto (float16 where the check passes, else float32), exact, float32 or float16.")]
DataOpt = Annotated[Optional[Path], typer.Option("--data", help="Inputs for the check: .npy, .npz, .csv, .txt (one document per line) or .jsonl.")]
DataKeyOpt = Annotated[Optional[str], typer.Option("--data-key", help="Array name inside an .npz file (default: the first).")]
DataFieldOpt = Annotated[Optional[str], typer.Option("--data-field", help="Field holding the document in a .jsonl file (default: text).")]
TolOpt = Annotated[float, typer.Option("--tolerance", help="Largest accepted relative error max|new-ref|/max|ref| per output method.")]
LabelTolOpt = Annotated[float, typer.Option("--label-tolerance", help="Fraction of predicted labels allowed to change (default 0: identical).")]
MaxSizeOpt = Annotated[Optional[str], typer.Option("--max-size", metavar="SIZE", help="Refuse files that expand beyond this (default 16G), e.g. 64G.")]
MaxRatioOpt = Annotated[Optional[float], typer.Option("--max-ratio", help="Refuse archive members over 64 MiB that expand more than this many times (default 100).")]
CastOpt = Annotated[
    Optional[list[str]],
    typer.Option("--cast", metavar="FROM=TO", help="Per-dtype rule, e.g. float64=float16 or int64=int32 (repeatable; overrides the preset)."),
]


def _version(value: bool) -> None:
    if value:
        print(f"skprune {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
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
    except KeyboardInterrupt:
        print("skprune: interrupted; nothing was written", file=sys.stderr)
        raise typer.Exit(130) from None
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
        print(f"skprune: {path}: no such file", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    return path


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="A .skops or .pkl model file.", show_default=False)],
    top: Annotated[int, typer.Option("--top", min=1, help="Show the N heaviest arrays.")] = 20,
    preset: PresetOpt = "auto",
    cast: CastOpt = None,
    json_out: JsonOpt = False,
    trust: TrustOpt = None,
    max_size: MaxSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
) -> None:
    """List a model's heaviest arrays and what the default rules would save.

    Example: skprune inspect model.skops --top 10
    """
    with _errors():
        report = inspect_model(_path_arg(model), preset=preset, cast=cast or (), trust=trust or (), top=top,
                               limits=Limits.parse(max_size, max_ratio))
        if json_out:
            print(report.to_json())
        else:
            render_inspect(report, _stdout())


@app.command()
def shrink(
    model: Annotated[Path, typer.Argument(help="The model file to shrink (.skops or .pkl).", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Where to write; the suffix picks the format (.skops, .pkl, .pkl.gz, .pkl.xz, .pkl.bz2).")] = None,
    zip_: Annotated[bool, typer.Option("--zip", help="Compress (DEFLATE inside a .skops archive; a .pkl.gz name for pickles).")] = False,
    compression: Annotated[Optional[str], typer.Option("--compression", help="none, deflate, lzma or bzip2.")] = None,
    cast: CastOpt = None,
    preset: PresetOpt = "auto",
    data: DataOpt = None,
    data_key: DataKeyOpt = None,
    data_field: DataFieldOpt = None,
    tolerance: TolOpt = 1e-3,
    label_tolerance: LabelTolOpt = 0.0,
    no_check: Annotated[bool, typer.Option("--no-check", help="Do not verify: lossy casts are applied unchecked (auto then means float32).")] = False,
    keep: Annotated[Optional[list[str]], typer.Option("--keep", metavar="PATTERN", help="Leave arrays and attributes whose path matches this glob untouched, training-only ones included (repeatable).")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", metavar="PATTERN", help="Remove attributes whose path matches this glob (repeatable; the check must still pass).")] = None,
    drop_importances: Annotated[bool, typer.Option("--drop-importances", help="Zero tree impurity and node weights (feature_importances_ is lost; predictions unchanged).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and --json output).")] = False,
    trust: TrustOpt = None,
    max_size: MaxSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
) -> None:
    """Write a smaller copy of a model and report what changed.

    Example: skprune shrink model.skops -o lite.skops --zip --cast float64=float16
    """
    with _errors():
        from .shrinking import ShrinkRequest, shrink_file

        request = ShrinkRequest(
            _path_arg(model),
            load=LoadOptions(tuple(trust or ()), Limits.parse(max_size, max_ratio)),
            prune=PruneOptions(preset, tuple(cast or ()), tuple(keep or ()), check=not no_check, tolerance=tolerance,
                               label_tolerance=label_tolerance, exclude=tuple(exclude or ()),
                               drop_importances=drop_importances),
            data=DataOptions(data, data_key, data_field),
            write=WriteOptions(output, zip_, compression, force, dry_run),
        )
        with _progress([model], quiet or json_out):
            report = shrink_file(request)
        if json_out:
            print(report.to_json())
        elif not quiet:
            render_shrink(report, _stdout())
        if report.output is not None:
            _messages(quiet or json_out).print(f"wrote {report.output.path}")


@app.command()
def check(
    original: Annotated[Path, typer.Argument(help="The original model file.", show_default=False)],
    pruned: Annotated[Path, typer.Argument(help="The pruned model file.", show_default=False)],
    data: DataOpt = None,
    data_key: DataKeyOpt = None,
    data_field: DataFieldOpt = None,
    tolerance: TolOpt = 1e-3,
    label_tolerance: LabelTolOpt = 0.0,
    json_out: JsonOpt = False,
    trust: TrustOpt = None,
    max_size: MaxSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
) -> None:
    """Run both models on the same inputs and compare every output method (exit 1 on failure).

    Example: skprune check model.skops lite.skops --data sample.csv
    """
    with _errors():
        from .fidelity import check_files

        with _progress([original, pruned], json_out):
            report = check_files(_path_arg(original), _path_arg(pruned), data=data, data_key=data_key,
                                 data_field=data_field, tolerance=tolerance, label_tolerance=label_tolerance,
                                 trust=tuple(trust or ()), limits=Limits.parse(max_size, max_ratio))
        if json_out:
            print(report.to_json())
        else:
            render_check(report, _stdout())
    if not report.passed:
        raise typer.Exit(EXIT_FIDELITY)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
