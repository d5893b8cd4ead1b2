"""The "too big" models users complain about, built from local data and cached.

Each builder returns ``(model, held_out)``: the fitted model and inputs it
never saw, for fidelity figures. Fitted models are cached under
``tests/benchmarks/.cache`` (pickles of this machine's versions) so repeated
benchmark runs skip the fitting.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
sys.path.insert(0, str(HERE.parent))

from corpus import documents  # noqa: E402

N_DOCS = 11314  # the size of the classic 20-newsgroups training set


def text_docs() -> tuple[list[str], list[str]]:
    docs = documents(N_DOCS + 1500, lines_per_doc=80)
    return docs[:N_DOCS], docs[N_DOCS:]


def text_svd() -> tuple[Any, Any]:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    train, test = text_docs()
    model = make_pipeline(TfidfVectorizer(), TruncatedSVD(300, random_state=0)).fit(train)
    return model, test


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {"text_svd": text_svd}


def build(name: str) -> tuple[Any, Any]:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name}.pkl"
    if path.exists():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    built = BUILDERS[name]()
    with open(path, "wb") as handle:
        pickle.dump(built, handle, protocol=5)
    return built


def naive_float16(model: Any) -> Any:
    """The original idea: every float array in every ``__dict__`` becomes float16."""
    seen: set[int] = set()

    def visit(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.astype(np.float16) if obj.dtype.kind == "f" else obj
        if id(obj) in seen:
            return obj
        seen.add(id(obj))
        if isinstance(obj, list):
            obj[:] = [visit(v) for v in obj]
        elif isinstance(obj, tuple):
            return type(obj)(visit(v) for v in obj) if not hasattr(obj, "_fields") else obj
        elif isinstance(obj, dict):
            for k in list(obj):
                obj[k] = visit(obj[k])
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            for k, v in list(vars(obj).items()):
                setattr(obj, k, visit(v))
        return obj

    return visit(model)
