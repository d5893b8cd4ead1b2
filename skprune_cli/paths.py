"""How arrays are named: dotted paths shared by the object walker and the schema lister.

Attributes by name, list and object-array items by index, dict entries by key;
a list of ``(name, estimator, ...)`` tuples (Pipeline ``steps``,
ColumnTransformer ``transformers_``) by name, the estimator at ``NAME`` and
further tuple items at ``NAME~2``. Dots instead of brackets keep shell globs
(``--keep 'steps.svd.*'``) free of character classes.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Iterable, Sequence


def join(prefix: str, segment: str) -> str:
    return f"{prefix}.{segment}" if prefix else segment


def matches(path: str, patterns: Iterable[str], aliases: Iterable[str] = ()) -> str | None:
    """The first ``--keep``/``--exclude`` glob matching ``path`` or one of its aliases."""
    candidates = [path, *aliases]
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(p, pattern) for p in candidates):
            return pattern
    return None


def named_items(seq: Sequence[Any], name_of: Callable[[Any], str | None]) -> list[str] | None:
    """Names for a sequence of ``(name, estimator, ...)`` items, or None.

    ``name_of`` returns the item's name when the item is a tuple of at least
    two entries starting with a string. Names must be unique and must not look
    like indices, else positions are used so that paths stay unambiguous.
    """
    if not seq:
        return None
    names = [name_of(item) for item in seq]
    if any(n is None or n == "" or n.isdigit() or "." in n for n in names):
        return None
    if len(set(names)) != len(names):
        return None
    return names  # type: ignore[return-value]
