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

from corpus import documents, labelled_documents  # noqa: E402

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


def text_lrcv() -> tuple[Any, Any]:
    from collections import Counter

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline

    docs, labels = labelled_documents(N_DOCS + 1500, lines_per_doc=80)
    top = {name for name, _ in Counter(labels).most_common(4)}
    y = np.array([label if label in top else "other" for label in labels])
    model = make_pipeline(TfidfVectorizer(), LogisticRegressionCV(Cs=5, cv=3, max_iter=300))
    model.fit(docs[:N_DOCS], y[:N_DOCS])
    return model, docs[N_DOCS:]


def _nb_bigram(lines_per_doc: int) -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    docs, labels = labelled_documents(N_DOCS + 1500, lines_per_doc=lines_per_doc)
    model = make_pipeline(CountVectorizer(ngram_range=(1, 2)), MultinomialNB())
    model.fit(docs[:N_DOCS], labels[:N_DOCS])
    return model, docs[N_DOCS:]


def nb_bigram() -> tuple[Any, Any]:
    """The issue's size: 213k terms, 23 classes, joblib xz9 2.47 MB (the issue's: 2.48 MB)."""
    return _nb_bigram(16)


def nb_bigram_large() -> tuple[Any, Any]:
    """Five times that: 872k terms, 68 classes, 1.5 GB as .skops (joblib xz9 11.8 MB)."""
    return _nb_bigram(80)


def _table(kind: str, n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification, make_regression

    if kind == "regression":
        X, y = make_regression(n_rows, 20, n_informative=12, noise=10.0, random_state=seed)
    else:
        X, y = make_classification(n_rows, 20, n_informative=10, n_classes=3, flip_y=0.2, random_state=seed)
    return X, y


def extra_trees() -> tuple[Any, Any]:
    from sklearn.ensemble import ExtraTreesRegressor

    X, y = _table("regression", 22000)
    return ExtraTreesRegressor(40, random_state=0, n_jobs=2).fit(X[:20000], y[:20000]), X[20000:]


def random_forest() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _table("classification", 32000)
    return RandomForestClassifier(100, random_state=0, n_jobs=2).fit(X[:30000], y[:30000]), X[30000:]


def gradient_boosting() -> tuple[Any, Any]:
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _table("regression", 12000, seed=1)
    return GradientBoostingRegressor(n_estimators=300, random_state=0).fit(X[:10000], y[:10000]), X[10000:]


def hist_gradient_boosting() -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _table("classification", 32000, seed=2)
    model = HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=0)
    return model.fit(X[:30000], y[:30000]), X[30000:]


def isolation_forest() -> tuple[Any, Any]:
    from sklearn.ensemble import IsolationForest

    X, _ = _table("regression", 22000, seed=4)
    return IsolationForest(n_estimators=200, random_state=0).fit(X[:20000]), X[20000:]


def mlp() -> tuple[Any, Any]:
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier

    X, y = make_classification(6000, 100, n_informative=40, n_classes=5, random_state=3)
    model = MLPClassifier((256, 256), max_iter=60, random_state=0).fit(X[:5000], y[:5000])
    return model, X[5000:]


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "text_svd": text_svd,
    "text_lrcv": text_lrcv,
    "nb_bigram": nb_bigram,
    "nb_bigram_large": nb_bigram_large,
    "extra_trees": extra_trees,
    "random_forest": random_forest,
    "gradient_boosting": gradient_boosting,
    "hist_gradient_boosting": hist_gradient_boosting,
    "isolation_forest": isolation_forest,
    "mlp": mlp,
}


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
