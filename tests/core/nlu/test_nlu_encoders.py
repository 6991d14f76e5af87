"""Encoder features: an embedding that knows paraphrases the training data never showed, added to
TF-IDF; the model file names its encoder instead of carrying it; the names agree everywhere."""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.botdef import BotDefinition
from core.nlu import encoders
from core.nlu.encoders import load_encoder
from core.nlu.errors import ModelFileError
from core.nlu.features import FeatureConfig
from core.nlu.intents import IntentModel, IntentModelConfig

# What the fake encoder "knows": words the training data never uses, mapped to a topic.
TOPICS = {"card": 0, "plastic": 0, "visa": 0, "transfer": 1, "wire": 1, "remittance": 1, "hours": 2, "open": 2, "opening": 2}


class TopicEncoder:
    """Each text becomes the unit vector of the topics its words name (zero when none)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 3), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace("?", "").split():
                if word in TOPICS:
                    rows[i, TOPICS[word]] = 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


@pytest.fixture
def topic_encoder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(encoders, "ENCODERS", {**encoders.ENCODERS, "topics": TopicEncoder})
    load_encoder.cache_clear()
    yield
    load_encoder.cache_clear()


TRAIN = [
    *((f"my card {w}", "card") for w in ("is lost", "was stolen", "does not work", "got blocked", "expired")),
    *((f"send a transfer {w}", "transfer") for w in ("abroad", "today", "to my friend", "in euros", "now")),
    *((f"what are your hours {w}", "hours") for w in ("today", "on sunday", "at the branch", "tomorrow", "please")),
]
# Each shares no word with its intent's examples; only the encoder links them.
UNSEEN = [("lost plastic", "card"), ("visa gone", "card"), ("wire money", "transfer"),
          ("remittance fee", "transfer"), ("opening time", "hours"), ("are you open", "hours")]


def accuracy(model: IntentModel) -> float:
    return sum(model.predict(text).intent == label for text, label in UNSEEN) / len(UNSEEN)


def test_the_encoder_block_carries_what_tfidf_cannot(topic_encoder: None) -> None:
    plain = IntentModel.train(TRAIN)
    encoded = IntentModel.train(TRAIN, config=IntentModelConfig(features=FeatureConfig(encoder="topics", encoder_weight=2.0)))
    assert accuracy(encoded) == 1.0
    assert accuracy(plain) < 0.7


def test_the_model_file_names_its_encoder_and_needs_it_to_load(topic_encoder: None, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    model = IntentModel.train(TRAIN, config=IntentModelConfig(features=FeatureConfig(encoder="topics", encoder_weight=2.0)))
    path = tmp_path / "intents.pkl"
    model.save(path)
    assert b"TopicEncoder" not in path.read_bytes()  # the name travels, not the encoder
    assert accuracy(IntentModel.load(path)) == 1.0

    monkeypatch.setattr(encoders, "ENCODERS", {"e5-small": encoders.ENCODERS["e5-small"]})
    load_encoder.cache_clear()
    with pytest.raises(ModelFileError, match="trained with intent encoder 'topics': unknown; choose one of e5-small"):
        IntentModel.load(path)  # at start-up, not at the first customer message


def test_encoder_names_agree_in_bot_yaml_the_cli_and_the_registry() -> None:
    from bots.cli import parser

    allowed = typing.get_args(typing.get_args(BotDefinition.model_fields["intent_encoder"].annotation)[0])
    eval_intents = parser()._subparsers._group_actions[0].choices["eval"]._subparsers._group_actions[0].choices["intents"]  # type: ignore[union-attr]
    [encoder_flag] = [a for a in eval_intents._actions if a.dest == "encoder"]
    assert set(allowed) == set(encoder_flag.choices) == set(encoders.ENCODERS)


def test_e5_small_embeds_paraphrases_close_together() -> None:
    vectors = load_encoder("e5-small").encode(["I lost my card", "my card is gone", "what time do you open"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1  # E5 cosines sit high: 0.97 against 0.80


def test_a_model_saved_before_encoders_existed_still_loads_and_predicts() -> None:
    from core.nlu.datasets import load_examples

    fixtures = Path(__file__).parent / "fixtures"
    old = IntentModel.load(fixtures / "model_before_encoders.pkl")  # its FeatureConfig has no encoder fields
    new = IntentModel.train(load_examples(fixtures / "tiny_train.csv", "train"))
    texts = [text for text, _ in load_examples(fixtures / "tiny_test.csv", "test")]
    assert [p.intent for p in old.predict_batch(texts)] == [p.intent for p in new.predict_batch(texts)]
