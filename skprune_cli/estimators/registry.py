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
``min-float32``
    No cast below float32: the output depends discontinuously on these values
    (an argmax, a support set), so a float16 change can flip it where no probe
    happened to look.
``fitted-rng``
    A sub-estimator inside a fitted ensemble holds a numpy ``RandomState`` as
    its ``random_state`` parameter; it is only used to fit that sub-estimator
    and becomes ``None`` (the ensemble's own parameter is left alone).
``computation``
    Value-exact is not computation-exact: the dtype must stay even where a
    narrower one holds every value, because the dtype picks the code path
    (a tie order, an accumulation dtype). Values may still be rounded within
    the dtype, under the check like any lossy change.
``rebuilt``
    Not saved: loading rebuilds the attribute from others (``__setstate__``).
    Its arrays are not pruned on their own; the check runs on a rebuilt copy,
    so it sees what loading the file will build.
``drop``
    Training-only: no prediction method reads it. Removed by default (kept
    with ``--keep``); ``check_is_fitted`` still passes without it.
``tree-exact`` / ``hgb-exact``
    Exact transforms of tree state (``trees.py``, ``hist_trees.py``).
``input-samples``
    Rows are points in the model's input space (training samples, centres):
    the fidelity check draws probe inputs around and between them.
``vocabulary``
    A term -> column mapping whose numpy integer values become Python ints and
    whose entries are put in column order: the same mapping (``==`` holds, every
    lookup gives the same column), in a fraction of the bytes (``attributes.py``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Iterable, Literal

Effect = Literal["frozen", "dtype", "computation", "rebuilt", "min-float32", "vocabulary", "fitted-rng", "input-samples", "drop", "tree-exact",
                 "hgb-exact"]


@dataclass(frozen=True)
class Knowledge:
    owners: tuple[str, ...]
    attrs: tuple[str, ...]
    effect: Effect
    reason: str

    def applies(self, owner: Any, attr: str) -> bool:
        return self.applies_to_names(_class_names(owner), attr)

    def applies_to_names(self, names: set[str], attr: str) -> bool:
        """By class names alone (a ``.skops`` schema names the class but builds nothing): the
        entries that use a base class also list its concrete estimators (see test_registry)."""
        if "*" not in self.owners and not names & set(self.owners):
            return False
        return any(fnmatch.fnmatchcase(attr, pattern) for pattern in self.attrs)


def _class_names(owner: Any) -> set[str]:
    return {cls.__name__ for cls in type(owner).__mro__}


REGISTRY: tuple[Knowledge, ...] = (
    Knowledge(
        ("*",),
        ("classes_", "categories_", "feature_names_in_", "vocabulary_",
         "drop_idx_", "_drop_idx_after_grouping", "_infrequent_indices", "infrequent_categories_"),
        "frozen",
        "labels and lookup data: predictions and column positions are read from them verbatim",
    ),
    Knowledge(
        ("CountVectorizer", "DictVectorizer"),
        ("vocabulary_",),
        "vocabulary",
        "column indices stored as numpy int64 scalars cost a .npy member each in a .skops archive "
        "(and a numpy reconstructor call each in a pickle); Python ints index the same columns. Terms are "
        "kept in the order they were first seen, which nothing reads (transform looks terms up, "
        "get_feature_names_out sorts by column): in column order, neighbouring terms share prefixes and "
        "the indices count up, and an 872k-term vocabulary compresses 1.7x smaller",
    ),
    Knowledge(
        ("KMeans", "MiniBatchKMeans", "BisectingKMeans", "_BisectingTree"),
        ("cluster_centers_", "center"),
        "dtype",
        "the k-means Cython kernels require the centres to have the input's dtype (float64)",
    ),
    Knowledge(
        ("BaseLibSVM", "SVC", "NuSVC", "SVR", "NuSVR", "OneClassSVM"),
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
        ("KNeighborsMixin", "RadiusNeighborsMixin", "LocalOutlierFactor", "KNeighborsClassifier",
         "KNeighborsRegressor", "RadiusNeighborsClassifier", "RadiusNeighborsRegressor", "NearestNeighbors",
         "KNeighborsTransformer", "RadiusNeighborsTransformer"),
        ("_fit_X",),
        "computation",
        "value-exact is not computation-exact: float64 samples take the ArgKmin kernel, any other dtype the "
        "generic pairwise path, and the two order equal distances differently; on integer-valued data (digits) "
        "a float16 _fit_X holding every value exactly moved predict_proba by 0.2",
    ),
    Knowledge(
        ("BaseHistGradientBoosting", "HistGradientBoostingClassifier", "HistGradientBoostingRegressor"),
        ("_baseline_prediction",),
        "computation",
        "value-exact is not computation-exact: predictions accumulate in the dtype of the baseline, so a "
        "narrower baseline holding the same value sums every tree's leaf in lower precision",
    ),
    Knowledge(
        ("IsotonicRegression",),
        ("f_",),
        "rebuilt",
        "f_ is not saved: loading rebuilds the interpolator from X_thresholds_ and y_thresholds_, so casting "
        "f_ apart from them describes nothing the file holds (the report once said f_.x stayed float64 while "
        "the file rebuilt it from float16 knots)",
    ),
    Knowledge(
        ("AffinityPropagation", "MeanShift"),
        ("cluster_centers_",),
        "min-float32",
        "predict is an argmin over distances to these centres: a float16 centre moves the border between "
        "two clusters where no probe looked (the held-out sweep flipped a label on integer rows)",
    ),
    Knowledge(
        ("DictionaryLearning", "MiniBatchDictionaryLearning", "SparseCoder"),
        ("components_",),
        "min-float32",
        "sparse coding picks atoms by comparing correlations: a float16 atom can swap the chosen "
        "support and change a code entirely for inputs near a tie",
    ),
    Knowledge(
        ("KNeighborsMixin", "RadiusNeighborsMixin", "LocalOutlierFactor"),
        ("_fit_X",),
        "input-samples",
        "the stored training samples",
    ),
    Knowledge(("GaussianProcessRegressor",), ("X_train_",),
              "input-samples", "the stored training samples"),
    Knowledge(("BaseLibSVM",), ("support_vectors_",), "input-samples", "support vectors are training samples"),
    Knowledge(("KMeans", "MiniBatchKMeans", "BisectingKMeans", "MeanShift", "AffinityPropagation"),
              ("cluster_centers_",), "input-samples", "cluster centres lie in input space"),
    Knowledge(("Birch",), ("subcluster_centers_",), "input-samples", "subcluster centres lie in input space"),
    Knowledge(("BaseLabelPropagation",), ("X_",), "input-samples", "the stored training samples"),
    Knowledge(("NearestCentroid",), ("centroids_",), "input-samples", "class centroids lie in input space"),
    Knowledge(("GaussianNB",), ("theta_",), "input-samples", "per-class feature means"),
    Knowledge(("LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis", "BaseMixture"), ("means_",),
              "input-samples", "class or component means lie in input space"),
    Knowledge(("Nystroem",), ("components_",), "input-samples", "Nystroem's components are training samples"),
    Knowledge(("KernelPCA",), ("X_fit_",), "input-samples", "the stored training samples"),
    Knowledge(("EmpiricalCovariance",), ("location_",), "input-samples", "the estimated centre of the data"),
    Knowledge(("BaseDecisionTree", "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
               "ExtraTreeRegressor"), ("random_state",), "fitted-rng",
              "GradientBoosting hands one RandomState to all its trees; skops writes a 2.5 KB copy of its state "
              "for every tree, and no tree uses it after fitting"),
    Knowledge(("LogisticRegressionCV",), ("coefs_paths_", "scores_"), "drop",
              "every fold's coefficient path and score, kept for inspection; predict uses coef_ and intercept_"),
    Knowledge(("BaseSearchCV", "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
               "RFECV", "RidgeCV", "RidgeClassifierCV", "GraphicalLassoCV"), ("cv_results_",), "drop",
              "cross-validation results; prediction uses the refitted estimator"),
    Knowledge(("LinearModelCV", "LassoCV", "ElasticNetCV", "MultiTaskLassoCV", "MultiTaskElasticNetCV", "LarsCV",
               "LassoLarsCV"), ("mse_path_", "cv_alphas_"), "drop",
              "per-fold error paths of the alpha search; predict uses coef_ and intercept_"),
    Knowledge(("Lars", "LassoLars", "LarsCV", "LassoLarsCV", "LassoLarsIC"), ("coef_path_",), "drop",
              "the coefficients along the whole regularisation path; predict uses coef_"),
    Knowledge(("BaseForest", "BaseBagging", "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
               "ExtraTreesRegressor", "RandomTreesEmbedding", "BaggingClassifier", "BaggingRegressor", "IsolationForest"),
              ("oob_decision_function_", "oob_prediction_"), "drop",
              "out-of-bag predictions for the training rows; oob_score_ (a float) is kept"),
    Knowledge(("BaseGradientBoosting", "GradientBoostingClassifier", "GradientBoostingRegressor"),
              ("train_score_", "oob_improvement_", "oob_scores_"), "drop",
              "per-stage training losses; prediction reads the trees and init_"),
    Knowledge(("BaseHistGradientBoosting", "HistGradientBoostingClassifier", "HistGradientBoostingRegressor"),
              ("train_score_", "validation_score_"), "drop",
              "per-iteration scores from fitting; prediction reads the predictors"),
    Knowledge(("BaseMultilayerPerceptron", "MLPClassifier", "MLPRegressor"), ("loss_curve_", "validation_scores_", "_optimizer", "_best_coefs",
                                               "_best_intercepts"), "drop",
              "training history and optimiser state (partial_fit restarts Adam's moments without them); "
              "predict uses coefs_ and intercepts_"),
    Knowledge(("CountVectorizer", "TfidfVectorizer"), ("stop_words_",), "drop",
              "terms cut by max_df/min_df/max_features (sklearn < 1.5 kept them); transform uses vocabulary_"),
    Knowledge(("Tree",), ("*",), "tree-exact",
              "thresholds on the float32 grid, internal node values copied from their first leaf, padding zeroed, "
              "impurity and node weights rounded as far as feature_importances_ allows; predictions and apply() unchanged"),
    Knowledge(("TreePredictor",), ("nodes",), "hgb-exact",
              "internal node values and split gains zeroed, padding zeroed; predictions unchanged"),
    Knowledge(
        ("Tree",),
        ("nodes", "values"),
        "dtype",
        "sklearn's Tree only accepts its own node layout and float64 values when loaded",
    ),
    Knowledge(
        ("BinaryTree64", "KDTree", "BallTree"),
        ("*",),
        "frozen",
        "KD/Ball tree node bounds are derived from the exact data and typed for float64/intp in compiled code",
    ),
)


ARRAY_EFFECTS = ("frozen", "dtype", "computation", "min-float32")


def knowledge_for(owner: Any, attr: str, registry: Iterable[Knowledge] = REGISTRY) -> Knowledge | None:
    """The strictest array constraint for ``owner.attr`` (frozen, then dtype/computation, then
    min-float32), or None."""
    found = [e for e in registry if e.effect in ARRAY_EFFECTS and e.applies(owner, attr)]
    found.sort(key=lambda e: ARRAY_EFFECTS.index(e.effect))
    return found[0] if found else None


ATTRIBUTE_EFFECTS = ("vocabulary", "fitted-rng")
OBJECT_EFFECTS = ("tree-exact", "hgb-exact")


def attribute_knowledge(owner: Any, attr: str, registry: Iterable[Knowledge] = REGISTRY) -> list[Knowledge]:
    """Entries that transform or drop ``owner.attr`` as a whole."""
    return [e for e in registry if e.effect in ATTRIBUTE_EFFECTS and e.applies(owner, attr)]


def sample_attributes(owner: Any, registry: Iterable[Knowledge] = REGISTRY) -> list[tuple[str, Knowledge]]:
    """Attributes of ``owner`` whose rows are points in its input space."""
    return [(attr, e) for e in registry if e.effect == "input-samples"
            for attr in e.attrs if e.applies(owner, attr) and hasattr(owner, attr)]


def rebuilt_attributes(owner: Any, registry: Iterable[Knowledge] = REGISTRY) -> list[tuple[str, Knowledge]]:
    """Attributes of ``owner`` that loading rebuilds from others (not saved in the file)."""
    return [(attr, e) for e in registry if e.effect == "rebuilt"
            for attr in e.attrs if e.applies(owner, attr) and hasattr(owner, attr)]


def droppable(owner: Any, attr: str, registry: Iterable[Knowledge] = REGISTRY) -> Knowledge | None:
    """The training-only entry for ``owner.attr``, if any."""
    return next((e for e in registry if e.effect == "drop" and e.applies(owner, attr)), None)


def object_effect(obj: Any, registry: Iterable[Knowledge] = REGISTRY) -> Knowledge | None:
    """The exact-transform entry for a whole object (a Tree, a TreePredictor), if any."""
    return next((e for e in registry if e.effect in OBJECT_EFFECTS and e.applies(obj, e.attrs[0])), None)


def knowledge_by_name(class_name: str, attr: str, registry: Iterable[Knowledge] = REGISTRY) -> Knowledge | None:
    """The strongest array or drop entry for ``class_name.attr``, matched by name only."""
    found = [e for e in registry if e.effect in (*ARRAY_EFFECTS, "drop") and e.applies_to_names({class_name}, attr)]
    order = ("frozen", "drop", "dtype", "computation", "min-float32")
    found.sort(key=lambda e: order.index(e.effect))
    return found[0] if found else None
