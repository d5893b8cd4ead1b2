"""Report dataclasses: what the library returns and the CLI renders.

They hold plain values only, so ``to_dict`` gives the JSON document of the
command-line contract (``schema`` names its version) and ``render.py`` turns
the same objects into Rich tables.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

INSPECT_SCHEMA = "skprune.inspect/1"
SHRINK_SCHEMA = "skprune.shrink/1"
CHECK_SCHEMA = "skprune.check/1"
BATCH_SCHEMA = "skprune.batch/1"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:  # NaN is not valid JSON
        return None
    return value


class _Doc:
    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


@dataclass
class FileInfo:
    path: str
    format: str
    bytes: int


@dataclass
class ArrayEntry:
    """One array as it is now, and what the default rules would make of it."""

    path: str
    owner: str
    dtype: str
    shape: list[int]
    bytes: int
    share: float = 0.0
    dtype_after: str = ""
    bytes_after: int = 0
    note: str = ""

    @property
    def saving(self) -> int:
        return self.bytes - self.bytes_after


@dataclass
class InspectReport(_Doc):
    model: FileInfo | None
    root: str
    arrays: list[ArrayEntry]
    total_arrays: int
    total_bytes: int
    total_bytes_after: int
    preset: str
    schema_bytes: int | None = None  # a .skops archive's schema.json (parameters, vocabularies)
    config: str | None = None  # the pyproject.toml whose [tool.skprune] was applied
    schema: str = INSPECT_SCHEMA


@dataclass
class ArrayChange:
    """One array before and after shrinking, and why it ended up so."""

    path: str
    owner: str
    shape: list[int]
    dtype_before: str
    dtype_after: str
    bytes_before: int
    bytes_after: int
    action: str  # "cast" | "exact" | "kept" | "held back" | "rounded" | ...
    reason: str = ""


@dataclass
class Transformed:
    """A whole attribute changed without changing what it means (e.g. numpy ints to Python ints)."""

    path: str
    owner: str
    effect: str
    detail: str
    reason: str


@dataclass
class Dropped:
    path: str
    owner: str
    bytes: int
    reason: str


@dataclass
class MethodCheck:
    method: str
    status: str  # "ok" | "mismatch" | "error" | "skipped"
    labels_equal: bool | None = None
    label_agreement: float | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    new_nonfinite: int = 0
    error: str = ""


@dataclass
class CheckReport(_Doc):
    passed: bool
    tolerance: float
    rows: int
    data_source: str
    methods: list[MethodCheck] = field(default_factory=list)
    original: FileInfo | None = None
    pruned: FileInfo | None = None
    config: str | None = None
    schema: str = CHECK_SCHEMA


@dataclass
class ShrinkReport(_Doc):
    input: FileInfo
    output: FileInfo | None
    dry_run: bool
    preset: str
    casts: list[str]
    arrays: list[ArrayChange]
    dropped: list[Dropped]
    memory_bytes_before: int
    memory_bytes_after: int
    disk_ratio: float | None
    load_command: str
    trusted_types: list[str] = field(default_factory=list)
    transformed: list[Transformed] = field(default_factory=list)
    check: CheckReport | None = None
    compression: str = "none"
    compression_members: dict[str, int] | None = None  # archive members per method
    best_saving_estimate: int | None = None  # bytes --compression best would save (estimated)
    notes: list[str] = field(default_factory=list)
    config: str | None = None
    format_advice: Any = None  # formats.advice.FormatAdvice: the output grew, or another format is far smaller
    schema: str = SHRINK_SCHEMA
