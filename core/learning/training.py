"""Training an intent model on the training part of a held-out split, with its model card.

The deployed model never sees its held-out examples: the score on the card
is then an honest estimate, and a later retrain can compare a new model
with this one on the same unseen examples.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.botdef import BotDefinition
from core.embedding_cache import default_cache_dir
from core.learning.holdout import HoldoutSplit
from core.learning.model_card import ModelCard
from core.learning.scoring import HeldOutScore, held_out_score
from core.nlu.datasets import Example
from core.nlu.example_vectors import example_vectors
from core.nlu.evaluation import Progress, encoded
from core.nlu.features import FeatureConfig
from core.nlu.intents import DEFAULT_OOS_LABEL, IntentModel, IntentModelConfig
from core.nlu.model_file import SKLEARN_VERSION

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A freshly trained model, its card and its held-out score."""

    model: IntentModel
    card: ModelCard
    score: HeldOutScore
    # The encoder's rows of the held-out examples (None without an encoder): scoring the
    # installed model on them need not encode them again.
    held_out_vectors: NDArray[np.float32] | None = None


def model_config(bot: BotDefinition, folder: Path | None = None) -> IntentModelConfig | None:
    """The training configuration bot.yaml asks for (None: the defaults). With an encoder, the
    examples' rows are kept in the user's cache, seeded from the bot's `folder` when it ships one."""
    if bot.intent_encoder is None:
        return None
    vectors = functools.partial(_cached_vectors, bot.intent_encoder, default_cache_dir() / f"{bot.name}.intents", folder)
    return IntentModelConfig(features=FeatureConfig(encoder=bot.intent_encoder), example_vectors=vectors)


def _cached_vectors(
    encoder: str, cache: Path, folder: Path | None, texts: Sequence[str], progress: Progress
) -> NDArray[np.float32]:
    return example_vectors(encoder, texts, cache=cache, seed_dir=folder, progress=progress)


def train_intent_model(
    bot: str,
    split: HoldoutSplit,
    *,
    data_sha256: str,
    corrections: Sequence[Example] = (),
    config: IntentModelConfig | None = None,
    oos_label: str = DEFAULT_OOS_LABEL,
    progress: Progress | None = None,
    clock: Clock = lambda: datetime.now(UTC),
) -> TrainedModel:
    """Train on ``split.train`` plus ``corrections`` and score on ``split.held_out``.

    Raises ``TrainingDataError`` when the examples cannot train a model.
    """
    report = progress or (lambda _line: None)
    examples = (*split.train, *corrections)
    labels = {label for _, label in examples}
    report(
        f"training on {len(examples)} examples ({len(corrections)} corrections, {len(labels)} labels); "
        f"{len(split.held_out)} held out"
    )
    # One call for every text, so a cache keeps exactly this split's examples.
    vectors = encoded(config, [text for text, _ in (*examples, *split.held_out)], report)
    started = time.perf_counter()
    model = IntentModel.train(examples, oos_label=oos_label, config=config, embeddings=vectors[: len(examples)] if vectors is not None else None)
    seconds = time.perf_counter() - started
    report(f"trained in {seconds:.1f} s; scoring on {len(split.held_out)} held-out examples")
    held_out_vectors = vectors[len(examples):] if vectors is not None else None
    score = held_out_score(model, split.held_out, oos_label, held_out_vectors)
    card = ModelCard(
        bot=bot,
        trained_at=clock().isoformat(timespec="seconds"),
        n_examples=len(examples),
        n_corrections=len(corrections),
        n_labels=len(labels),
        n_held_out=score.total,
        held_out_accuracy=round(score.accuracy, 4),
        held_out_macro_f1=score.macro_f1,
        split_seed=split.seed,
        held_out_fraction=split.fraction,
        train_seconds=round(seconds, 2),
        sklearn_version=SKLEARN_VERSION,
        data_sha256=data_sha256,
    )
    return TrainedModel(model, card, score, held_out_vectors)
