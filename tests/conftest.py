"""Small fitted models and helpers shared by the tests (fitted here, never loaded from disk)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from corpus import documents  # noqa: E402

TREE = "sklearn.tree._tree.Tree"


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def docs() -> list[str]:
    return documents(400, lines_per_doc=30)


@pytest.fixture()
def logreg(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    X, y = iris
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


@pytest.fixture()
def svc_pipe(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    X, y = iris
    return make_pipeline(StandardScaler(), SVC()).fit(X, y)


@pytest.fixture()
def forest(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    X, y = iris
    return RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)


@pytest.fixture()
def text_svd(docs: list[str]) -> Any:
    return make_pipeline(TfidfVectorizer(min_df=2, max_features=1500), TruncatedSVD(20, random_state=0)).fit(docs)


@pytest.fixture()
def text_nb(docs: list[str]) -> Any:
    y = np.arange(len(docs)) % 3
    return make_pipeline(CountVectorizer(min_df=2, max_features=1500), MultinomialNB()).fit(docs, y)


def save(model: Any, path: Path) -> Path:
    if path.suffix == ".skops":
        sio.dump(model, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(model, handle, protocol=5)
    return path


def load_plain(path: Path, trusted: list[str] | None = None) -> Any:
    """Load with the format's standard loader only, as a user without skprune would."""
    if path.suffix == ".skops":
        return sio.load(path, trusted=trusted)
    with open(path, "rb") as handle:
        return pickle.load(handle)


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()
