"""skprune: make saved scikit-learn models small, and check they still predict the same.

Library first: ``prune`` an estimator in memory (``prune_report`` also returns
the report the CLI prints), ``check`` a pruned model against the original,
``inspect_model`` to see where the bytes are, ``load_model``/``save_model`` for
files with the same safety rules as the command line. ``save_model`` is what
writes a *small* file (compact archive, compression); ``skops.io.dump`` keeps
only part of the saving. Importable as ``skprune`` too (the same module
object; see ``skprune_cli/_alias/skprune``). Names are imported on first use,
so ``skprune inspect`` of a ``.skops`` file never pays for importing scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Iterable

from .errors import FidelityError, InputRefused, OutputError, SkpruneError, UsageError

__version__ = "0.1.0"

_LAZY = {
    "prune": ".pruning",
    "check": ".fidelity.jobs",
    "inspect_model": ".inspection",
    "shrink": ".shrinking",
    "prune_report": ".shrinking",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_model(path: str | Path, *, trust: Iterable[str] = ()) -> Any:
    """Load a ``.skops`` or ``.pkl`` file through skprune's type audit / pickle allowlist."""
    from .formats import read_model

    return read_model(Path(path), trust).model


def save_model(model: Any, path: str | Path, *, compression: str | None = None, force: bool = False) -> Path:
    """Write atomically; the suffix picks the format (``.skops``, ``.pkl``, ``.pkl.gz``...).

    ``save_model(prune(pipe), "lite.skops", compression="lzma")`` gets the command line's
    result: skprune's compact archive (one member per array, no indented schema) plus
    ``compression`` (``deflate``, ``lzma``, ``bzip2`` or ``best``) inside it, and the file
    still loads with plain ``skops.io.load``.
    """
    from .formats import target_for, write_model

    path = Path(path)
    write_model(model, path, target_for(path, compression=compression), force=force)
    return path


__all__ = [
    "prune", "prune_report", "check", "inspect_model", "load_model", "save_model", "shrink",
    "SkpruneError", "UsageError", "InputRefused", "OutputError", "FidelityError", "__version__",
]
