from __future__ import annotations

import numpy as np
import pytest

from core.nlu.calibration import fit_temperature, softmax
from core.nlu.oos_threshold import ThresholdEvidence, choose_threshold


def test_softmax_rows_sum_to_one_and_temperature_sharpens() -> None:
    scores = np.array([[1.0, 0.0, -1.0]])
    assert softmax(scores, 1.0).sum() == pytest.approx(1.0)
    assert softmax(scores, 0.1)[0, 0] > softmax(scores, 1.0)[0, 0]


def test_temperature_is_low_for_reliable_scores_and_high_for_noisy_ones() -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 5, size=500)
    clean = np.where(np.eye(5)[targets] > 0, 1.0, -1.0)
    noisy = clean.copy()
    flipped = rng.random(500) < 0.4
    noisy[flipped] = np.roll(noisy[flipped], 1, axis=1)
    assert fit_temperature(clean, targets) < fit_temperature(noisy, targets)


def _evidence(confidence: list[float], is_oos: list[bool]) -> ThresholdEvidence:
    size = len(confidence)
    return ThresholdEvidence(
        confidence=np.array(confidence),
        predicted_oos=np.zeros(size, dtype=bool),
        correct=~np.array(is_oos),
        is_oos=np.array(is_oos),
    )


def test_default_rule_rejects_the_requested_share_of_in_scope_messages() -> None:
    evidence = _evidence([i / 100 for i in range(1, 101)], [False] * 100)
    threshold = choose_threshold(evidence, in_scope_rejection=0.1)
    assert np.mean(evidence.confidence < threshold) == pytest.approx(0.1, abs=0.01)


def test_weighted_rule_separates_labelled_out_of_scope_examples() -> None:
    evidence = _evidence([0.9, 0.8, 0.85, 0.95, 0.2, 0.3, 0.25], [False] * 4 + [True] * 3)
    threshold = choose_threshold(evidence, oos_weight=1.0)
    assert 0.3 < threshold <= 0.8


def test_recall_rule_rejects_the_target_share_of_out_of_scope_and_keeps_the_rest() -> None:
    # In scope: 0.5 … 0.95; out of scope: 0.1 … 0.6, overlapping the in-scope ones.
    in_scope = [0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95]
    out = [0.1, 0.2, 0.3, 0.4, 0.6]
    evidence = _evidence(in_scope + out, [False] * len(in_scope) + [True] * len(out))
    lenient = choose_threshold(evidence, oos_recall_target=0.8)  # 4 of 5 out of scope: below 0.4 is not enough
    assert np.mean(evidence.confidence[evidence.is_oos] < lenient) >= 0.8
    assert np.sum(evidence.confidence[~evidence.is_oos] < lenient) == 0  # no in-scope message lost
    strict = choose_threshold(evidence, oos_recall_target=1.0)  # all 5: the 0.6 one costs in-scope ones
    assert np.all(evidence.confidence[evidence.is_oos] < strict)
    assert strict > lenient
