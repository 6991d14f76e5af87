"""What an installed intent model is: when and on what it was trained, and how well it scores.

The card travels inside the model file (see :mod:`core.nlu.model_file`)
and is what retraining reads to reproduce the held-out split the model was
scored on, and what an operator reads to know which model is serving.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any
from collections.abc import Mapping

from core.nlu.errors import ModelFileError


@dataclass(frozen=True, slots=True)
class ModelCard:
    """Metadata of one trained intent model.

    ``n_examples`` counts training examples including ``n_corrections``;
    ``held_out_*`` describe the split (reproducible from ``split_seed`` and
    ``held_out_fraction``) and the model's score on it; ``data_sha256`` is
    the digest of the bot's intent files at training time.
    """

    bot: str
    trained_at: str
    n_examples: int
    n_corrections: int
    n_labels: int
    n_held_out: int
    held_out_accuracy: float
    held_out_macro_f1: float
    split_seed: int
    held_out_fraction: float
    train_seconds: float
    sklearn_version: str
    data_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str) -> ModelCard:
        """Rebuild a card; ``ModelFileError`` naming ``source`` and the field if one is missing or mistyped."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name not in data:
                raise ModelFileError(source, f"model metadata lacks field {spec.name!r}")
            value = data[spec.name]
            expected = {"int": int, "float": (int, float), "str": str}[str(spec.type)]
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ModelFileError(source, f"model metadata field {spec.name!r} has the wrong type")
            values[spec.name] = float(value) if spec.type == "float" else value
        return cls(**values)
