"""``[tool.skprune]`` in the nearest ``pyproject.toml``: a project's default options.

Found as ruff finds its settings: from the working directory upward, the
first ``pyproject.toml`` that has a ``[tool.skprune]`` table. Keys are named
like the long options (``label-tolerance`` or ``label_tolerance``); values are
checked here, so a typo or a wrong type is a usage error naming the key and
the file. Relative paths (``data``) are relative to that file. Command-line
flags win over the file (the CLI applies only keys whose flag was not given).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .formats import OUTPUT_FORMATS
from .options import COMPRESSION_NAMES, PRESET_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# key -> (the commands' parameter name, expected kind, allowed values)
KEYS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "preset": ("preset", "str", PRESET_NAMES),
    "cast": ("cast", "list", ()),
    "keep": ("keep", "list", ()),
    "exclude": ("exclude", "list", ()),
    "tolerance": ("tolerance", "float", ()),
    "label-tolerance": ("label_tolerance", "float", ()),
    "compression": ("compression", "str", COMPRESSION_NAMES),
    "zip": ("zip_", "bool", ()),
    "format": ("format_", "str", OUTPUT_FORMATS),
    "trust": ("trust", "list", ()),
    "max-size": ("max_size", "str", ()),
    "max-ratio": ("max_ratio", "float", ()),
    "drop-importances": ("drop_importances", "bool", ()),
    "no-check": ("no_check", "bool", ()),
    "data": ("data", "path", ()),
    "data-key": ("data_key", "str", ()),
    "data-field": ("data_field", "str", ()),
    "jobs": ("jobs", "int", ()),
    "top": ("top", "int", ()),
    "fail-above-savings": ("fail_above_savings", "float", ()),
}


@dataclass
class Config:
    """The options one ``pyproject.toml`` sets, by the commands' parameter names."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)


def find_pyproject(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest ``pyproject.toml`` at or above ``start`` with a ``[tool.skprune]`` table."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            document = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read it as TOML: {exc}", str(candidate)) from None
        table = document.get("tool", {}).get("skprune")
        if table is not None:
            if not isinstance(table, dict):
                raise UsageError("[tool.skprune] must be a table", str(candidate))
            return candidate, table
    return None


def _value(key: str, kind: str, choices: tuple[str, ...], value: Any, base: Path, where: str) -> Any:
    def wrong(expected: str) -> UsageError:
        return UsageError(f"[tool.skprune] {key} = {value!r}: expected {expected}", where)

    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise wrong("a positive whole number")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if kind == "list":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise wrong("a list of strings")
        return list(items)
    if not isinstance(value, str):
        raise wrong("a string")
    if choices and value not in choices:
        raise wrong(f"one of {', '.join(choices)}")
    if kind == "path":
        return base / value
    return value


def load_config(start: Path | None = None) -> Config:
    """The project's options (empty when no ``pyproject.toml`` above ``start`` has ``[tool.skprune]``)."""
    found = find_pyproject((start or Path.cwd()).resolve())
    if found is None:
        return Config()
    path, table = found
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("_", "-")
        if key not in KEYS:
            raise UsageError(f"[tool.skprune] unknown key {raw_key!r}; known keys: {', '.join(KEYS)}", str(path))
        name, kind, choices = KEYS[key]
        values[name] = _value(raw_key, kind, choices, value, path.parent, str(path))
    return Config(path, values)
