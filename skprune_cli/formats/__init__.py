"""Model files: which format a path holds, reading it safely, writing it atomically.

The output format follows the output's suffix: ``.skops``; ``.pkl`` /
``.pickle``; ``.pkl.gz``, ``.pkl.xz``, ``.pkl.bz2`` for compressed pickles;
``.joblib`` for ``joblib.dump`` files. Inputs are recognised by their content
whatever their name (``.sav``, ``.z``, none...): a skops archive, or a pickle or
joblib stream, plain or compressed. Only a pickle named ``.skops`` is refused
instead of being unpickled: it pretends to be the safe format.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputRefused, UsageError
from ..report import FileInfo
from .archive import Limits, human_size
from .atomic import atomic_write, check_target
from ..progress import step
from .compression import Policy
from .time_budget import best_budget, held_back_note

# Reading and writing models needs skops and scikit-learn (a second to import); listing a
# .skops archive does not, so those modules are imported where a model is actually loaded.

SKOPS_COMPRESSION = ("none", "deflate", "bzip2", "lzma", "best")
ZIP_DEFAULT = "auto"  # --zip: fast LZMA for big members, DEFLATE for the rest (compression.py)
PICKLE_SUFFIXES = {
    ".pkl": None, ".pickle": None,
    ".pkl.gz": "gzip", ".pickle.gz": "gzip",
    ".pkl.xz": "xz", ".pickle.xz": "xz", ".pkl.lzma": "xz",
    ".pkl.bz2": "bz2", ".pickle.bz2": "bz2",
}
PICKLE_BY_COMPRESSION = {"deflate": "gzip", "lzma": "xz", "bzip2": "bz2"}
OUTPUT_FORMATS = ("skops", "pkl", "pkl.gz", "pkl.xz", "pkl.bz2", "joblib")
OUTPUT_SUFFIXES = ", ".join(f".{f}" for f in OUTPUT_FORMATS[:-1]) + f" or .{OUTPUT_FORMATS[-1]}"


@dataclass(frozen=True)
class Target:
    """How a path is written: format plus compression (a skops method or a pickle codec)."""

    format: str  # "skops" | "pickle" | "joblib"
    compression: str  # skops and joblib: none/deflate/bzip2/lzma/best; pickle: none/gzip/xz/bz2
    best: bool = False  # pickles: the codec's strongest setting


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(PICKLE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def target_for(path: Path, zip: bool = False, compression: str | None = None) -> Target:
    """The output format and compression that a path and the options ask for."""
    suffix = _suffix(path)
    if suffix == ".skops":
        method = compression or (ZIP_DEFAULT if zip else "none")
        if method not in (*SKOPS_COMPRESSION, ZIP_DEFAULT):
            raise UsageError(f"--compression {method}: choose one of {', '.join(SKOPS_COMPRESSION)}")
        return Target("skops", method)
    if suffix == ".joblib":
        method = compression or ("deflate" if zip else "none")
        if method not in SKOPS_COMPRESSION:
            raise UsageError(f"--compression {method}: choose one of {', '.join(SKOPS_COMPRESSION)}")
        return Target("joblib", method)
    if suffix in PICKLE_SUFFIXES:
        codec = PICKLE_SUFFIXES[suffix]
        if compression not in (None, "none", "best", *PICKLE_BY_COMPRESSION):
            raise UsageError(f"--compression {compression}: choose one of {', '.join(SKOPS_COMPRESSION)}")
        if codec is None and (zip or compression not in (None, "none")):
            raise UsageError(
                f"{path}: a compressed pickle needs a name that says so, e.g. {path.name}.gz "
                "(.gz, .xz or .bz2), so that standard loaders know to decompress it"
            )
        if codec is not None and compression not in (None, "none", "best") and \
                PICKLE_BY_COMPRESSION.get(compression) != codec:
            raise UsageError(f"{path}: --compression {compression} contradicts the {suffix} suffix")
        return Target("pickle", codec or "none", best=compression == "best")
    raise UsageError(f"{path}: unknown output format; use {OUTPUT_SUFFIXES}")


def sniff(path: Path) -> str:
    """"skops", "pickle" (a pickle or joblib stream, maybe compressed) or "unknown", from the first bytes.

    Protocol 0 and 1 pickles have no magic bytes: "unknown" files are still tried as pickles.
    """
    from .pickle_io import foreign_container, sniff_compression

    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "skops"
    if sniff_compression(head) or foreign_container(head) or head[:1] == b"\x80":
        return "pickle"
    return "unknown"


def check_input(path: Path) -> None:
    """Missing files are usage errors; FIFOs, devices and folders are refused, never read."""
    if not path.exists():
        raise UsageError("no such file", str(path))
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise UsageError("is a directory, not a model file", str(path))
    if not stat.S_ISREG(mode):
        raise InputRefused("not a regular file (FIFO, socket or device); refusing to read it", str(path))


@dataclass
class Written:
    info: FileInfo
    trusted: list[str]  # types a skops reader must pass as trusted=
    best_saving: int = 0  # estimated bytes --compression best would save (plain --zip only)
    methods: dict[str, int] | None = None  # member count per compression method
    notes: list[str] = field(default_factory=list)  # best: members given a faster method by the time budget


@dataclass
class Loaded:
    model: Any
    info: FileInfo
    notes: list[str]


def read_model(path: Path, trust: Iterable[str] = (), limits: Limits = Limits()) -> Loaded:
    """Read a model file with the format's safety rules; refuse anything else.

    A file saved by another scikit-learn gets one note instead of its version warnings, and a
    refusal that the version gap caused names the saved version (versions.py)."""
    from .versions import loading

    check_input(Path(path))  # first: a refusal's explanation must not open a FIFO or device either
    with loading(Path(path)) as gap:
        loaded = _read_model(path, trust, limits)
    loaded.notes += gap.notes()
    return loaded


def _read_model(path: Path, trust: Iterable[str] = (), limits: Limits = Limits()) -> Loaded:
    from ..walk import graph
    from .pickle_io import read_pickle
    from .skops_io import read_skops
    from .tree_checks import validate_model
    from .trust import trust_notes

    path = Path(path)
    check_input(path)
    sniffed = sniff(path)
    suffix = _suffix(path)
    auto: list[str] = []
    if suffix == ".skops" and sniffed == "pickle":
        raise InputRefused("this .skops file is a pickle in disguise; refusing to unpickle it", str(path))
    if sniffed == "skops":
        (model, auto), fmt = read_skops(path, trust, limits), "skops"
    elif sniffed == "pickle" or suffix != ".skops":  # by content: .pkl, .joblib, .sav, .z, no suffix...
        model, fmt = read_pickle(path, trust, limits)
    else:
        raise InputRefused("neither a skops archive nor a pickle or joblib file", str(path))
    check_model_root(model, path)
    found = graph(model, into_foreign=True)
    held = sum(ref.nbytes for ref in found.arrays)
    if held > limits.max_size:
        raise InputRefused(f"the model holds {human_size(held)} of arrays, over the {human_size(limits.max_size)} "
                           "limit (raise it with --max-size if you trust the file)", str(path))
    notes = validate_model(found, str(path))
    notes += trust_notes(auto)
    notes += [f"{where or 'the root'} is a {cls}, not scikit-learn: left untouched (still checked as part of "
              "the whole model)" for where, cls in _outermost(found.foreign)]
    return Loaded(model, FileInfo(str(path), fmt, path.stat().st_size), notes)


def _outermost(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Foreign objects not nested inside another foreign object."""
    out: list[tuple[str, str]] = []
    for path, cls in found:
        if not any(path == p or path.startswith(p + ".") or p == "" for p, _ in out):
            out.append((path, cls))
    return out


