"""Which article a message is about, learnt from the knowledge base's own texts.

Nearest-text retrieval asks "which single question is closest?"; with a small encoder (E5-small,
4-bit) a message in everyday words is often closest to one stray question of the wrong article.
A softmax regression over every knowledge text's vector, labelled with its article, learns
which directions of the embedding tell the articles apart, from all of an article's questions at
once. On the sample bot's tuning cases (the three-questions-per-article part of
`bots/acme_bank/eval/dev.yaml`) its probability as a ranking bonus of weight 0.1 raised the right
article first from 0.859 to 0.900.

Training is full-batch gradient descent with Nesterov momentum from zero weights, so the same
knowledge base always gives the same model (0.1 s for the sample bot's 1,300 texts). Its cost
grows with texts × articles, so a knowledge base past `MAX_TEXTS_X_ARTICLES` is not trained on
(`train` returns None) and retrieval ranks by similarity and words alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

MAX_TEXTS_X_ARTICLES: Final = 600_000  # ~2 s of training on one core; the sample bot is 53,000
TEMPERATURE: Final = 0.05  # unit vectors' dot products span ~0.3: scaled so logits can separate
L2: Final = 3e-3
STEP: Final = 0.1
MOMENTUM: Final = 0.9
ITERATIONS: Final = 100


@dataclass(frozen=True, slots=True)
class ArticleClassifier:
    weights: NDArray[np.float32]  # dimensions x classes
    bias: NDArray[np.float32]

    def probabilities(self, vector: NDArray[np.float32]) -> NDArray[np.float64]:
        """One probability per class (the label numbers given to `train`), summing to 1."""
        logits = (vector.astype(np.float32, copy=False) / TEMPERATURE) @ self.weights + self.bias
        exp = np.exp(logits - logits.max())
        return (exp / exp.sum()).astype(np.float64)


def train(vectors: NDArray[np.float32], labels: NDArray[np.intp], classes: int) -> ArticleClassifier | None:
    """A classifier from knowledge-text `vectors` to their article's number in `range(classes)`;
    None when there are too few articles to tell apart or too many texts to train on quickly."""
    if classes < 2 or len(vectors) * classes > MAX_TEXTS_X_ARTICLES:
        return None
    inputs = (vectors / TEMPERATURE).astype(np.float32)
    targets = np.eye(classes, dtype=np.float32)[labels]
    weights = np.zeros((inputs.shape[1], classes), dtype=np.float32)
    bias = np.zeros(classes, dtype=np.float32)
    velocity_w, velocity_b = np.zeros_like(weights), np.zeros_like(bias)
    for _ in range(ITERATIONS):
        ahead_w, ahead_b = weights + MOMENTUM * velocity_w, bias + MOMENTUM * velocity_b
        logits = inputs @ ahead_w + ahead_b
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        error = (exp / exp.sum(axis=1, keepdims=True) - targets) / len(inputs)
        velocity_w = MOMENTUM * velocity_w - STEP * (inputs.T @ error + L2 * ahead_w)
        velocity_b = MOMENTUM * velocity_b - STEP * error.sum(axis=0)
        weights += velocity_w
        bias += velocity_b
    return ArticleClassifier(weights, bias)
