"""The single entry point the conversation engine uses to read a message.

Bundling intent, sentiment, entities and language into one immutable
value keeps the engine independent of how each part is computed, and lets
the pipeline run without a trained model (e.g. a bot with no intent data
yet still gets entities, sentiment and language).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final, Protocol

from core.nlu.encoders import QueryEmbedding
from core.nlu.entities import Entity, extract_entities
from core.nlu.intents import IntentModel
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
    # An intent model read the message. Without one, intent and out_of_scope are placeholders
    # ("unknown", out of scope) that no rule should trust.
    classified: bool
    # The message's vector, handed on to retrieval (never stored: see engine.understanding_record).
    embedding: QueryEmbedding | None = field(default=None, compare=False, repr=False)


class IntentModelSource(Protocol):
    """Where the pipeline gets the intent model for each message: one fixed model, or one that
    follows what a retrain installs (`infra.model_store.WatchedIntentModel`)."""

    def current(self) -> IntentModel | None:
        """The model to classify with now; None while there is none."""


class _Fixed:
    __slots__ = ("_model",)

    def __init__(self, model: IntentModel | None) -> None:
        self._model = model

    def current(self) -> IntentModel | None:
        return self._model


class NluPipeline:
    """Runs intent classification, sentiment, entity extraction and language detection.

    ``oos_threshold`` overrides the threshold stored in the model, so a
    deployment can trade coverage for caution without retraining. Without
    a model every message gets intent ``"unknown"`` with confidence 0.0,
    is out of scope and is not ``classified``.
    """

    __slots__ = ("_oos_threshold", "_source")

    def __init__(self, model: IntentModel | IntentModelSource | None, oos_threshold: float | None = None) -> None:
        self._source: IntentModelSource = model if model is not None and not isinstance(model, IntentModel) else _Fixed(model)
        self._oos_threshold = oos_threshold

    @property
    def oos_threshold(self) -> float | None:
        """Confidence threshold: the override, else the model's own (None without a model). A
        model trained with out-of-scope examples and an encoder decides by its combined score
        instead (`core.nlu.nearest_examples`) unless an override is set."""
        model = self._source.current()
        if model is None:
            return None
        return self._oos_threshold if self._oos_threshold is not None else model.threshold

    def analyze(
        self, text: str, *, today: date | None = None, embedding: QueryEmbedding | None = None
    ) -> Understanding:
        """Return the :class:`Understanding` of ``text``; ``today`` anchors relative dates.

        ``embedding``: the message's vector retrieval already computed; a model trained on that
        encoder uses it instead of encoding the message again (one encoder call a message)."""
        model = self._source.current() if text.strip() else None
        intent, confidence, out_of_scope = self._intent(model, text, embedding)
        sentiment = analyze_sentiment(text)
        return Understanding(
            intent=intent,
            intent_confidence=confidence,
            out_of_scope=out_of_scope,
            sentiment=sentiment.label,
            sentiment_score=sentiment.score,
            entities=extract_entities(text, today=today),
            language=detect_language(text),
            classified=model is not None,
            embedding=embedding,
        )

    def _intent(
        self, model: IntentModel | None, text: str, embedding: QueryEmbedding | None
    ) -> tuple[str, float, bool]:
        if model is None:
            return UNKNOWN_INTENT, 0.0, True
        reusable = embedding is not None and model.encoder == embedding.encoder
        vector = embedding.vector if reusable and embedding is not None else None
        prediction = model.predict(text, threshold=self._oos_threshold, embedding=vector)
        return prediction.intent, prediction.confidence, prediction.out_of_scope
