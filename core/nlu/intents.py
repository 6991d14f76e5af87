"""Intent classification with calibrated confidence and out-of-scope detection.

Method (chosen by measurement on held-out splits of BANKING77 and
CLINC150): a TF-IDF union of word 1-2-grams and character 2-5-grams feeds
a one-vs-rest linear SVM. Scores become probabilities through a softmax
whose temperature is fitted on out-of-fold scores, and the same
out-of-fold predictions choose the out-of-scope threshold (see
:mod:`core.nlu.oos_threshold`). Labelled out-of-scope examples, when
present, train an extra class that rejects on its own as well.
With an encoder (:mod:`core.nlu.encoders`) its embedding of the message
joins the features; callers that already have the vector (retrieval
computed it) pass it in, so a message is encoded once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from core.nlu.calibration import fit_temperature, softmax
from core.nlu.encoders import EncoderUnavailable
from core.nlu.errors import ModelFileError, TrainingDataError
from core.nlu.features import FeatureConfig, TextFeaturizer
from core.nlu.oos_threshold import (
    DEFAULT_IN_SCOPE_REJECTION,
    DEFAULT_OOS_RECALL_TARGET,
    ThresholdEvidence,
    choose_threshold,
)

if TYPE_CHECKING:
    from sklearn.svm import LinearSVC

DEFAULT_OOS_LABEL = "oos"

# The encoder rows of many texts, from a cache when there is one; the callable reports progress.
ExampleVectors = Callable[[Sequence[str], Callable[[str], None]], NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """The classifier's reading of one message.

    ``intent`` is the most likely label (the out-of-scope label when that
    class wins); ``confidence`` its calibrated probability; ``out_of_scope``
    is True when the out-of-scope class wins or confidence is below the
    threshold, in which case ``intent`` is only a hint.
    """

    intent: str
    confidence: float
    out_of_scope: bool


@dataclass(frozen=True, slots=True)
class IntentModelConfig:
    """Training hyper-parameters (defaults are the measured choice)."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    svm_c: float = 1.0
    calibration_folds: int = 3
    in_scope_rejection: float = DEFAULT_IN_SCOPE_REJECTION
    oos_weight: float = 0.0
    # With labelled out-of-scope examples: the threshold that rejects this share of them (out of
    # fold) with the fewest in-scope losses. None: the in-scope rejection rule in any case.
    oos_recall_target: float | None = DEFAULT_OOS_RECALL_TARGET
    random_state: int = 0
    # Where training finds the encoder's rows of its examples (see core.nlu.example_vectors);
    # None: the encoder is run on them. Not part of the trained model.
    example_vectors: ExampleVectors | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class _LinearScorer:
    """Weights of the fitted linear model, kept as plain arrays for speed."""

    classes: tuple[str, ...]
    weights: NDArray[np.float32]  # n_features x n_classes: rows gathered per term
    bias: NDArray[np.float32]

    def scores(self, features: csr_matrix) -> NDArray[np.float64]:
        return np.asarray(features @ self.weights, dtype=np.float64) + self.bias


