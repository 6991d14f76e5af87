"""Retraining: a new intent model from the bot's data plus corrections, installed only if no worse.

Corrections can be wrong (a tired agent, a mischievous customer), so a new
model has to earn its place: both the new and the installed model are
scored on the same held-out examples (the split recorded on the installed
model's card), and the new one is installed only with at least as many
correct answers. Ties install the new model, which has seen more data.
This is the function a periodic job calls; ``csbot retrain`` wraps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

from core.learning.corrections import Correction, UsableCorrections, usable_corrections
from core.learning.holdout import DEFAULT_FRACTION, DEFAULT_SEED, split_holdout
from core.learning.intent_data import IntentData
from core.learning.model_card import ModelCard
from core.learning.ports import IntentModelStore
from core.learning.scoring import HeldOutScore, held_out_score
from core.learning.training import train_intent_model
from core.nlu.evaluation import Progress
from core.nlu.intents import DEFAULT_OOS_LABEL, IntentModelConfig

INSTALLED = "installed new model"
KEPT = "kept current model"


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What retraining did and why.

    ``current_score`` is None when no model was installed before (the new
    one is then installed whatever it scores).
    """

    installed: bool
    new_card: ModelCard
    new_score: HeldOutScore
    current_score: HeldOutScore | None
    corrections: UsableCorrections
    location: str

    @property
    def decision(self) -> str:
        return INSTALLED if self.installed else KEPT

    def report_lines(self) -> list[str]:
        current = self.current_score.describe() if self.current_score else "none installed"
        return [
            f"held-out examples: {self.new_score.total} (seed {self.new_card.split_seed}, "
            f"fraction {self.new_card.held_out_fraction})",
            self.corrections.describe(),
            f"current model: {current}",
            f"new model:     {self.new_score.describe()}",
            f"decision: {self.decision} ({self.location})",
        ]


def retrain(
    bot: str,
    data: IntentData,
    corrections: Sequence[Correction],
    store: IntentModelStore,
    *,
    config: IntentModelConfig | None = None,
    oos_label: str = DEFAULT_OOS_LABEL,
    progress: Progress | None = None,
) -> RetrainOutcome:
    """Train on ``data`` plus usable ``corrections``; install through ``store`` if no worse.

    Raises ``TrainingDataError`` when the data cannot train a model and
    ``ModelFileError`` when the installed model cannot be read.
    """
    report = progress or (lambda _line: None)
    current = store.current()
    card = current.card if current else None
    seed = card.split_seed if card else DEFAULT_SEED
    fraction = card.held_out_fraction if card else DEFAULT_FRACTION
    if current and card is None:
        report(f"installed model at {current.location} has no model card; using the default split")
    elif card and card.data_sha256 != data.sha256:
        report("the bot's intent files changed since the installed model was trained")
    split = split_holdout(data.examples, fraction=fraction, seed=seed)
    usable = usable_corrections(corrections, {label for _, label in split.train}, split.held_out)
    report(usable.describe())
    trained = train_intent_model(
        bot, split, data_sha256=data.sha256, corrections=usable.examples,
        config=config, oos_label=oos_label, progress=report,
    )
    current_score = None
    if current is not None:
        report("scoring the installed model on the same held-out examples")
        same_encoder = config is not None and current.model.encoder == config.features.encoder
        vectors = trained.held_out_vectors if same_encoder else None
        current_score = held_out_score(current.model, split.held_out, oos_label, vectors)
    if current_score is None or trained.score.correct >= current_score.correct:
        location = store.install(trained)
        return RetrainOutcome(True, trained.card, trained.score, current_score, usable, location)
    assert current is not None
    return RetrainOutcome(False, trained.card, trained.score, current_score, usable, current.location)
