"""Documents that look like text to a fitted vectoriser.

Real documents use frequent terms often and rare terms seldom; documents drawn
uniformly from a vocabulary are nearly all rare terms, so they understate how
far a cast moves the outputs (1.3e-3 on real documents vs 4.5e-4 on uniform
ones for Tfidf + LogisticRegressionCV). Word choice here follows each term's
document frequency, recovered from ``idf_`` (smooth: ``idf = ln((1+n)/(1+df)) + 1``)
or, without idf, from per-term counts a later step stores (naive Bayes'
``feature_count_``). An n-gram term is emitted as its words in a row, so its
unigrams and the n-gram itself co-occur as in text. Lengths are log-normal
around ~60 terms, with a share of empty, very short and very long documents
and of words the vocabulary has never seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Probes

UNSEEN = ("zqxjv", "unseenword", "skprunetoken", "qqqq")


def _idf_weights(vectorizer: Any, size: int) -> np.ndarray | None:
    idf = getattr(vectorizer, "idf_", None)
    if idf is None:
        idf = getattr(getattr(vectorizer, "_tfidf", None), "idf_", None)
    if not isinstance(idf, np.ndarray) or idf.shape != (size,):
        return None
    idf = idf.astype(float)
    if getattr(vectorizer, "smooth_idf", True):
        # the rarest term has df >= 1: that fixes n, then df = (n+1)/exp(idf-1) - 1
        n_plus_1 = 2.0 * np.exp(idf.max() - 1.0)
        df = n_plus_1 / np.exp(idf - 1.0) - 1.0
    else:
        df = np.exp(1.0 - idf)
    return np.maximum(df, 1e-3)


def _count_weights(model: Any, size: int) -> np.ndarray | None:
    """Per-term totals stored by a later step: naive Bayes counts, or its log probabilities."""
    for step in getattr(model, "steps", [])[1:] if hasattr(model, "steps") else []:
        est = step[1]
        counts = getattr(est, "feature_count_", None)
        if isinstance(counts, np.ndarray) and counts.ndim == 2 and counts.shape[1] == size and counts.sum() > 0:
            return counts.sum(axis=0).astype(float) + 0.5
        log_prob = getattr(est, "feature_log_prob_", None)
        if isinstance(log_prob, np.ndarray) and log_prob.ndim == 2 and log_prob.shape[1] == size:
            return np.exp(log_prob.astype(float)).mean(axis=0)
    return None


def _lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    lengths = np.clip(rng.lognormal(np.log(60.0), 0.9, size=n), 1, 1500).astype(int)
    kind = rng.random(n)
    lengths[kind < 0.04] = 0  # empty documents
    short = (kind >= 0.04) & (kind < 0.14)
    lengths[short] = rng.integers(1, 4, size=int(short.sum()))
    long = kind >= 0.96
    lengths[long] = rng.integers(1500, 4000, size=int(long.sum()))
    return lengths


def text_probes(model: Any, vectorizer: Any, n: int, rng: np.random.Generator) -> Probes | None:
    vocabulary = getattr(vectorizer, "vocabulary_", None)
    if not isinstance(vocabulary, dict) or not vocabulary or not hasattr(vectorizer, "build_analyzer"):
        return None
    terms = np.array(sorted(vocabulary, key=vocabulary.__getitem__), dtype=object)
    weights = _idf_weights(vectorizer, len(terms))
    how = "document frequencies (idf_)"
    if weights is None:
        weights = _count_weights(model, len(terms))
        how = "term counts of a later step"
    if weights is None:
        weights, how = np.ones(len(terms)), "uniform draws (no frequencies stored)"
    cdf = np.cumsum(weights / weights.sum())
    char = getattr(vectorizer, "analyzer", "word") in ("char", "char_wb")
    joiner = "" if getattr(vectorizer, "analyzer", "word") == "char" else " "
    docs: list[str] = []
    for k in _lengths(n, rng):
        if k == 0:
            docs.append("")
            continue
        uniform = rng.random() < 0.2  # a share of documents with rare terms as often as common ones
        picks = rng.integers(0, len(terms), size=k) if uniform else np.minimum(np.searchsorted(cdf, rng.random(k) * cdf[-1]), len(terms) - 1)
        words = [str(t) for t in terms[picks]]
        if not char and rng.random() < 0.2:
            for pos in rng.integers(0, len(words), size=max(1, k // 20)):
                words[pos] = UNSEEN[int(pos) % len(UNSEEN)]
        docs.append(joiner.join(words))
    return Probes(docs, f"{n} documents drawn from the {len(terms)}-term vocabulary of {type(vectorizer).__name__} "
                        f"following {how}, with empty, short, long and unseen-word documents")