class IntentModel:
    """A trained intent classifier; build one with :meth:`train` or :meth:`load`."""

    __slots__ = ("_featurizer", "_scorer", "_temperature", "oos_label", "threshold")

    def __init__(
        self,
        featurizer: TextFeaturizer,
        scorer: _LinearScorer,
        temperature: float,
        oos_label: str,
        threshold: float,
    ) -> None:
        self._featurizer = featurizer
        self._scorer = scorer
        self._temperature = temperature
        self.oos_label = oos_label
        self.threshold = threshold

    @property
    def labels(self) -> tuple[str, ...]:
        """Every class the model can output (including the out-of-scope one)."""
        return self._scorer.classes

    @property
    def temperature(self) -> float:
        """Softmax temperature fitted during training."""
        return self._temperature

    @classmethod
    def train(
        cls,
        examples: Sequence[tuple[str, str]],
        *,
        oos_label: str = DEFAULT_OOS_LABEL,
        config: IntentModelConfig | None = None,
        embeddings: NDArray[np.float32] | None = None,
    ) -> IntentModel:
        """Train on ``(text, label)`` pairs; ``oos_label`` marks out-of-scope examples.
        ``embeddings``: the configured encoder's rows for the examples, when already computed."""
        config = config or IntentModelConfig()
        texts, labels = _validated(examples, oos_label, config.calibration_folds)
        featurizer = TextFeaturizer(config.features)
        features = featurizer.fit_transform(texts, embeddings)
        classes = tuple(sorted(set(labels)))
        targets = np.array([classes.index(label) for label in labels])
        oof_scores = _out_of_fold_scores(features, targets, len(classes), config)
        temperature = fit_temperature(oof_scores, targets)
        threshold = choose_threshold(
            _evidence(softmax(oof_scores, temperature), targets, classes, oos_label),
            in_scope_rejection=config.in_scope_rejection,
            oos_weight=config.oos_weight,
            oos_recall_target=config.oos_recall_target,
        )
        scorer = _fit_scorer(features, targets, classes, config)
        return cls(featurizer, scorer, temperature, oos_label, threshold)

    @property
    def encoder(self) -> str | None:
        """The sentence encoder whose embedding the features include (None: TF-IDF only)."""
        return self._featurizer.encoder

    def predict(
        self, text: str, *, threshold: float | None = None, embedding: NDArray[np.float32] | None = None
    ) -> IntentPrediction:
        """Classify one message; ``threshold`` overrides the stored one; ``embedding`` is the
        message's vector from :attr:`encoder` when the caller has it (retrieval computed it)."""
        rows = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return self.predict_batch([text], threshold=threshold, embeddings=rows)[0]

    def predict_batch(
        self, texts: Sequence[str], *, threshold: float | None = None, embeddings: NDArray[np.float32] | None = None
    ) -> list[IntentPrediction]:
        """Classify many messages at once (much faster per message)."""
        if not texts:
            return []
        limit = self.threshold if threshold is None else threshold
        probabilities = self.probabilities(texts, embeddings)
        best = probabilities.argmax(axis=1)
        return [
            self._prediction(self._scorer.classes[index], float(row[index]), limit)
            for index, row in zip(best, probabilities, strict=False)
        ]

    def probabilities(self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None) -> NDArray[np.float64]:
        """Calibrated class probabilities, columns ordered as :attr:`labels`."""
        return softmax(self.scores(texts, embeddings), self._temperature)

    def scores(self, texts: Sequence[str], embeddings: NDArray[np.float32] | None = None) -> NDArray[np.float64]:
        """Raw linear scores (before the softmax), columns ordered as :attr:`labels`."""
        return self._scorer.scores(self._featurizer.transform(list(texts), embeddings))

    def save(self, path: str | Path, metadata: Mapping[str, Any] | None = None) -> None:
        """Write the model (and optional ``metadata``) to ``path`` (see :mod:`core.nlu.model_file`)."""
        from core.nlu.model_file import write_model

        write_model(self, Path(path), metadata)

    @classmethod
    def load(cls, path: str | Path) -> IntentModel:
        """Read a model written by :meth:`save`; raises ``ModelFileError``, also when the model
        needs a sentence encoder this installation lacks (better at start-up than per message)."""
        from core.nlu.model_file import read_model

        return read_model(Path(path), cls)._ready(path)

    def to_bytes(self, metadata: Mapping[str, Any] | None = None) -> bytes:
        """The model (and ``metadata``) as the bytes :meth:`save` writes, for a database row."""
        from core.nlu.model_file import model_bytes

        return model_bytes(self, metadata)

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> tuple[IntentModel, dict[str, Any]]:
        """Read :meth:`to_bytes` output and its metadata; ``ModelFileError`` naming ``source``."""
        from core.nlu.model_file import model_from_bytes

        model, metadata = model_from_bytes(data, cls, source)
        return model._ready(source), metadata

    def _ready(self, source: str | Path) -> IntentModel:
        try:
            self._featurizer.ready()
        except EncoderUnavailable as exc:
            raise ModelFileError(source, f"trained with {exc}") from exc
        return self

    def _prediction(self, intent: str, confidence: float, limit: float) -> IntentPrediction:
        out_of_scope = intent == self.oos_label or confidence < limit
        return IntentPrediction(intent, round(confidence, 6), out_of_scope)


