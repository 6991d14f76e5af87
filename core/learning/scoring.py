"""Scoring a model on held-out examples, in counts so that comparisons are exact.

Retraining installs a new model when it is at least as good as the current
one; comparing counts of correct answers on the same examples avoids
deciding a tie by floating-point noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from core.nlu.datasets import Example
from core.nlu.evaluation import predicted_labels
from core.nlu.intents import DEFAULT_OOS_LABEL, IntentModel


@dataclass(frozen=True, slots=True)
class HeldOutScore:
    """Correct answers out of ``total``, and macro-F1 over the labels present."""

    correct: int
    total: int
    macro_f1: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def describe(self) -> str:
        return f"accuracy {self.accuracy:.4f} ({self.correct}/{self.total}), macro-F1 {self.macro_f1:.4f}"


def held_out_score(
    model: IntentModel, examples: Sequence[Example], oos_label: str = DEFAULT_OOS_LABEL,
    embeddings: NDArray[np.float32] | None = None,
) -> HeldOutScore:
    """Score ``model`` as ``csbot eval intents`` does (rejections count as out of scope when the
    data has any); ``embeddings``: the examples' rows from the model's encoder, when at hand."""
    if not examples:
        return HeldOutScore(0, 0, 0.0)
    from sklearn.metrics import f1_score  # scoring only: spares serving processes its import

    gold = [label for _, label in examples]
    predicted = predicted_labels(
        model, [text for text, _ in examples], score_oos=oos_label in gold, oos_label=oos_label, embeddings=embeddings
    )
    correct = sum(p == g for p, g in zip(predicted, gold, strict=True))
    macro_f1 = float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0))
    return HeldOutScore(correct, len(gold), round(macro_f1, 4))
