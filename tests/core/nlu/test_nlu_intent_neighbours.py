"""Each intent's nearest training example in its score: a message next to one example of an intent
is pulled to it, training judges each example only against the other folds, the term is off with
labelled out-of-scope examples, and it travels in the model file. The encoder rows are given, so
no encoder runs."""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.nlu import encoders
from core.nlu.encoders import load_encoder
from core.nlu.features import FeatureConfig
from core.nlu.intent_neighbours import IntentNeighbours, best_cosines, fit
from core.nlu.intents import IntentModel, IntentModelConfig

DIM = 6


def unit(*parts: tuple[int, float]) -> np.ndarray:
    row = np.zeros(DIM, dtype=np.float32)
    for index, value in parts:
        row[index] = value
    return row / np.linalg.norm(row)


# One card example is about sending money abroad: its row sits beside the transfer examples'.
EXAMPLES = [
    *((f"my card is {word}", "card", unit((0, 1.0))) for word in ("lost", "stolen", "missing", "gone", "blocked")),
    ("send money with my card abroad", "card", unit((1, 1.0), (4, 0.35))),
    *((f"send money {words}", "transfer", unit((1, 1.0))) for words in ("abroad", "today", "to a friend", "in euros", "now")),
    *((f"opening hours {words}", "hours", unit((2, 1.0))) for words in ("today", "sunday", "tomorrow", "at noon", "please")),
]
TRAIN = [(text, label) for text, label, _ in EXAMPLES]
ROWS = np.stack([row for _, _, row in EXAMPLES])
# Worded like a transfer, meant (its row says) like the card example about sending money abroad.
MESSAGE, MESSAGE_ROW = "can I send money now", unit((1, 1.0), (4, 0.35))


def config(neighbour_weight: float) -> IntentModelConfig:
    return IntentModelConfig(features=FeatureConfig(encoder="e5-small"), neighbour_weight=neighbour_weight)


def train(neighbour_weight: float, examples: Sequence[tuple[str, str]] = TRAIN, rows: np.ndarray = ROWS) -> IntentModel:
    return IntentModel.train(examples, config=config(neighbour_weight), embeddings=rows)


def test_each_intent_scores_its_closest_example() -> None:
    examples = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    starts = np.array([0, 2, 2, 4])  # group 0: two examples, group 1: none, group 2: two
    cosines = best_cosines(np.array([[0.0, 2.0]]), examples, starts)  # a row of any length
    assert cosines[0] == pytest.approx([0.8, -1.0, 1.0])
    term = IntentNeighbours.of(examples, np.array([2, 0, 2, 0]), 3, weight=4.0)
    assert term.scores(np.array([[1.0, 0.0]]))[0] == pytest.approx([4 * 0.6, -4.0, 4 * 1.0], abs=1e-3)
    assert term.rows.dtype == np.float16


def test_the_nearest_example_raises_its_intent_over_the_wording() -> None:
    without, with_term = train(0.0), train(16.0)
    assert without.predict(MESSAGE, embedding=MESSAGE_ROW).intent == "transfer"
    assert with_term.predict(MESSAGE, embedding=MESSAGE_ROW).intent == "card"
    # The linear part is the same model; the term adds 16 x each intent's best cosine.
    best = {"card": 1.0, "transfer": float(MESSAGE_ROW @ unit((1, 1.0))), "hours": 0.0}
    added = with_term.scores([MESSAGE], MESSAGE_ROW[None]) - without.scores([MESSAGE], MESSAGE_ROW[None])
    assert added[0] == pytest.approx([16 * best[label] for label in with_term.labels], abs=0.02)


def test_out_of_fold_each_example_meets_only_the_other_folds() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    targets = np.arange(12) % 3
    folds = [(np.setdiff1d(np.arange(12), held), held) for held in (np.arange(0, 4), np.arange(4, 8), np.arange(8, 12))]
    term, out_of_fold = fit(vectors, targets, 3, 2.0, folds)
    for _, held in folds:
        others = np.setdiff1d(np.arange(12), held)
        for i in held:
            expected = [2.0 * max(float(vectors[i] @ vectors[j]) for j in others if targets[j] == k) for k in range(3)]
            assert out_of_fold[i] == pytest.approx(expected, abs=2e-3)
    # Against all examples, each one finds itself: what the threshold must not be chosen from.
    full = term.scores(vectors)
    assert full[np.arange(12), targets] == pytest.approx(2.0, abs=2e-3)
    assert (out_of_fold[np.arange(12), targets] < 2.0 - 0.01).all()


