from __future__ import annotations

import csv
import pickle
import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from core.nlu.errors import ModelFileError, TrainingDataError
from core.nlu.intents import IntentModel, IntentPrediction
from core.nlu.model_file import FORMAT_NAME

FIXTURES = Path(__file__).parent / "fixtures"
BANK_INTENTS = Path(__file__).parents[3] / "bots" / "acme_bank" / "intents"

OFF_TOPIC = [
    "what's the weather like in paris tomorrow",
    "tell me a joke about cats",
    "who won the world cup in 2018",
    "recommend a good italian restaurant nearby",
    "how many calories are in a banana",
    "play some jazz music",
    "what is the capital of australia",
    "how do I bake sourdough bread",
    "set an alarm for 7 am",
    "translate good morning into german",
    "what time does the football match start",
    "how tall is mount everest",
    "can you book me a flight to tokyo",
    "what's a good name for a puppy",
    "how do plants make oxygen",
    "明天天气怎么样",
    "给我讲个笑话",
    "附近有什么好吃的餐厅",
]


def read_csv(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def tiny_model() -> IntentModel:
    return IntentModel.train(read_csv(FIXTURES / "tiny_train.csv"))


@pytest.fixture(scope="module")
def bank_split() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """40 training and 10 held-out examples per BANKING77 intent (fast but realistic)."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for example in read_csv(BANK_INTENTS / "train.csv"):
        by_label[example[1]].append(example)
    rng = random.Random(0)
    train, held_out = [], []
    for label in sorted(by_label):
        examples = by_label[label]
        rng.shuffle(examples)
        train += examples[:40]
        held_out += examples[40:50]
    return train, held_out


@pytest.fixture(scope="module")
def bank_model(bank_split: tuple[list[tuple[str, str]], list[tuple[str, str]]]) -> IntentModel:
    return IntentModel.train(bank_split[0] + read_csv(BANK_INTENTS / "zh.csv"))


def test_tiny_model_classifies_english_and_chinese(tiny_model: IntentModel) -> None:
    for text, label in read_csv(FIXTURES / "tiny_test.csv"):
        prediction = tiny_model.predict(text, threshold=0.0)
        assert isinstance(prediction, IntentPrediction)
        assert prediction.intent == label, text
        assert 0.0 < prediction.confidence <= 1.0
        assert not prediction.out_of_scope


def test_batch_agrees_with_single_predictions(tiny_model: IntentModel) -> None:
    texts = [text for text, _ in read_csv(FIXTURES / "tiny_test.csv")]
    assert tiny_model.predict_batch(texts) == [tiny_model.predict(text) for text in texts]
    assert tiny_model.predict_batch([]) == []


def test_threshold_override_decides_out_of_scope(tiny_model: IntentModel) -> None:
    assert tiny_model.predict("my card got stolen", threshold=1.01).out_of_scope
    assert not tiny_model.predict("my card got stolen", threshold=0.0).out_of_scope
    assert 0.0 < tiny_model.threshold < 1.0


def test_probabilities_are_distributions(tiny_model: IntentModel) -> None:
    probabilities = tiny_model.probabilities(["汇率", "where is my card"])
    assert probabilities.shape == (2, len(tiny_model.labels))
    assert probabilities.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_bank_model_beats_majority_baseline(
    bank_model: IntentModel, bank_split: tuple[list[tuple[str, str]], list[tuple[str, str]]]
) -> None:
    train, held_out = bank_split
    majority = Counter(label for _, label in train).most_common(1)[0][0]
    baseline = sum(label == majority for _, label in held_out) / len(held_out)
    predictions = bank_model.predict_batch([text for text, _ in held_out])
    hits = sum(p.intent == label for p, (_, label) in zip(predictions, held_out, strict=True))
    accuracy = hits / len(held_out)
    assert accuracy > 0.75
    assert accuracy > 10 * baseline


def test_bank_model_understands_chinese_customers(bank_model: IntentModel) -> None:
    assert bank_model.predict("我的银行卡丢了").intent == "lost_or_stolen_card"
    assert bank_model.predict("汇率是多少").intent == "exchange_rate"
    assert bank_model.predict("新卡怎么还没寄到").intent == "card_arrival"


def test_off_topic_messages_fall_below_threshold_more_often(
    bank_model: IntentModel, bank_split: tuple[list[tuple[str, str]], list[tuple[str, str]]]
) -> None:
    in_scope = bank_model.predict_batch([text for text, _ in bank_split[1]])
    off_topic = bank_model.predict_batch(OFF_TOPIC)
    in_scope_rejected = sum(p.out_of_scope for p in in_scope) / len(in_scope)
    off_topic_rejected = sum(p.out_of_scope for p in off_topic) / len(off_topic)
    assert off_topic_rejected > in_scope_rejected + 0.3
    assert in_scope_rejected < 0.25


def test_oos_examples_train_an_out_of_scope_class() -> None:
    examples = read_csv(FIXTURES / "tiny_train.csv") + [
        (text, "oos") for text in OFF_TOPIC
    ]
    model = IntentModel.train(examples, oos_label="oos")
    assert "oos" in model.labels
    prediction = model.predict("tell me a joke about dogs", threshold=0.0)
    assert prediction.intent == "oos"
    assert prediction.out_of_scope


def test_save_load_round_trip(tiny_model: IntentModel, tmp_path: Path) -> None:
    path = tmp_path / "models" / "intents.pkl"
    tiny_model.save(path)
    loaded = IntentModel.load(path)
    texts = ["卡丢了", "exchange rate please", "where is my card"]
    assert loaded.predict_batch(texts) == tiny_model.predict_batch(texts)
    assert loaded.threshold == tiny_model.threshold
    assert loaded.labels == tiny_model.labels


def test_corrupt_model_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"\x80\x05this is not a pickle")
    with pytest.raises(ModelFileError) as error:
        IntentModel.load(path)
    assert str(path) in str(error.value)
    assert "corrupt" in str(error.value)


def test_missing_and_foreign_model_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        IntentModel.load(tmp_path / "absent.pkl")
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFileError, match="not an intent model"):
        IntentModel.load(foreign)


def test_incompatible_format_version_is_rejected(tiny_model: IntentModel, tmp_path: Path) -> None:
    path = tmp_path / "future.pkl"
    path.write_bytes(pickle.dumps({"format": FORMAT_NAME, "version": 999, "model": tiny_model}))
    with pytest.raises(ModelFileError, match="version 999"):
        IntentModel.load(path)


@pytest.mark.parametrize(
    "examples",
    [
        [],
        [("hello", "greet")] * 10,
        [("hello", "greet")] * 5 + [("bye", "leave")] * 2,
        [("hello", "greet")] * 5 + [("", "leave")] * 5,
    ],
)
def test_untrainable_data_is_rejected(examples: list[tuple[str, str]]) -> None:
    with pytest.raises(TrainingDataError):
        IntentModel.train(examples)
