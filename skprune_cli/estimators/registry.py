"""What skprune knows about specific estimators, in one place.

Each entry names the classes it applies to (matched against the owner's
class and its bases, so ``BaseLibSVM`` covers SVC, NuSVC, SVR, NuSVR and
OneClassSVM), the attributes (globs), what must hold, and why. Every entry is
exercised by ``tests/test_registry.py``.

Effects:

``frozen``
    Values and dtype stay exactly as they are: labels and lookup data whose
    identity is the output (``classes_``) or an index (``categories_``).
``dtype``
    The dtype must stay (compiled code is typed for it, or the array must match
    the input's dtype); values may still be rounded within the same dtype.
``python-ints``
    A mapping whose numpy integer values become Python ints: the same numbers,
    but a fraction of the bytes (see ``attributes.py``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Iterable, Literal

Effect = Literal["frozen", "dtype", "python-ints"]


@dataclass(frozen=True)
class Knowledge:
    owners: tuple[str, ...]
    attrs: tuple[str, ...]
    effect: Effect
    reason: str

    def applies(self, owner: Any, attr: str) -> bool:
        if "*" not in self.owners and not _class_names(owner) & set(self.owners):
            return False
        return any(fnmatch.fnmatchcase(attr, pattern) for pattern in self.attrs)


def _class_names(owner: Any) -> set[str]:
    return {cls.__name__ for cls in type(owner).__mro__}


REGISTRY: tuple[Knowledge, ...] = (
    Knowledge(
        ("*",),
        ("classes_", "categories_", "feature_names_in_", "vocabulary_", "stop_words_",
         "drop_idx_", "_drop_idx_after_grouping", "_infrequent_indices", "infrequent_categories_"),
        "frozen",
        "labels and lookup data: predictions and column positions are read from them verbatim",
    ),
    Knowledge(
        ("CountVectorizer", "DictVectorizer"),
        ("vocabulary_",),
        "python-ints",
        "column indices stored as numpy int64 scalars cost a .npy member each in a .skops archive "
        "(and a numpy reconstructor call each in a pickle); Python ints index the same columns",
    ),
    Knowledge(
        ("KMeans", "MiniBatchKMeans", "BisectingKMeans", "_BisectingTree"),
        ("cluster_centers_", "center"),
        "dtype",
        "the k-means Cython kernels require the centres to have the input's dtype (float64)",
    ),
    Knowledge(
        ("BaseLibSVM",),
        ("support_vectors_", "_dual_coef_", "dual_coef_", "_intercept_", "_probA", "_probB", "class_weight_"),
        "dtype",
        "libsvm reads these through typed float64 buffers (float32 or float16 raises)",
    ),
    Knowledge(
        ("NMF", "MiniBatchNMF"),
        ("components_",),
        "dtype",
        "NMF.transform requires H to have the same dtype as X",
    ),
    Knowledge(
        ("LatentDirichletAllocation",),
        ("components_", "exp_dirichlet_component_"),
        "dtype",
        "the LDA Cython E-step has no signature for float16",
    ),
    Knowledge(
        ("BSpline",),
        ("_t", "_c", "t", "c"),
        "dtype",
        "scipy's B-spline evaluation kernel only accepts float64 knots and coefficients (SplineTransformer)",
    ),
    Knowledge(
        ("Tree",),
        ("nodes", "values"),
        "dtype",
        "sklearn's Tree only accepts its own node layout and float64 values when loaded",
    ),
    Knowledge(
        ("BinaryTree64",),
        ("*",),
        "dtype",
        "KD/Ball tree state is typed for float64 data and intp indices in compiled code",
    ),
)


ARRAY_EFFECTS = ("frozen", "dtype")


def knowledge_for(owner: Any, attr: str, registry: Iterable[Knowledge] = REGISTRY) -> Knowledge | None:
    """The strictest array constraint for ``owner.attr`` (``frozen`` beats ``dtype``), or None."""
    found: Knowledge | None = None
    for entry in registry:
        if entry.effect in ARRAY_EFFECTS and entry.applies(owner, attr):
            if entry.effect == "frozen":
                return entry
            found = found or entry
    return found


def attribute_knowledge(owner: Any, attr: str, registry: Iterable[Knowledge] = REGISTRY) -> list[Knowledge]:
    """Entries that transform or drop ``owner.attr`` as a whole."""
    return [e for e in registry if e.effect not in ARRAY_EFFECTS and e.applies(owner, attr)]
