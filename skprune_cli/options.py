"""What a run was asked to do, as one validated, typed object per stage.

``load`` (trust, limits) -> ``prune`` (preset, casts, keep, exclude, tolerance...)
-> ``data`` (inputs for the check) -> ``write`` (output, format, compression...).
The API, the CLI, the project configuration and ``inspect`` all build these,
so a new option is a field here plus its flag in ``cli.py``. Every object
checks its own values when built: a bad ``tolerance`` given to ``prune()`` is a
:class:`UsageError` naming the parameter, not a crash deep inside the check.
Messages name parameters (``tolerance``), not flags: the library has no flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from .errors import UsageError
from .formats.archive import Limits
from .rules import CastRule, rule_table

DEFAULT_TOLERANCE = 1e-3
PRESET_NAMES = ("auto", "exact", "float32", "float16")
COMPRESSION_NAMES = ("none", "deflate", "lzma", "bzip2", "best")
SEARCH_MARGIN = 0.5  # probes are not real rows: a lossy cast must pass at this fraction of the tolerance


def _strings(name: str, value: Any) -> tuple[str, ...]:
    """A tuple of strings from a list, a tuple or one string (a common slip: ``keep="coef_"``)."""
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return (str(value),)
    try:
        items = tuple(value)
    except TypeError:
        raise UsageError(f"{name} must be a list of strings, not {type(value).__name__}") from None
    for item in items:
        if not isinstance(item, (str, CastRule)):
            raise UsageError(f"{name} must hold strings; got {item!r}")
    return items  # type: ignore[return-value]


def check_tolerances(tolerance: Any, label_tolerance: Any) -> tuple[float, float]:
    """Both tolerances as floats, or a UsageError that names the bad one."""
    for name, value in (("tolerance", tolerance), ("label_tolerance", label_tolerance)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"{name}={value!r}: expected a finite number")
    if tolerance < 0:
        raise UsageError(f"tolerance={tolerance!r}: must be >= 0 (a relative error, e.g. 1e-3)")
    if not 0 <= label_tolerance <= 1:
        raise UsageError(f"label_tolerance={label_tolerance!r}: must be a fraction within 0..1")
    return float(tolerance), float(label_tolerance)


def check_gate(fail_above: float | None) -> None:
    """The CI gate's threshold is a fraction of the input's size on disk."""
    if fail_above is not None and not 0 <= fail_above < 1:
        raise UsageError(f"fail_above_savings={fail_above!r}: must be a fraction within 0..1 (e.g. 0.2)")


@dataclass(frozen=True)
class LoadOptions:
    """Reading a file: which extra types to trust, how far it may expand."""

    trust: tuple[str, ...] = ()
    limits: Limits = Limits()

    def __post_init__(self) -> None:
        object.__setattr__(self, "trust", _strings("trust", self.trust))
        if not isinstance(self.limits, Limits):
            raise UsageError(f"limits must be a Limits, not {type(self.limits).__name__}")


@dataclass
class ObjectOptions:
    """What the estimator registry may remove or rewrite on whole objects."""

    keep: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    drop_training: bool = True
    drop_importances: bool = False
    importance_tolerance: float = DEFAULT_TOLERANCE


# a model whose castable arrays hold less than this is not worth a lossy cast: float16 would save at
# most 24 KB and could break it (a 10 KB calibration model once got NaN for 4.5 KB); --cast forces
MIN_LOSSY_BYTES = 32 * 1024


@dataclass
class PruneOptions:
    """Everything that shapes a prune, shared by the API, the CLI and ``inspect``.

    ``auto`` (the default) means float16 where the check passes, else float32,
    else unchanged; without a check it means float32. ``casts`` may be given
    as strings (``"float64=float16"``); they are parsed here.
    """

    preset: str = "auto"
    casts: tuple[CastRule, ...] = ()
    keep: tuple[str, ...] = ()
    lossless: bool = True
    check: bool = True
    tolerance: float = DEFAULT_TOLERANCE
    label_tolerance: float = 0.0
    exclude: tuple[str, ...] = ()
    drop_training: bool = True
    drop_importances: bool = False
    min_lossy_bytes: int | None = None  # None: MIN_LOSSY_BYTES, or 0 when lossy casts are asked for

    def __post_init__(self) -> None:
        if self.preset not in PRESET_NAMES:
            raise UsageError(f"preset={self.preset!r}: choose one of {', '.join(PRESET_NAMES)}")
        self.casts = tuple(c if isinstance(c, CastRule) else CastRule.parse(c) for c in _strings("cast", self.casts))
        self.keep = _strings("keep", self.keep)
        self.exclude = _strings("exclude", self.exclude)
        self.tolerance, self.label_tolerance = check_tolerances(self.tolerance, self.label_tolerance)
        if self.min_lossy_bytes is None:  # explicit casts or presets are the user asking for lossy casts
            explicit = bool(self.casts) or self.preset in ("float16", "float32")
            self.min_lossy_bytes = 0 if explicit else MIN_LOSSY_BYTES

    @classmethod
    def build(cls, preset: str = "auto", cast: Iterable[str | CastRule] = (), keep: Iterable[str] = (),
              **extra: Any) -> "PruneOptions":
        return cls(preset=preset, casts=cast, keep=keep, **extra)  # type: ignore[arg-type]

    def objects(self) -> ObjectOptions:
        return ObjectOptions(keep=self.keep, exclude=self.exclude, drop_training=self.drop_training,
                             drop_importances=self.drop_importances,
                             # no margin: the rounding measures feature_importances_ itself, exactly, not on probes
                             importance_tolerance=self.tolerance)

    @property
    def effective_preset(self) -> str:
        if self.preset == "auto":
            return "float16" if self.check else "float32"
        return self.preset

    def table(self) -> dict:
        return rule_table(self.effective_preset, self.casts)


@dataclass(frozen=True)
class DataOptions:
    """Where the check's inputs come from: a file (``.npy``, ``.npz``, ``.csv``, ``.txt``, ``.jsonl``) or probes."""

    data: Path | None = None
    data_key: str | None = None
    data_field: str | None = None

    def __post_init__(self) -> None:
        if self.data is not None:
            object.__setattr__(self, "data", Path(self.data))


