"""Traversal of a fitted object graph down to every numeric array.

Paths follow ``paths.py`` (``steps.svd.components_``,
``estimators_.3.tree_.nodes``); the schema lister in
``formats/schema_inspect.py`` applies the same rules to a ``.skops`` archive,
so ``inspect`` and ``shrink`` report identical paths.

An array reachable from several places (KNN's ``_fit_X`` is also the KD-tree's
data) is reported once, at its first path, with every slot that holds it: a
replacement must update all of them or none.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import scipy.sparse as sp

from .paths import join, named_items

_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), np.generic, range, slice)
_SKIP = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    np.ufunc,
    np.dtype,
    set,
    frozenset,
)


def _name_of(item: Any) -> str | None:
    if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], str):
        return item[0]
    return None


class Slot:
    """A place that holds a value: an attribute, a list/dict item, a tuple item.

    Tuples are immutable, so a tuple slot rebuilds its tuple and stores it in
    the tuple's own slot. Read-only slots live inside compiled objects (a
    ``Tree``'s or ``KDTree``'s state) whose arrays can be changed in place but
    not replaced.
    """

    __slots__ = ("container", "key", "kind", "parent")

    def __init__(self, container: Any, key: Any, kind: str, parent: "Slot | None" = None) -> None:
        self.container = container
        self.key = key
        self.kind = kind  # "attr" | "item" | "tuple" | "state"
        self.parent = parent

    @property
    def writable(self) -> bool:
        if self.kind == "state":
            return False
        if self.kind == "tuple":
            return self.parent is not None and self.parent.writable
        return True

    def _current_container(self) -> Any:
        if self.kind == "tuple" and self.parent is not None:
            return self.parent.get()
        return self.container

    def get(self) -> Any:
        box = self._current_container()
        if self.kind == "attr":
            return getattr(box, self.key)
        return box[self.key]

    def set(self, value: Any) -> None:
        if self.kind == "attr":
            setattr(self.container, self.key, value)
        elif self.kind == "item":
            self.container[self.key] = value
        elif self.kind == "tuple" and self.parent is not None:
            box = self.parent.get()
            items = list(box)
            items[self.key] = value
            rebuilt = type(box)(*items) if hasattr(box, "_fields") else type(box)(items)
            self.parent.set(rebuilt)
        else:
            raise TypeError("this array lives inside a compiled object and cannot be replaced")

    def delete(self) -> None:
        if self.kind == "attr":
            delattr(self.container, self.key)
        elif self.kind == "item" and isinstance(self.container, dict):
            del self.container[self.key]
        else:
            raise TypeError("only attributes and dict entries can be removed")


@dataclass
class ArrayRef:
    """One distinct array (or sparse matrix) and everywhere it is held."""

    path: str
    array: Any
    owner: Any
    attr: str
    slots: list[Slot] = field(default_factory=list)
    alias_paths: list[str] = field(default_factory=list)

    @property
    def owner_class(self) -> str:
        return type(self.owner).__name__

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.array)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.array.shape)

    @property
    def nbytes(self) -> int:
        return array_nbytes(self.array)

    @property
    def replaceable(self) -> bool:
        return bool(self.slots) and all(s.writable for s in self.slots)

    def values(self) -> np.ndarray:
        """The numeric payload: the array itself, or a sparse matrix's data."""
        return self.array.data if self.is_sparse else self.array

    def assign(self, new_values: np.ndarray) -> None:
        """Replace the payload where possible; otherwise overwrite it in place (same dtype)."""
        if self.replaceable or self.is_sparse:
            self.replace(new_values)
            return
        payload = self.values()
        if new_values.dtype != payload.dtype or new_values.shape != payload.shape:
            raise TypeError(f"{self.path} lives inside a compiled object: only same-dtype values can be written")
        if new_values is not payload:
            np.copyto(payload, new_values)

    def replace(self, new_values: np.ndarray) -> None:
        """Swap the numeric payload everywhere this array is held."""
        if self.is_sparse:
            self.array.data = new_values
            return
        for slot in self.slots:
            slot.set(new_values)
        self.array = new_values


def array_nbytes(obj: Any) -> int:
    if sp.issparse(obj):
        total = 0
        for name in ("data", "indices", "indptr", "row", "col", "offsets"):
            part = getattr(obj, name, None)
            if isinstance(part, np.ndarray):
                total += part.nbytes
        return total
    return int(obj.nbytes)


def is_numeric_array(obj: Any) -> bool:
    return (isinstance(obj, np.ndarray) and obj.dtype != object) or sp.issparse(obj)


def _compiled_state(obj: Any) -> Any:
    """State of an extension object (``Tree``, ``KDTree``) as pickle sees it."""
    getstate = getattr(type(obj), "__getstate__", None)
    if getstate is None or getstate is object.__getstate__:
        return None
    try:
        state = obj.__getstate__()
    except Exception:  # noqa: BLE001 - an object we cannot look into holds no arrays we can use
        return None
    return state if isinstance(state, (dict, tuple)) else None


