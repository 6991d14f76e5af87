"""The article classifier: deterministic, right on points near what it was trained on, and off
where training would be too slow."""

from __future__ import annotations

import numpy as np
import pytest

from core import article_classifier


def clusters(seed: int, per_class: int = 12, classes: int = 5, dims: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors scattered around one random direction per class, and the class centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dims))
    labels = np.repeat(np.arange(classes), per_class)
    points = centres[labels] + 0.6 * rng.normal(size=(len(labels), dims))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32), labels, centres


def test_it_tells_unseen_points_of_each_article_apart() -> None:
    vectors, labels, centres = clusters(0)
    classifier = article_classifier.train(vectors, labels, 5)
    assert classifier is not None
    unseen, unseen_labels, _ = clusters(1)
    rng = np.random.default_rng(2)
    unseen = centres[unseen_labels] + 0.6 * rng.normal(size=unseen.shape)
    unseen = (unseen / np.linalg.norm(unseen, axis=1, keepdims=True)).astype(np.float32)
    probabilities = np.stack([classifier.probabilities(v) for v in unseen])
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities.argmax(axis=1) == unseen_labels).mean() >= 0.9


def test_the_same_knowledge_gives_the_same_model() -> None:
    vectors, labels, _ = clusters(3)
    first, second = article_classifier.train(vectors, labels, 5), article_classifier.train(vectors, labels, 5)
    assert first is not None and second is not None
    assert np.array_equal(first.weights, second.weights) and np.array_equal(first.bias, second.bias)


def test_no_classifier_for_one_article_or_past_the_training_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors, labels, _ = clusters(4)
    assert article_classifier.train(vectors, np.zeros(len(vectors), dtype=np.intp), 1) is None
    monkeypatch.setattr(article_classifier, "MAX_TEXTS_X_ARTICLES", len(vectors) * 5 - 1)
    assert article_classifier.train(vectors, labels, 5) is None
