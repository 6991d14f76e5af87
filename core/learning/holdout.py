"""The fixed, stratified held-out split every intent model is scored on.

Retraining keeps a new model only if it beats the installed one, which is
only a fair contest when both are scored on examples neither was trained
on. The split is therefore a pure function of the data and a seed (stored
in the model card): within each label, examples are ranked by a keyed hash
of their text and the first ``fraction`` are held out. Unlike a shuffled
split, adding examples to the bot's files moves at most a few old ones
across the boundary, and identical examples always land on the same side,
so duplicates never leak from training into the score.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Final
from collections.abc import Sequence

from core.nlu.datasets import Example

DEFAULT_FRACTION: Final = 0.1
DEFAULT_SEED: Final = 0
# Calibration needs at least this many training examples per label
# (IntentModelConfig.calibration_folds); rarer labels hold none out.
MIN_TRAIN_PER_LABEL: Final = 3


@dataclass(frozen=True, slots=True)
class HoldoutSplit:
    """Training and held-out examples, and the parameters that reproduce the split."""

    train: tuple[Example, ...]
    held_out: tuple[Example, ...]
    seed: int
    fraction: float


def split_holdout(
    examples: Sequence[Example],
    *,
    fraction: float = DEFAULT_FRACTION,
    seed: int = DEFAULT_SEED,
    min_train: int = MIN_TRAIN_PER_LABEL,
) -> HoldoutSplit:
    """Hold out ``fraction`` of each label's examples (rounded), keeping ``min_train`` to train on.

    Both parts keep the input order of their examples.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction}")
    by_label: dict[str, list[int]] = defaultdict(list)
    for position, (_, label) in enumerate(examples):
        by_label[label].append(position)
    held: set[int] = set()
    for positions in by_label.values():
        count = min(int(len(positions) * fraction + 0.5), max(len(positions) - min_train, 0))
        # Copies of one example share a rank and are taken or left together.
        copies: dict[Example, list[int]] = defaultdict(list)
        for position in positions:
            copies[examples[position]].append(position)
        taken = 0
        for example in sorted(copies, key=lambda e: _rank(seed, e)):
            if taken + len(copies[example]) > count:
                break
            held.update(copies[example])
            taken += len(copies[example])
    return HoldoutSplit(
        train=tuple(e for p, e in enumerate(examples) if p not in held),
        held_out=tuple(e for p, e in enumerate(examples) if p in held),
        seed=seed,
        fraction=fraction,
    )


def _rank(seed: int, example: Example) -> bytes:
    text, label = example
    key = f"{seed}\x00{label}\x00{text}".encode()
    return hashlib.blake2b(key, digest_size=8).digest()