def test_training_calibrates_on_out_of_fold_neighbours(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scores the temperature is fitted on hold each example out of its own neighbours."""
    from core.nlu import intents

    seen: list[np.ndarray] = []
    fitted = intents.fit_temperature
    monkeypatch.setattr(intents, "fit_temperature", lambda scores, targets: seen.append(scores) or fitted(scores, targets))
    model = train(16.0)
    own = seen[0][np.arange(len(TRAIN)), [model.labels.index(label) for _, label in TRAIN]]
    # Every example's own-intent score would include 16 x its cosine with itself (16) otherwise;
    # the card example about sending money has no near copy in its intent.
    assert own[5] < 16.0 - 1.0


def test_off_with_labelled_out_of_scope_examples_and_without_an_encoder() -> None:
    oos = [("what is the capital of peru", "oos"), ("tell me a joke", "oos"), ("who won the match", "oos")]
    rows = np.vstack([ROWS, np.stack([unit((5, 1.0))] * 3)])
    with_oos = train(16.0, [*TRAIN, *oos], rows)
    plain_oos = train(0.0, [*TRAIN, *oos], rows)
    assert with_oos._neighbours is None
    assert np.array_equal(with_oos.scores([MESSAGE], MESSAGE_ROW[None]), plain_oos.scores([MESSAGE], MESSAGE_ROW[None]))
    tfidf = IntentModel.train(TRAIN, config=IntentModelConfig(neighbour_weight=16.0))
    assert tfidf._neighbours is None


def test_the_rows_travel_in_the_model_file(tmp_path: Path) -> None:
    model, path = train(16.0), tmp_path / "intents.pkl"
    model.save(path)
    loaded = IntentModel.load(path)
    assert loaded._neighbours is not None and loaded._neighbours.rows.dtype == np.float16
    assert np.allclose(loaded.scores([MESSAGE], MESSAGE_ROW[None]), model.scores([MESSAGE], MESSAGE_ROW[None]))
    assert loaded.predict(MESSAGE, embedding=MESSAGE_ROW).intent == "card"
    smaller = tmp_path / "without.pkl"
    train(0.0).save(smaller)
    assert path.stat().st_size - smaller.stat().st_size >= ROWS.size * 2  # float16 rows


def test_a_model_saved_before_the_term_loads_and_scores_as_it_did(tmp_path: Path) -> None:
    """A model pickled by the previous release has no `_neighbours` slot at all."""
    model = train(0.0)
    del model._neighbours
    path = tmp_path / "old.pkl"
    model.save(path)
    loaded = IntentModel.load(path)
    assert np.array_equal(loaded.scores([MESSAGE], MESSAGE_ROW[None]), train(0.0).scores([MESSAGE], MESSAGE_ROW[None]))
    assert loaded.predict(MESSAGE, embedding=MESSAGE_ROW).intent == "transfer"
    assert pickle.loads(pickle.dumps(train(16.0)))._neighbours is not None


class TableEncoder:
    """The rows above by text, counting its calls."""

    calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        TableEncoder.calls.append(list(texts))
        table = {text: row for text, _, row in EXAMPLES} | {MESSAGE: MESSAGE_ROW}
        return np.stack([table[text] for text in texts])


@pytest.fixture
def table_encoder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(encoders, "ENCODERS", {**encoders.ENCODERS, "table": TableEncoder})
    load_encoder.cache_clear()
    TableEncoder.calls = []
    yield
    load_encoder.cache_clear()


def test_without_a_given_row_the_message_is_encoded_once_for_both(table_encoder: None) -> None:
    model = IntentModel.train(TRAIN, config=IntentModelConfig(features=FeatureConfig(encoder="table"), neighbour_weight=16.0))
    TableEncoder.calls = []
    assert model.predict(MESSAGE).intent == "card"
    assert TableEncoder.calls == [[MESSAGE]]
    assert np.allclose(model.probabilities([MESSAGE]), model.probabilities([MESSAGE], MESSAGE_ROW[None]))