@dataclass
class _Frame:
    value: Any
    path: str
    owner: Any
    attr: str
    slot: Slot | None


@dataclass
class Graph:
    """What a traversal found: the arrays, every Python object whose attributes it read, and
    every compiled object (``Tree``, ``KDTree``) whose pickled state it read."""

    arrays: list[ArrayRef]
    owners: list[tuple[str, Any]]
    compiled: list[tuple[str, Any]]
    foreign: list[tuple[str, str]] = field(default_factory=list)  # (path, class) of outside objects


# Objects of other packages (xgboost, a user's own classes) are left untouched: nothing inside
# them is cast or dropped. The standard library's plain containers are walked as before.
_OWN = frozenset({"sklearn", "numpy", "scipy"})


def foreign_class(value: Any) -> str | None:
    """``module.Class`` of an object from outside scikit-learn, numpy, scipy and the stdlib."""
    module = getattr(type(value), "__module__", "") or ""
    top = module.split(".", 1)[0]
    if top in _OWN or top in sys.stdlib_module_names or top == "builtins":
        return None
    return f"{module}.{type(value).__qualname__}"


def walk(root: Any) -> list[ArrayRef]:
    """Every distinct numeric array reachable from ``root``, in stable order."""
    return graph(root).arrays


def graph(root: Any, *, into_foreign: bool = False) -> Graph:
    """The arrays, objects and compiled objects under ``root``; only ``into_foreign`` (the
    safety checks) looks inside objects of other packages."""
    refs: dict[int, ArrayRef] = {}
    order: list[ArrayRef] = []
    owners: list[tuple[str, Any]] = []
    compiled: list[tuple[str, Any]] = []
    foreign: list[tuple[str, str]] = []
    seen: set[int] = set()
    stack: list[_Frame] = [_Frame(root, "", root, "", None)]
    keep_alive: list[Any] = []  # state tuples/dicts built on the fly must outlive id() checks
    while stack:
        frame = stack.pop()
        value = frame.value
        if isinstance(value, _ATOMS) or isinstance(value, _SKIP):
            continue
        if is_numeric_array(value):
            ref = refs.get(id(value))
            if ref is None:
                ref = ArrayRef(frame.path, value, frame.owner, frame.attr)
                refs[id(value)] = ref
                order.append(ref)
            elif frame.path not in ref.alias_paths and frame.path != ref.path:
                ref.alias_paths.append(frame.path)
            if frame.slot is not None:
                ref.slots.append(frame.slot)
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        outside = foreign_class(value) if not isinstance(value, (dict, list, tuple, np.ndarray)) else None
        if outside is not None:
            foreign.append((frame.path, outside))
            if not into_foreign:
                continue
        if getattr(value, "__dict__", None):
            owners.append((frame.path, value))
        elif not isinstance(value, (dict, list, tuple, np.ndarray)):
            compiled.append((frame.path, value))
        children = list(_children(value, frame, keep_alive))
        stack.extend(reversed(children))
    return Graph(order, owners, compiled, foreign)


def _children(value: Any, frame: _Frame, keep_alive: list[Any]) -> Iterator[_Frame]:
    path, owner, attr = frame.path, frame.owner, frame.attr
    if isinstance(value, np.ndarray):  # object array: descend into items
        for index in np.ndindex(value.shape):
            seg = ".".join(str(i) for i in index)
            yield _Frame(value[index], join(path, seg), owner, attr, Slot(value, index, "item"))
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(item, _ATOMS):  # skipped anyway: a 213k-term vocabulary builds no frames (2.3 -> 0.3 s)
                yield _Frame(item, join(path, str(key)), owner, attr or str(key), Slot(value, key, "item"))
        return
    if isinstance(value, (list, tuple)):
        kind = "tuple" if isinstance(value, tuple) else "item"
        names = named_items(value, _name_of)
        for i, item in enumerate(value):
            slot = Slot(value, i, kind, frame.slot if kind == "tuple" else None)
            if names is None:
                yield _Frame(item, join(path, str(i)), owner, attr, slot)
                continue
            base = join(path, names[i])
            for j, part in enumerate(item[1:], start=1):
                sub = Slot(item, j, "tuple", slot)
                yield _Frame(part, base if j == 1 else f"{base}~{j}", owner, attr, sub)
        return
    attrs = getattr(value, "__dict__", None)
    if attrs:
        for key, item in list(attrs.items()):
            yield _Frame(item, join(path, key), value, key, Slot(value, key, "attr"))
        return
    state = _compiled_state(value)
    if state is None:
        return
    keep_alive.append(state)
    items = state.items() if isinstance(state, dict) else enumerate(state)
    for key, item in items:
        yield _Frame(item, join(path, str(key)), value, str(key), Slot(state, key, "state"))
