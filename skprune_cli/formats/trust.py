"""The reviewed list: scikit-learn's own internal types that load without ``--trust``.

skops trusts estimators and a few internals by default and asks users to name
every other type at load time, including sklearn's own kernels, splitters,
scorers and optimizer state; users of skops call that "really inconvenient".
The types below were found by saving every estimator of ``all_estimators()``
(plus grid searches, Gaussian processes, KD/Ball trees, stacking and every
gradient-boosting loss) with ``skops.io.dump`` and reading what
``get_untrusted_types`` reported.

Why an entry is safe: skops builds a class instance with ``cls.__new__`` and
the class's own ``__setstate__`` (or a plain ``__dict__`` update), or calls
the class itself with arguments from the file; every value handed over is
itself a node that skops audits. So a reviewed class can only ever hold
trusted values; a function, method or foreign type placed in its state is
still reported by skops and refused unless trusted. What skops cannot judge
is *content* that compiled code indexes without bounds checks: those types
are in ``VALIDATED`` and every instance is checked (``tree_checks.py``), even
when the user trusts them.

Everything here is judged by name only, so ``inspect`` applies the same rule
without importing scikit-learn.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np


def _names(module: str, *names: str) -> list[str]:
    return [f"{module}.{name}" for name in names]


_KERNELS = "sklearn.gaussian_process.kernels"
_SPLIT = "sklearn.model_selection._split"
_DIST = "sklearn.metrics._dist_metrics"
_LOSS = "sklearn._loss.loss"
_METRICS = "sklearn.metrics"

# family -> (why constructing it runs no code from the file, the names it covers)
FAMILIES: dict[str, tuple[str, list[str]]] = {
    "kernels": (
        "Gaussian-process kernels hold hyperparameters (floats, bounds, nested kernels); "
        "PairwiseKernel's metric is a string, or a function that skops audits on its own",
        _names(_KERNELS, "ConstantKernel", "WhiteKernel", "RBF", "Matern", "RationalQuadratic",
               "ExpSineSquared", "DotProduct", "PairwiseKernel", "Sum", "Product", "Exponentiation",
               "CompoundKernel", "Hyperparameter")
        + ["sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace"],
    ),
    "cv splitters": (
        "cross-validation splitters hold split counts, flags and a seed; they run only in fit",
        _names(_SPLIT, "KFold", "StratifiedKFold", "GroupKFold", "StratifiedGroupKFold", "TimeSeriesSplit",
               "ShuffleSplit", "StratifiedShuffleSplit", "GroupShuffleSplit", "RepeatedKFold",
               "RepeatedStratifiedKFold", "LeaveOneOut", "LeavePOut", "LeaveOneGroupOut", "LeavePGroupsOut",
               "PredefinedSplit", "_CVIterableWrapper"),
    ),
    "scorers": (
        "scorers hold a metric function (audited separately: only the metrics below load without "
        "--trust), keyword arguments and a response-method name",
        _names("sklearn.metrics._scorer", "_Scorer", "_PassthroughScorer", "_CurveScorer", "_MultimetricScorer",
               # scikit-learn <= 1.3 names of the same objects
               "_PredictScorer", "_ProbaScorer", "_ThresholdScorer"),
    ),
    "metric functions": (
        "the functions behind scikit-learn's named scorers and univariate feature selection: "
        "pure computations on the arrays they are given",
        _names(f"{_METRICS}._classification", "accuracy_score", "balanced_accuracy_score", "brier_score_loss",
               "d2_brier_score", "d2_log_loss_score", "f1_score", "fbeta_score", "jaccard_score", "log_loss",
               "matthews_corrcoef", "precision_score", "recall_score", "hamming_loss", "hinge_loss",
               "zero_one_loss")
        + _names(f"{_METRICS}._ranking", "average_precision_score", "roc_auc_score", "top_k_accuracy_score",
                 "ndcg_score", "dcg_score")
        + _names(f"{_METRICS}._regression", "d2_absolute_error_score", "explained_variance_score", "max_error",
                 "mean_absolute_error", "mean_absolute_percentage_error", "mean_gamma_deviance",
                 "mean_poisson_deviance", "mean_squared_error", "mean_squared_log_error",
                 "median_absolute_error", "r2_score", "root_mean_squared_error", "root_mean_squared_log_error",
                 "mean_tweedie_deviance", "mean_pinball_loss", "d2_tweedie_score", "d2_pinball_score")
        + _names(f"{_METRICS}._scorer", "negative_likelihood_ratio", "positive_likelihood_ratio")
        + _names(f"{_METRICS}.cluster._supervised", "adjusted_mutual_info_score", "adjusted_rand_score",
                 "completeness_score", "fowlkes_mallows_score", "homogeneity_score", "mutual_info_score",
                 "normalized_mutual_info_score", "rand_score", "v_measure_score")
        + _names("sklearn.feature_selection._univariate_selection", "f_classif", "f_regression", "chi2",
                 "r_regression", "f_oneway")
        + _names("sklearn.feature_selection._mutual_info", "mutual_info_classif", "mutual_info_regression")
        + _names("sklearn.cluster._kmeans", "_kmeans_single_lloyd", "_kmeans_single_elkan"),
    ),
    "optimizer state": (
        "MLP optimizer state: learning-rate settings and moment arrays, read only when training resumes",
        _names("sklearn.neural_network._stochastic_optimizers", "AdamOptimizer", "SGDOptimizer", "BaseOptimizer"),
    ),
    "containers": (
        "Bunch is a dict with attribute access; metadata requests hold names and flags",
        ["sklearn.utils._bunch.Bunch", "sklearn.utils.Bunch"]
        + _names("sklearn.utils._metadata_requests", "MetadataRequest", "MethodMetadataRequest"),
    ),
    "distance metrics": (
        "distance metrics hold p and weight arrays; inside KD/Ball trees the weights' sizes are "
        "checked against the data (tree_checks.py); PyFuncDistance (a user function) is not listed",
        [f"{_DIST}.{kind}Distance{bits}"
         for kind in ("Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski", "Mahalanobis", "Hamming",
                      "Canberra", "BrayCurtis", "Jaccard", "Matching", "Dice", "Kulsinski", "RogersTanimoto",
                      "RussellRao", "SokalMichener", "SokalSneath", "Haversine")
         for bits in ("", "32", "64")],
    ),
    "losses": (
        "loss and link objects of (Hist)GradientBoosting and GLMs hold a few constants "
        "(quantile, power, interval bounds); the pre-1.3 GradientBoosting losses hold a class count; "
        "SGD's Cython losses (kept by SGDClassifier, Perceptron, PassiveAggressive) hold one threshold or epsilon",
        _names(_LOSS, "AbsoluteError", "ExponentialLoss", "HalfBinomialLoss", "HalfGammaLoss", "HalfMultinomialLoss",
               "HalfPoissonLoss", "HalfSquaredError", "HalfTweedieLoss", "HalfTweedieLossIdentity", "HuberLoss",
               "PinballLoss")
        + _names("sklearn._loss.link", "HalfLogitLink", "IdentityLink", "Interval", "LogitLink", "LogLink",
                 "MultinomialLogit")
        + _names("sklearn._loss._loss", "CyAbsoluteError", "CyExponentialLoss", "CyHalfBinomialLoss",
                 "CyHalfGammaLoss", "CyHalfMultinomialLoss", "CyHalfPoissonLoss", "CyHalfSquaredError",
                 "CyHalfTweedieLoss", "CyHalfTweedieLossIdentity", "CyHuberLoss", "CyPinballLoss")
        + _names("sklearn.ensemble._gb_losses", "LeastSquaresError", "LeastAbsoluteError", "HuberLossFunction",
                 "QuantileLossFunction", "BinomialDeviance", "MultinomialDeviance", "ExponentialLoss")
        + _names("sklearn.linear_model._sgd_fast", "Hinge", "ModifiedHuber", "SquaredHinge", "EpsilonInsensitive",
                 "SquaredEpsilonInsensitive", "Log", "SquaredLoss", "Huber")
        + ["sklearn.ensemble._hist_gradient_boosting.binning._BinMapper"],
    ),
    "fitted helpers": (
        "plain containers of fitted values inside estimators (calibrators, a constant predictor, "
        "the bisecting k-means tree of centers)",
        ["sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration",
         "sklearn.multiclass._ConstantPredictor", "sklearn.cluster._bisect_k_means._BisectingTree"],
    ),
    "numpy and scipy": (
        "numpy dtypes, numpy's pooling functions and scipy's array conversion are pure; sparse "
        "matrices are read without pickle and their indices checked in full, B-splines are rebuilt "
        "through their own validating constructor (tree_checks.py)",
        ["numpy.dtype", "numpy.mean", "numpy.median", "numpy.max", "numpy.min", "numpy.amax", "numpy.amin",
         "scipy._lib.array_api_compat.numpy._aliases.asarray", "scipy.interpolate._bsplines.BSpline"]
        + [f"scipy.sparse._{fmt}.{fmt}_{kind}" for fmt in ("csr", "csc", "coo") for kind in ("matrix", "array")],
    ),
}

# Types whose content compiled code indexes without bounds checks: skops never trusts them by
# default; skprune checks every instance (tree_checks.py) and refuses a bad one even when trusted.
VALIDATED: frozenset[str] = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
})

REVIEWED: frozenset[str] = frozenset(name for _, names in FAMILIES.values() for name in names)


def why(name: str) -> str | None:
    """The reason a reviewed name is safe, or None if it is not on the list."""
    if name in VALIDATED:
        return "every node is checked before use"
    for reason, names in FAMILIES.values():
        if name in names:
            return reason
    return None


def refused(untrusted: Iterable[str], trust: Iterable[str] = ()) -> list[str]:
    """Of the types skops would question, those neither reviewed here nor trusted by the user."""
    user = set(trust)
    return sorted(set(untrusted) - REVIEWED - VALIDATED - user)


def refusal(names: list[str]) -> str:
    """The message for types nobody reviewed: all of them, and how to load the file anyway."""
    flags = " ".join(f"--trust {name}" for name in names)
    return (f"untrusted types in the file: {', '.join(names)}; if you have reviewed them "
            f"(they run their own code when loaded and used), pass {flags}")


def is_sklearn_stack(module: str) -> bool:
    """Classes from these packages are pruned; objects of any other package are left untouched."""
    return module.split(".", 1)[0] in ("sklearn", "numpy", "scipy", "builtins", "collections")


def trust_notes(accepted: Iterable[str]) -> list[str]:
    """Say which questioned types loaded without ``--trust``, and on what grounds."""
    accepted = sorted(accepted)
    checked = [name for name in accepted if name in VALIDATED]
    reviewed = [name for name in accepted if name not in VALIDATED]
    notes = []
    if checked:
        notes.append(f"{', '.join(checked)} loaded without --trust: every node was checked")
    if reviewed:
        notes.append(f"{', '.join(reviewed)} loaded without --trust: on skprune's reviewed list of "
                     "scikit-learn internals")
    return notes


def accepted_by_name(loader: str, module: str, cls: str) -> bool:
    """What ``shrink`` accepts without ``--trust`` (skops' defaults plus trust.py), judged on names only:
    nothing is imported, so a crafted name cannot run an import."""
    name = f"{module}.{cls}"
    if name in REVIEWED or name in VALIDATED:
        return True
    return skops_default(loader, module, cls)


_PLAIN = {
    "JsonNode": {"builtins.int", "builtins.float", "builtins.str", "builtins.bool", "builtins.NoneType"},
    "DictNode": {"builtins.dict", "collections.OrderedDict"}, "AttrDict": {"builtins.dict", "collections.OrderedDict"},
    "ListNode": {"builtins.list"}, "TupleNode": {"builtins.tuple"}, "SetNode": {"builtins.set"},
    "SliceNode": {"builtins.slice"}, "BytesNode": {"builtins.bytes"}, "BytearrayNode": {"builtins.bytearray"},
    "DefaultDictNode": {"collections.defaultdict"}, "MaskedArrayNode": {"numpy.ma.core.MaskedArray", "numpy.ma.MaskedArray"},
    "RandomStateNode": {"numpy.random.mtrand.RandomState"}, "RandomGeneratorNode": {"numpy.random._generator.Generator"},
    "CachedNode": None,  # a reference to a node judged where it first appeared
}


def _numpy_scalar_type(module: str, cls: str) -> bool:
    kind = getattr(np, cls, None) if module == "numpy" else None
    return isinstance(kind, type) and issubclass(kind, np.generic)


def skops_default(loader: str, module: str, cls: str) -> bool:
    """skops' own default trust for one node, by name (see skops.io._trusted_types)."""
    name = f"{module}.{cls}"
    if loader in _PLAIN:
        allowed = _PLAIN[loader]
        return allowed is None or name in allowed
    if loader == "NdArrayNode":
        return name == "numpy.ndarray" or _numpy_scalar_type(module, cls)
    if loader == "TypeNode":
        return name in ("builtins.int", "builtins.float", "builtins.str", "builtins.bool", "builtins.list",
                        "builtins.set", "builtins.map", "builtins.tuple") or _numpy_scalar_type(module, cls)
    if loader == "FunctionNode":
        if module == "numpy":
            return isinstance(getattr(np, cls, None), np.ufunc)
        return module.startswith("scipy.special") and _scipy_ufunc(cls)
    if loader in ("ObjectNode", "ReduceNode", "ConstructorFromReduceNode"):
        # skops trusts every estimator of all_estimators(): public classes of scikit-learn's
        # modules; private ones load only through the reviewed list above
        return module.split(".", 1)[0] == "sklearn" and not cls.startswith("_")
    return False  # methods, partials, operators, dtypes, sparse matrices, trees, losses: by name above


def _scipy_ufunc(cls: str) -> bool:
    import scipy.special

    return type(getattr(scipy.special, cls, None)).__name__ in ("ufunc", "_UFuncWrapper") \
        or isinstance(getattr(scipy.special, cls, None), np.ufunc)
