"""``import skprune``: the same module object as ``skprune_cli``, under the name users expect.

Packaging: the design fixes the top-level folders, so this package lives in
``skprune_cli/_alias/skprune/`` and pyproject.toml's ``packages.find`` also
searches ``skprune_cli/_alias`` (a folder without ``__init__.py``, so it is not
part of ``skprune_cli`` itself); setuptools then installs it as the top-level
package ``skprune``, for ``pip install .`` and ``pip install -e .`` alike.

Nothing is copied: ``sys.modules["skprune"]`` *is* ``skprune_cli``, and
``skprune.<sub>`` resolves to the already imported ``skprune_cli.<sub>``, so
both names share one set of classes (``except skprune.UsageError`` catches what
``skprune_cli`` raises, and reports are the same dataclasses).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

import skprune_cli

_PREFIX = __name__ + "."


class _SubmoduleAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Maps ``skprune.x.y`` to the module object ``skprune_cli.x.y``."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if not name.startswith(_PREFIX):
            return None
        real = "skprune_cli." + name[len(_PREFIX):]
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(name, self)

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module("skprune_cli." + spec.name[len(_PREFIX):])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import machinery set __spec__ to the alias's; give the real module its own back
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)  # type: ignore[union-attr]


if not any(isinstance(f, _SubmoduleAlias) for f in sys.meta_path):
    sys.meta_path.insert(0, _SubmoduleAlias())
sys.modules[__name__] = skprune_cli
