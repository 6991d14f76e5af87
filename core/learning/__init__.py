"""Continuous learning: turning a bot's data and its conversations into better models.

Pure domain code like :mod:`core.nlu`: the database queries that feed it live
in ``infra.db.training_data``, model storage in ``infra.model_store``, and the
commands that wire them in ``bots``. The pieces:

* :mod:`~core.learning.intent_data`: the bot's labelled intent examples;
* :mod:`~core.learning.holdout`: the fixed split every model is scored on;
* :mod:`~core.learning.training`: training with a model card;
* :mod:`~core.learning.retraining`: train with corrections, keep the better model;
* :mod:`~core.learning.chat_export` and :mod:`~core.learning.intent_export`:
  conversations as fine-tuning and labelling data, personal data redacted.
"""

from core.learning.chat_export import ChatExample, ChatMessage, build_chat_example
from core.learning.corrections import Correction
from core.learning.holdout import HoldoutSplit, split_holdout
from core.learning.intent_data import IntentData, load_intent_data
from core.learning.intent_export import IntentRecord
from core.learning.model_card import ModelCard
from core.learning.ports import CurrentModel, IntentModelStore
from core.learning.transcripts import ConversationLog, LogEntry

# Training, scoring and retraining bring scikit-learn (most of a second to import): they load on
# first use, so a process that only serves messages never pays for them.
_LAZY = {
    "RetrainOutcome": "retraining", "retrain": "retraining",
    "HeldOutScore": "scoring", "held_out_score": "scoring",
    "TrainedModel": "training", "train_intent_model": "training",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"core.learning.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'core.learning' has no attribute {name!r}")

__all__ = [
    "ChatExample",
    "ChatMessage",
    "ConversationLog",
    "Correction",
    "CurrentModel",
    "HeldOutScore",
    "HoldoutSplit",
    "IntentData",
    "IntentModelStore",
    "IntentRecord",
    "LogEntry",
    "ModelCard",
    "RetrainOutcome",
    "TrainedModel",
    "build_chat_example",
    "held_out_score",
    "load_intent_data",
    "retrain",
    "split_holdout",
    "train_intent_model",
]
