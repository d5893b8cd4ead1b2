"""skprune: make saved scikit-learn models small, and check they still predict the same.

Library first: ``prune`` an estimator in memory, ``check`` a pruned model
against the original, ``inspect_model`` to see where the bytes are,
``load_model``/``save_model`` for files with the same safety rules as the
command line. Names are imported on first use, so ``skprune inspect`` of a
``.skops`` file never pays for importing scikit-learn.
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
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'skprune_cli' has no attribute {name!r}")


def load_model(path: str | Path, *, trust: Iterable[str] = ()) -> Any:
    """Load a ``.skops`` or ``.pkl`` file through skprune's type audit / pickle allowlist."""
    from .formats import read_model

    return read_model(Path(path), trust).model


def save_model(model: Any, path: str | Path, *, compression: str | None = None, force: bool = False) -> Path:
    """Write atomically; the suffix picks the format (``.skops``, ``.pkl``, ``.pkl.gz``...)."""
    from .formats import target_for, write_model

    path = Path(path)
    write_model(model, path, target_for(path, compression=compression), force=force)
    return path


__all__ = [
    "prune", "check", "inspect_model", "load_model", "save_model", "shrink",
    "SkpruneError", "UsageError", "InputRefused", "OutputError", "FidelityError", "__version__",
]