@dataclass(frozen=True)
class CheckOptions:
    """How close the pruned model's outputs must stay (the ``check`` command)."""

    tolerance: float = DEFAULT_TOLERANCE
    label_tolerance: float = 0.0

    def __post_init__(self) -> None:
        tol, labels = check_tolerances(self.tolerance, self.label_tolerance)
        object.__setattr__(self, "tolerance", tol)
        object.__setattr__(self, "label_tolerance", labels)


@dataclass(frozen=True)
class WriteOptions:
    """Where and how the result is written. ``output`` may be None only for a dry run."""

    output: Path | None = None
    zip: bool = False
    compression: str | None = None
    force: bool = False
    dry_run: bool = False
    measure: bool = False  # dry run that writes to a temporary file to learn the size on disk
    stream: bool | None = None  # forests: tree by tree, archive to archive (None: when it pays; streaming.py)

    def __post_init__(self) -> None:
        if self.output is not None:
            object.__setattr__(self, "output", Path(self.output))
        if self.compression is not None and self.compression not in COMPRESSION_NAMES:
            raise UsageError(f"compression={self.compression!r}: choose one of {', '.join(COMPRESSION_NAMES)}")


STAGES: dict[str, type] = {"load": LoadOptions, "prune": PruneOptions, "data": DataOptions, "write": WriteOptions}
# flat names the API and the CLI use that differ from a stage's field name
ALIASES = {"cast": "casts"}


def split_flat(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Sort flat keyword options (``preset=..., output=...``) into their stages; unknown names are refused."""
    owners = {f.name: stage for stage, cls in STAGES.items() for f in fields(cls)}
    owners.pop("check", None)
    staged: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    for name, value in options.items():
        if name == "check":  # whether to verify at all belongs to pruning
            staged["prune"]["check"] = value
            continue
        key = ALIASES.get(name, name)
        if key not in owners:
            raise UsageError(f"unknown option {name!r}")
        staged[owners[key]][key] = value
    return staged


@dataclass
class RunOptions:
    """One stage object each: what ``shrink`` gets besides the input path."""

    load: LoadOptions = field(default_factory=LoadOptions)
    prune: PruneOptions = field(default_factory=PruneOptions)
    data: DataOptions = field(default_factory=DataOptions)
    write: WriteOptions = field(default_factory=WriteOptions)

    @classmethod
    def from_flat(cls, **options: Any) -> "RunOptions":
        staged = split_flat(options)
        return cls(**{stage: STAGES[stage](**values) for stage, values in staged.items()})
