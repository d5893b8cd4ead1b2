"""The command line's option declarations, shared by the commands in ``cli.py``.

Choices are enums so that ``--help`` lists every value; boolean flags get an
empty metavar so that they show as flags, not ``<bool>``.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .formats import OUTPUT_FORMATS
from .options import COMPRESSION_NAMES, PRESET_NAMES


def _choices(name: str, values: tuple[str, ...]) -> Any:
    """A str enum of the library's own list of ``values``, so ``--help`` lists each one."""
    return enum.Enum(name, {v.replace(".", "_"): v for v in values}, type=str)


Preset = _choices("Preset", PRESET_NAMES)
Compression = _choices("Compression", COMPRESSION_NAMES)
Format = _choices("Format", OUTPUT_FORMATS)


def _flag(*names: str, help: str) -> Any:
    """A boolean flag shown as a flag (no ``<bool>`` metavar)."""
    return typer.Option(*names, metavar="", help=help)


ModelsArg = Annotated[list[Path], typer.Argument(
    metavar="MODEL", show_default=False,
    help="Model files (.skops, .pkl, .pkl.gz/xz/bz2, .joblib) or folders (the model files directly inside).")]
TrustOpt = Annotated[Optional[list[str]], typer.Option(
    "--trust", metavar="TYPE", help="Trust one more type or pickle global, e.g. sklearn.tree._tree.Tree (repeatable).")]
JsonOpt = Annotated[bool, _flag("--json", help="Print exactly one JSON document on stdout, nothing else there.")]
PresetOpt = Annotated[Preset, typer.Option(
    "--preset", help="auto: float16 where the check passes, else float32; exact: only value-exact changes; "
                     "float32 or float16: the widest lossy step allowed.")]
DataOpt = Annotated[Optional[Path], typer.Option(
    "--data", metavar="FILE", help="Inputs for the check, at most 5000 rows: .npy (2-D numeric); .npz (first array or "
    "--data-key); .csv (numbers only, a header row is skipped); .txt (one document per line); .jsonl (one JSON "
    "object per line, the document in --data-field). Default: probes made from the model.")]
DataKeyOpt = Annotated[Optional[str], typer.Option("--data-key", help="Array name inside an .npz file (default: the first).")]
DataFieldOpt = Annotated[Optional[str], typer.Option("--data-field", help="Field holding the document in a .jsonl file (default: text).")]
TolOpt = Annotated[float, typer.Option("--tolerance", metavar="REL", help="Largest accepted relative error max|new-ref|/max|ref| per output method.")]
LabelTolOpt = Annotated[float, typer.Option("--label-tolerance", metavar="FRACTION", help="Fraction of predicted labels allowed to change (default 0: identical).")]
MaxSizeOpt = Annotated[Optional[str], typer.Option("--max-size", metavar="SIZE", help="Refuse files that expand beyond this (default 16G), e.g. 64G.")]
MaxRatioOpt = Annotated[Optional[float], typer.Option("--max-ratio", help="Refuse archive members over 64 MiB that expand more than this many times (default 100).")]
CastOpt = Annotated[Optional[list[str]], typer.Option(
    "--cast", metavar="FROM=TO", help="Per-dtype rule, e.g. float64=float16 or int64=int32 (repeatable; overrides the preset).")]
JobsOpt = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, metavar="N", help="Files processed at once, each in its own process (default: the cores).")]
VerboseOpt = Annotated[bool, _flag("--verbose", "-v", help="Every array on its own row (default: rows that differ only by an estimator's index are grouped).")]
NoConfigOpt = Annotated[bool, _flag("--no-config", help="Ignore \\[tool.skprune] in pyproject.toml.")]
