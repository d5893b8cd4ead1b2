"""The scikit-learn version a file was saved with, against the one installed.

scikit-learn warns (``InconsistentVersionWarning``, several lines per
estimator) whenever it unpickles an estimator saved by another version, and
some files it cannot load at all (trees saved before 1.3 lack a node field;
``_PredictScorer`` was removed in 1.4). skprune turns the warnings into one
note and such failures into one refusal that names the saved version: the
fix is to run skprune where the model is served, with its scikit-learn.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import InputRefused
from .pickle_io import open_stream, sniff_compression

_VERSION_KEY = re.compile(rb"_sklearn_version.{0,200}?(\d+\.\d+(?:\.\d+)?(?:\.?(?:post|dev|rc|a|b)\d*)?)(?![\d.])",
                          re.DOTALL)
_SKLEARN_NAME = re.compile(r"\bsklearn(?:\.\w+)+")
_SCAN_LIMIT = 64 << 20  # bytes of a (decompressed) stream searched for the saved version


def installed() -> str:
    import sklearn

    return sklearn.__version__


@dataclass
class VersionGap:
    """Versions named by the version warnings raised while one file loaded."""

    saved: set[str] = field(default_factory=set)

    def notes(self) -> list[str]:
        other = sorted(self.saved - {installed()})
        if not other:
            return []
        return [f"saved with scikit-learn {', '.join(other)}, written by {installed()} — run skprune in the "
                "environment that serves the model to keep its version"]


_OLD_WARNING = re.compile(r"Trying to unpickle estimator \w+ from version (\S+) when using version")


def _saved_by(warning: warnings.WarningMessage) -> str | None:
    """The saved version a version warning names (scikit-learn < 1.3 raised a plain UserWarning)."""
    if warning.category.__name__ == "InconsistentVersionWarning":
        return str(getattr(warning.message, "original_sklearn_version", "")) or None
    match = _OLD_WARNING.search(str(warning.message))
    return match.group(1) if match else None


@contextlib.contextmanager
def loading(path: Path) -> Iterator[VersionGap]:
    """Collect version warnings while ``path`` loads (other warnings pass through); explain a
    refusal that the version gap caused."""
    gap = VersionGap()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield gap
        except InputRefused as exc:
            saved = {v for w in caught if (v := _saved_by(w))} or saved_versions(path)
            raise explain(exc, saved - {installed()}) from None
        finally:
            gap.saved.update(v for w in caught if (v := _saved_by(w)))
    for w in caught:
        if _saved_by(w) is None:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _missing(name: str) -> bool:
    """True if ``name`` (module.attr...) does not exist in the installed scikit-learn."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return True
        return False
    return True


def explain(exc: InputRefused, saved: set[str]) -> InputRefused:
    """The refusal, rewritten to name the saved version when that version is why it failed."""
    if not saved:
        return exc
    reason = exc.message
    missing = [name for name in _SKLEARN_NAME.findall(reason) if _missing(name)]
    if missing:
        cause = f"{', '.join(sorted(set(missing)))} no longer exists"
    elif "incompatible dtype" in reason:
        cause = "its trees' node arrays have another layout"
    elif "AttributeError" in reason or "No module named 'sklearn" in reason:
        cause = reason.split(" (", 1)[-1].rstrip(")")
    else:
        return exc
    versions = ", ".join(sorted(saved))
    return InputRefused(f"saved with scikit-learn {versions}, which the installed scikit-learn {installed()} cannot "
                        f"load ({cause}); run skprune in an environment with scikit-learn {versions}, "
                        "the one that serves the model", exc.path)


def saved_versions(path: Path) -> set[str]:
    """The ``_sklearn_version`` values recorded in a file, read without unpickling anything."""
    try:
        data = _stream(path)
    except Exception:  # noqa: BLE001 - a file we cannot even read records no version
        return set()
    return {m.group(1).decode() for m in _VERSION_KEY.finditer(data)}


def _stream(path: Path) -> bytes:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK"):
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("schema.json")
            if info.file_size > _SCAN_LIMIT:
                return b""
            return archive.read(info)
    with open(path, "rb") as handle:  # the codecs the pickle reader knows, sniffed the same way
        return open_stream(handle, sniff_compression(head)).read(_SCAN_LIMIT)
