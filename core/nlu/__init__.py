"""Natural-language understanding for customer messages (English and Chinese).

Pure domain code: depends only on the standard library, numpy, scipy and
scikit-learn, never on channels, workers, infra or bots.
The conversation engine calls :class:`NluPipeline`; the rest is exported
for tools (evaluation, redaction before logging) and tests.
"""

from core.nlu.entities import Entity, extract_entities
from core.nlu.errors import DatasetFileError, ModelFileError, NluError, TrainingDataError
from core.nlu.intents import IntentModel, IntentModelConfig, IntentPrediction
from core.nlu.language import detect_language
from core.nlu.money import Money
from core.nlu.redaction import redact
from core.nlu.sentiment import Sentiment, analyze_sentiment
from core.nlu.understanding import NluPipeline, Understanding



def __getattr__(name: str) -> object:
    """`evaluate` and `format_report` load on first use: they pull in sklearn.metrics and
    scipy.stats, which every message-handling process would otherwise pay for at start."""
    if name in ("evaluate", "format_report"):
        from core.nlu import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'core.nlu' has no attribute {name!r}")


__all__ = [
    "DatasetFileError",
    "Entity",
    "IntentModel",
    "IntentModelConfig",
    "IntentPrediction",
    "ModelFileError",
    "Money",
    "NluError",
    "NluPipeline",
    "Sentiment",
    "TrainingDataError",
    "Understanding",
    "analyze_sentiment",
    "detect_language",
    "evaluate",
    "extract_entities",
    "format_report",
    "redact",
]
