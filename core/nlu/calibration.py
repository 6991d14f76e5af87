"""Temperature-scaled softmax turning linear-model scores into probabilities.

Out-of-scope detection thresholds a confidence, which only means the same
thing across bots if it is a calibrated probability. One temperature,
fitted on out-of-fold scores, calibrates a linear SVM at the cost of a
scalar search, far cheaper than per-class Platt scaling.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

_LOG_T_BOUNDS = (-6.0, 3.0)


def softmax(scores: NDArray[np.floating], temperature: float) -> NDArray[np.float64]:
    """Row-wise softmax of ``scores / temperature``."""
    scaled = np.asarray(scores, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=1, keepdims=True)
    return scaled


def fit_temperature(scores: NDArray[np.floating], targets: NDArray[np.integer]) -> float:
    """Return the temperature minimising the log-loss of ``targets``.

    ``scores`` are out-of-fold decision scores (n_samples x n_classes) and
    ``targets`` the column index of each sample's true class.
    """
    rows = np.arange(len(targets))

    def log_loss(log_t: float) -> float:
        probabilities = softmax(scores, float(np.exp(log_t)))
        return float(-np.log(probabilities[rows, targets] + 1e-12).mean())

    result = minimize_scalar(log_loss, bounds=_LOG_T_BOUNDS, method="bounded")
    return float(np.exp(result.x))
