"""Everything that shapes a prune, as one value shared by the API, the CLI and inspect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .errors import UsageError
from .rules import CastRule, rule_table

DEFAULT_TOLERANCE = 1e-3

@dataclass
class ObjectOptions:
    keep: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    drop_training: bool = True
    drop_importances: bool = False
    importance_tolerance: float = 5e-4


PRESET_NAMES = ("auto", "exact", "float32", "float16")
SEARCH_MARGIN = 0.5  # probes are not real rows: a lossy cast must pass at this fraction of the tolerance
# a model whose castable arrays hold less than this is not worth a lossy cast: float16 would save at
# most 24 KB and could break it (a 10 KB calibration model once got NaN for 4.5 KB); --cast forces
MIN_LOSSY_BYTES = 32 * 1024


@dataclass
class PruneOptions:
    """Everything that shapes a prune, shared by the API and the CLI.

    ``auto`` (the default) means float16 where the check passes, else float32,
    else unchanged; without a check it means float32.
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
    min_lossy_bytes: int = MIN_LOSSY_BYTES

    @classmethod
    def build(
        cls,
        preset: str = "auto",
        cast: Iterable[str | CastRule] = (),
        keep: Iterable[str] = (),
        **extra: Any,
    ) -> "PruneOptions":
        if preset not in PRESET_NAMES:
            raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESET_NAMES)}")
        rules = tuple(c if isinstance(c, CastRule) else CastRule.parse(c) for c in cast)
        if "exclude" in extra:
            extra["exclude"] = tuple(extra["exclude"])
        if (rules or preset in ("float16", "float32")) and "min_lossy_bytes" not in extra:
            extra["min_lossy_bytes"] = 0  # the user asked for lossy casts explicitly
        return cls(preset=preset, casts=rules, keep=tuple(keep), **extra)

    def objects(self) -> ObjectOptions:
        return ObjectOptions(keep=self.keep, exclude=self.exclude, drop_training=self.drop_training,
                             drop_importances=self.drop_importances,
                             importance_tolerance=self.tolerance * SEARCH_MARGIN)

    @property
    def effective_preset(self) -> str:
        if self.preset == "auto":
            return "float16" if self.check else "float32"
        return self.preset

    def table(self) -> dict:
        return rule_table(self.effective_preset, self.casts)
