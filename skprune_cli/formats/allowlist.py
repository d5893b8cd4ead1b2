"""Which pickle globals may be resolved: an allowlist, judged on the resolved object.

A pickle can call any global it names, so a name is accepted only when the
object it resolves to is harmless to construct or call with arbitrary
arguments: array and dtype constructors, numpy and scipy ufuncs, scikit-learn
classes from estimator modules, Cython unpickle helpers, a few pure numeric
functions. Judging the resolved object (not the spelling) defeats re-exports
and dotted lookups such as ``sklearn.utils.fixes.os.system``.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import sys
import types
from functools import lru_cache
from typing import Any

import numpy as np

# Exact (module, name) pairs outside numpy/scipy/sklearn that pickles of models use.
BUILTIN_NAMES = {
    ("builtins", n)
    for n in ("object", "set", "frozenset", "list", "dict", "tuple", "slice", "complex",
              "bytearray", "bytes", "int", "float", "bool", "str", "range")
}
EXACT = BUILTIN_NAMES | {
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("copyreg", "__newobj_ex__"),
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "Counter"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "timedelta"),
}
PACKAGES = ("numpy", "scipy", "sklearn")

NUMPY_FUNCTIONS = {
    "mean", "median", "average", "sum", "prod", "max", "min", "amax", "amin", "std", "var",
    "nanmean", "nanmedian", "nanstd", "nanvar", "nansum", "nanmax", "nanmin", "percentile",
    "quantile", "nanpercentile", "nanquantile", "asarray", "array", "ptp", "argmax", "argmin",
}
NUMPY_HELPERS = {
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.ma.core", "_mareconstruct"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
}
ARRAY_API_FUNCTIONS = {"asarray"}
SCIPY_CLASS_MODULES = ("scipy.sparse", "scipy.interpolate", "scipy.stats")
# scikit-learn modules beyond those that define a public estimator whose
# classes are safe internal state (losses, trees, scorers, CV splitters, kernels).
SKLEARN_INTERNAL_MODULES = (
    "sklearn._loss",
    "sklearn.tree._tree",
    "sklearn.tree._criterion",
    "sklearn.tree._splitter",
    "sklearn.ensemble._hist_gradient_boosting",
    "sklearn.neighbors",
    "sklearn.metrics",
    "sklearn.model_selection._split",
    "sklearn.gaussian_process.kernels",
    "sklearn.utils._bunch",
    "sklearn.utils._metadata_requests",
    "sklearn.linear_model._sgd_fast",
    "sklearn.svm",
    "sklearn.cluster",
    "sklearn.calibration",
    "sklearn.multiclass",
    "sklearn.neural_network",
)
SKLEARN_FUNCTION_MODULES = (
    "sklearn.metrics",
    "sklearn.feature_selection",
    "sklearn.cluster",
    "sklearn.preprocessing",
    "sklearn.gaussian_process.kernels",
)


class Refused(Exception):
    """A global that the allowlist does not cover."""


@lru_cache(maxsize=1)
def _estimator_modules() -> frozenset[str]:
    from sklearn.utils import all_estimators

    return frozenset(cls.__module__ for _, cls in all_estimators())


IGNORED_PARTS = {"tests", "externals", "setup", "conftest", "estimator_checks"}  # as all_estimators skips them


def _public_estimator(obj: type, home: str) -> bool:
    """A public estimator class, exported by its public package: what ``all_estimators`` lists, decided
    without importing every scikit-learn module (seconds) just to read one model."""
    from sklearn.base import BaseEstimator

    if not issubclass(obj, BaseEstimator) or obj.__name__.startswith("_"):
        return False
    parts = []
    for part in home.split("."):
        if part.startswith("_"):
            break
        parts.append(part)
    if IGNORED_PARTS.intersection(parts):
        return False
    package = sys.modules.get(".".join(parts))
    return package is not None and getattr(package, obj.__name__, None) is obj


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _is_dunder(part: str) -> bool:
    return part.startswith("__") and part.endswith("__")


def _resolve(module: str, name: str) -> Any:
    if module not in sys.modules:
        importlib.import_module(module)
    obj: Any = sys.modules[module]
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _numpy_ok(module: str, name: str, obj: Any) -> bool:
    if (module, name) in NUMPY_HELPERS:
        return True
    if isinstance(obj, np.ufunc):
        return True
    if isinstance(obj, type):
        if issubclass(obj, np.memmap):
            return False
        return issubclass(obj, (np.generic, np.ndarray, np.dtype, np.random.BitGenerator,
                                np.random.RandomState, np.random.Generator, np.random.SeedSequence))
    if module == "numpy.random.bit_generator" and name.startswith("__pyx_unpickle_"):
        return True
    return module == "numpy" and name in NUMPY_FUNCTIONS


def _scipy_ok(module: str, name: str, obj: Any) -> bool:
    if isinstance(obj, np.ufunc) or type(obj).__name__ == "ufunc_wrapper":
        return True
    if isinstance(obj, type):
        return _under(obj.__module__, SCIPY_CLASS_MODULES)
    return module.startswith("scipy._lib.array_api_compat") and name in ARRAY_API_FUNCTIONS


def _sklearn_ok(module: str, name: str, obj: Any) -> bool:
    home = getattr(obj, "__module__", None) or module
    if not home.startswith("sklearn."):
        return False
    if isinstance(obj, type):
        return (_under(home, SKLEARN_INTERNAL_MODULES) or _public_estimator(obj, home)
                or home in _estimator_modules())
    if name.startswith("__pyx_unpickle_") or name == "newObj":
        return True
    if isinstance(obj, types.FunctionType):
        return _under(home, SKLEARN_FUNCTION_MODULES)
    if module.startswith("sklearn.externals.array_api_compat"):
        return name in ARRAY_API_FUNCTIONS
    return False


def check_global(module: str, name: str, trusted: frozenset[str] = frozenset()) -> Any:
    """Resolve ``module.name`` if allowed (or trusted by the user), else raise ``Refused``."""
    # Python 2 names, as protocol 0-2 pickles spell them (``copy_reg``, ``__builtin__``): mapped as
    # pickle's own find_class does, then judged like any other name.
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    full = f"{module}.{name}"
    if full in trusted or (module, name) in EXACT:
        return _resolve(module, name)
    top = module.split(".", 1)[0]
    if top not in PACKAGES or any(_is_dunder(part) for part in name.split(".")):
        raise Refused(full)
    try:
        obj = _resolve(module, name)
    except (ImportError, AttributeError, ValueError):
        raise Refused(full) from None
    if isinstance(obj, types.ModuleType):
        raise Refused(full)
    judge = {"numpy": _numpy_ok, "scipy": _scipy_ok, "sklearn": _sklearn_ok}[top]
    if not judge(module, name, obj):
        raise Refused(full)
    return obj
