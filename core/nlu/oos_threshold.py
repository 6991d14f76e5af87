"""Choice of the confidence threshold below which a message is out of scope.

Too low a threshold lets off-topic messages trigger bank actions, too high
a one sends answerable questions to a fallback. All rules judge the
training examples out of fold.

* With labelled out-of-scope examples (trained as a class of their own): the threshold that
  rejects a target share of them (90%) out of fold while losing the fewest in-scope messages.
  Out-of-fold recall overstates recall on new messages: chosen across five disjoint folds of
  CLINC150's 200 out-of-scope examples (``python -m infra.bench.intents --oos-class``), a 90%
  target rejected 86% of the held-out folds on average (75% at worst) where 85% rejected 82%
  (70%). The explicit class kept 3-5 points more in-scope accuracy than thresholding the
  confidence, the margin, the energy or the nearest examples' cosine at the same recall.
* Without them (most bots): reject a fixed share (10%) of in-scope training
  messages, which needs no out-of-scope examples at all.

Maximising a weighted sum of in-scope accuracy and out-of-scope recall is
available but chose thresholds that rejected too many in-scope messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_IN_SCOPE_REJECTION = 0.10
DEFAULT_OOS_RECALL_TARGET = 0.90
# Candidate thresholds are confidence quantiles; 400 resolves 0.25% steps.
_GRID = 401


@dataclass(frozen=True, slots=True)
class ThresholdEvidence:
    """Out-of-fold predictions on the training examples.

    ``confidence``: top probability; ``predicted_oos``: the top class was the
    out-of-scope class; ``correct``: the top class was the true one;
    ``is_oos``: the example is labelled out of scope.
    """

    confidence: NDArray[np.float64]
    predicted_oos: NDArray[np.bool_]
    correct: NDArray[np.bool_]
    is_oos: NDArray[np.bool_]


def choose_threshold(
    evidence: ThresholdEvidence,
    *,
    in_scope_rejection: float = DEFAULT_IN_SCOPE_REJECTION,
    oos_weight: float = 0.0,
    oos_recall_target: float | None = None,
) -> float:
    """Return the out-of-scope threshold supported by ``evidence``.

    With labelled out-of-scope examples and an ``oos_recall_target``, the
    threshold reaching that recall with the best in-scope accuracy.
    Otherwise the ``in_scope_rejection`` quantile of in-scope confidences,
    or, with ``oos_weight`` > 0 and labelled out-of-scope examples,
    maximise ``in_scope_accuracy + oos_weight *
    oos_recall`` over candidate thresholds (an in-scope message counts as
    correct only if it is both accepted and classified right).
    """
    in_scope = ~evidence.is_oos
    if evidence.is_oos.any() and oos_recall_target is not None:
        return _highest_accuracy_at_recall(evidence, oos_recall_target)
    if not evidence.is_oos.any() or oos_weight <= 0:
        return float(np.quantile(evidence.confidence[in_scope], in_scope_rejection))
    candidates = np.unique(np.quantile(evidence.confidence, np.linspace(0.0, 1.0, _GRID)))
    best_threshold, best_value = 0.0, -np.inf
    for threshold in candidates:
        rejected = evidence.predicted_oos | (evidence.confidence < threshold)
        accuracy = np.mean(evidence.correct[in_scope] & ~rejected[in_scope])
        recall = np.mean(rejected[evidence.is_oos])
        value = accuracy + oos_weight * recall
        if value > best_value:
            best_threshold, best_value = float(threshold), value
    return best_threshold


def _highest_accuracy_at_recall(evidence: ThresholdEvidence, target: float) -> float:
    """The threshold keeping the most in-scope messages right while still rejecting `target` of
    the labelled out-of-scope ones (the highest candidate when none reaches it)."""
    in_scope = ~evidence.is_oos
    candidates = np.unique(np.quantile(evidence.confidence, np.linspace(0.0, 1.0, _GRID)))
    best_threshold, best_accuracy = float(candidates[-1]), -1.0
    for threshold in candidates:
        rejected = evidence.predicted_oos | (evidence.confidence < threshold)
        if np.mean(rejected[evidence.is_oos]) < target:
            continue
        accuracy = float(np.mean(evidence.correct[in_scope] & ~rejected[in_scope]))
        if accuracy > best_accuracy:
            best_threshold, best_accuracy = float(threshold), accuracy
    return best_threshold