def _validated(
    examples: Sequence[tuple[str, str]], oos_label: str, folds: int
) -> tuple[list[str], list[str]]:
    """Split examples into texts and labels, rejecting untrainable data early."""
    texts: list[str] = []
    labels: list[str] = []
    for position, example in enumerate(examples):
        if len(example) != 2 or not all(isinstance(part, str) for part in example):
            raise TrainingDataError(f"example {position} is not a (text, label) pair of strings")
        text, label = example
        if not text.strip() or not label.strip():
            raise TrainingDataError(f"example {position} has an empty text or label")
        texts.append(text)
        labels.append(label.strip())
    counts = Counter(label for label in labels if label != oos_label)
    if len(counts) < 2:
        raise TrainingDataError("need examples of at least two in-scope intents")
    rare = sorted(label for label, count in Counter(labels).items() if count < folds)
    if rare:
        raise TrainingDataError(
            f"need at least {folds} examples per intent for calibration; too few for: "
            + ", ".join(rare[:10])
        )
    return texts, labels


def _new_svm(config: IntentModelConfig) -> LinearSVC:
    # Training only: serving scores with plain arrays, and importing scikit-learn costs most of
    # a second at every process start.
    from sklearn.svm import LinearSVC

    return LinearSVC(C=config.svm_c, random_state=config.random_state)


def _out_of_fold_scores(
    features: csr_matrix, targets: NDArray[np.int_], n_classes: int, config: IntentModelConfig
) -> NDArray[np.float64]:
    """Decision scores of each example from a model that never saw it."""
    from sklearn.model_selection import StratifiedKFold  # training only: spares serving its import

    scores = np.zeros((len(targets), n_classes))
    folds = StratifiedKFold(config.calibration_folds, shuffle=True, random_state=config.random_state)
    for fit_rows, held_rows in folds.split(np.zeros(len(targets)), targets):
        svm = _new_svm(config).fit(features[fit_rows], targets[fit_rows])
        # Every class has >= calibration_folds examples (checked by
        # _validated), so stratified folds train on all classes each time.
        scores[held_rows] = _scores_2d(svm, features[held_rows])
    return scores


def _scores_2d(svm: LinearSVC, features: csr_matrix) -> NDArray[np.float64]:
    """Decision scores as an n x k matrix, also for a two-class model."""
    scores = svm.decision_function(features)
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def _fit_scorer(
    features: csr_matrix, targets: NDArray[np.int_], classes: tuple[str, ...], config: IntentModelConfig
) -> _LinearScorer:
    svm = _new_svm(config).fit(features, targets)
    weights = np.asarray(svm.coef_, dtype=np.float32)
    bias = np.asarray(svm.intercept_, dtype=np.float32)
    if len(classes) == 2:
        weights = np.vstack([-weights, weights])
        bias = np.concatenate([-bias, bias])
    return _LinearScorer(classes, np.ascontiguousarray(weights.T), bias)


def _evidence(
    probabilities: NDArray[np.float64], targets: NDArray[np.int_], classes: tuple[str, ...], oos_label: str
) -> ThresholdEvidence:
    best = probabilities.argmax(axis=1)
    oos_index = classes.index(oos_label) if oos_label in classes else -1
    return ThresholdEvidence(
        confidence=probabilities.max(axis=1),
        predicted_oos=best == oos_index,
        correct=best == targets,
        is_oos=targets == oos_index,
    )