def is_estimator(obj: Any) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "fit", None)) and hasattr(obj, "get_params")


def bundle_estimators(obj: Any) -> list[tuple[Any, Any]]:
    """Estimators held at the top of a dict/list/tuple "bundle" file, with their keys or indices."""
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        items = list(enumerate(obj))
    else:
        return []
    return [(k, v) for k, v in items if is_estimator(v)]


def check_model_root(model: Any, path: Path) -> None:
    if is_estimator(model) or bundle_estimators(model):
        return
    kind = type(model).__name__
    raise InputRefused(f"not a scikit-learn model: the file holds a {kind}", str(path))


def write_model(
    model: Any,
    path: Path,
    target: Target,
    *,
    force: bool = False,
    inputs: tuple[Path, ...] = (),
    estimate_best: bool = False,
    size_hint: int | None = None,
    started: float | None = None,
) -> Written:
    """Write atomically; with ``estimate_best``, a DEFLATE archive also says what ``best`` would save.

    ``started`` (a ``time.perf_counter()`` reading, default now) is when the job began: ``best``'s
    time budget counts the work since then as done by ``--zip`` too.
    """
    from .joblib_io import write_joblib
    from .pickle_io import write_pickle
    from .skops_io import write_skops

    path = Path(path)
    check_target(path, force, inputs)
    trusted: list[str] = []
    policy = Policy(target.compression, estimate=estimate_best, budget=best_budget(target.compression, started, size_hint))
    with atomic_write(path, force) as handle:
        if target.format == "skops":
            trusted = write_skops(model, handle, policy, size_hint)
        elif target.format == "joblib":
            with step("writing"):
                write_joblib(model, handle, target.compression)
        else:
            codec = None if target.compression == "none" else target.compression
            with step("writing"):
                write_pickle(model, handle, codec, level=9 if target.best else None)
    return Written(FileInfo(str(path), target.format, path.stat().st_size), trusted, policy.saving,
                   policy.chosen or None, held_back_note(policy.budget))


def load_command(path: Path, target: Target, trusted: list[str]) -> str:
    """The one-liner that loads the written file with the format's standard loader."""
    name = repr(str(path))
    if target.format == "skops":
        extra = f", trusted={trusted!r}" if trusted else ""
        return f'python -c "import skops.io as sio; model = sio.load({name}{extra})"'
    if target.format == "joblib":
        return f'python -c "import joblib; model = joblib.load({name})"'
    if target.compression == "none":
        return f'python -c "import pickle; model = pickle.load(open({name}, \'rb\'))"'
    module = {"gzip": "gzip", "xz": "lzma", "bz2": "bz2"}[target.compression]
    return f'python -c "import pickle, {module}; model = pickle.load({module}.open({name}))"'


__all__ = [
    "Limits", "Loaded", "Written", "Target", "target_for", "read_model", "write_model", "load_command",
    "check_target", "check_input", "is_estimator", "bundle_estimators", "sniff",
]
