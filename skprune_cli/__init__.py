"""skprune: make saved scikit-learn models small, and check they still predict the same.

Library first: ``prune`` an estimator in memory, ``inspect_model`` to see where
the bytes are, ``load_model``/``save_model`` for files with the same safety
rules as the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

__version__ = "0.1.0"

from .errors import FidelityError, InputRefused, OutputError, SkpruneError, UsageError  # noqa: E402
from .fidelity import check  # noqa: E402
from .formats import read_model, target_for, write_model  # noqa: E402
from .inspection import inspect_model  # noqa: E402
from .prune import prune  # noqa: E402
from .shrink import shrink  # noqa: E402


def load_model(path: str | Path, *, trust: Iterable[str] = ()) -> Any:
    """Load a ``.skops`` or ``.pkl`` file through skprune's type audit / pickle allowlist."""
    return read_model(Path(path), trust).model


def save_model(model: Any, path: str | Path, *, compression: str | None = None, force: bool = False) -> Path:
    """Write atomically; the suffix picks the format (``.skops``, ``.pkl``, ``.pkl.gz``...)."""
    path = Path(path)
    write_model(model, path, target_for(path, compression=compression), force=force)
    return path


__all__ = [
    "prune", "check", "inspect_model", "load_model", "save_model", "shrink",
    "SkpruneError", "UsageError", "InputRefused", "OutputError", "FidelityError", "__version__",
]
