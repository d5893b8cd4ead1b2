"""Exact transforms of HistGradientBoosting's ``TreePredictor`` nodes.

Prediction walks ``feature_idx``, ``num_threshold``, ``missing_go_to_left``,
``left``/``right``, the categorical bitsets and reads ``value`` at leaves only;
partial dependence also reads ``count``. So internal ``value`` and every
``gain`` (kept for inspection) can be 0. Thresholds are left alone: these
predictors compare float64 inputs, so the float32-grid argument that holds for
``Tree`` does not hold here; leaf values are rounded only under the check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PredictorSummary:
    predictors: int = 0
    internal_values_zeroed: int = 0


def transform_predictor(predictor: object, summary: PredictorSummary) -> None:
    nodes = getattr(predictor, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or "is_leaf" not in nodes.dtype.names:
        return
    inner = nodes["is_leaf"] == 0
    nodes["value"][inner] = 0.0
    nodes["gain"] = 0.0
    summary.predictors += 1
    summary.internal_values_zeroed += int(inner.sum())
