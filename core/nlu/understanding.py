"""The single entry point the conversation engine uses to read a message.

Bundling intent, sentiment, entities and language into one immutable
value keeps the engine independent of how each part is computed, and lets
the pipeline run without a trained model (e.g. a bot with no intent data
yet still gets entities, sentiment and language).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol

from core.nlu.entities import Entity, extract_entities
from core.nlu.intents import IntentPrediction
from core.nlu.language import detect_language
from core.nlu.sentiment import SentimentLabel, analyze_sentiment

UNKNOWN_INTENT: Final = "unknown"


@dataclass(frozen=True, slots=True)
class Understanding:
    """Everything the NLU layer can tell about one message."""

    intent: str
    intent_confidence: float
    out_of_scope: bool
    sentiment: SentimentLabel
    sentiment_score: float
    entities: tuple[Entity, ...]
    language: str


class IntentClassifier(Protocol):
    """What the pipeline needs of an intent model (an `IntentModel`, or one that reloads itself)."""

    @property
    def threshold(self) -> float: ...

    def predict(self, text: str, *, threshold: float | None = None) -> IntentPrediction: ...


class NluPipeline:
    """Runs intent classification, sentiment, entity extraction and language detection.

    ``oos_threshold`` overrides the threshold stored in the model, so a
    deployment can trade coverage for caution without retraining. Without
    a model every message gets intent ``"unknown"`` with confidence 0.0
    and is out of scope.
    """

    __slots__ = ("_model", "_oos_threshold")

    def __init__(self, model: IntentClassifier | None, oos_threshold: float | None = None) -> None:
        self._model = model
        self._oos_threshold = oos_threshold

    @property
    def oos_threshold(self) -> float | None:
        """Threshold in force: the override, else the model's own (None without a model)."""
        if self._oos_threshold is not None:
            return self._oos_threshold
        return self._model.threshold if self._model is not None else None

    def analyze(self, text: str, *, today: date | None = None) -> Understanding:
        """Return the :class:`Understanding` of ``text``; ``today`` anchors relative dates."""
        intent, confidence, out_of_scope = self._intent(text)
        sentiment = analyze_sentiment(text)
        return Understanding(
            intent=intent,
            intent_confidence=confidence,
            out_of_scope=out_of_scope,
            sentiment=sentiment.label,
            sentiment_score=sentiment.score,
            entities=extract_entities(text, today=today),
            language=detect_language(text),
        )

    def _intent(self, text: str) -> tuple[str, float, bool]:
        if self._model is None or not text.strip():
            return UNKNOWN_INTENT, 0.0, True
        prediction = self._model.predict(text, threshold=self._oos_threshold)
        return prediction.intent, prediction.confidence, prediction.out_of_scope
