"""The retrieval encoder's embedding in the intent features, with the real e5-small encoder: it
reads paraphrases TF-IDF cannot, precomputed rows give the same answers as encoding, and a
message costs one encoder call however many parts read its meaning."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.nlu.datasets import load_examples
from core.nlu.encoders import QueryEmbedding, load_encoder
from core.nlu.example_vectors import example_vectors
from core.nlu.features import EmbeddingMismatch, FeatureConfig
from core.nlu.intents import IntentModel, IntentModelConfig
from core.nlu.nearest_examples import nearest_cosine
from core.nlu.understanding import NluPipeline

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_BOT = Path(__file__).resolve().parents[3] / "bots" / "acme_bank"
WITH_E5 = IntentModelConfig(features=FeatureConfig(encoder="e5-small", encoder_weight=3.0))


@pytest.fixture(scope="module")
def train() -> Sequence[tuple[str, str]]:
    return load_examples(FIXTURES / "paraphrase_train.csv", "train")


@pytest.fixture(scope="module")
def paraphrases() -> Sequence[tuple[str, str]]:
    """Customers' own words for the same intents, sharing (almost) no word with the training rows."""
    return load_examples(FIXTURES / "paraphrase_test.csv", "test")


@pytest.fixture(scope="module")
def encoded(train: Sequence[tuple[str, str]]) -> IntentModel:
    return IntentModel.train(train, config=WITH_E5)


def accuracy(model: IntentModel, examples: Sequence[tuple[str, str]]) -> float:
    predictions = model.predict_batch([text for text, _ in examples])
    return sum(p.intent == label for p, (_, label) in zip(predictions, examples, strict=True)) / len(examples)


def test_the_e5_block_reads_paraphrases_tfidf_alone_misses(
    train: Sequence[tuple[str, str]], paraphrases: Sequence[tuple[str, str]], encoded: IntentModel
) -> None:
    plain = accuracy(IntentModel.train(train), paraphrases)
    with_meaning = accuracy(encoded, paraphrases)
    assert with_meaning >= plain + 0.1, (with_meaning, plain)
    assert with_meaning >= 0.7


def test_given_rows_classify_exactly_as_encoding_does(
    encoded: IntentModel, paraphrases: Sequence[tuple[str, str]]
) -> None:
    texts = [text for text, _ in paraphrases]
    rows = load_encoder("e5-small").encode(texts)
    assert np.allclose(encoded.probabilities(texts, rows), encoded.probabilities(texts), atol=1e-5)
    with pytest.raises(EmbeddingMismatch, match="2 embedding rows for 3 texts"):
        encoded.probabilities(texts[:3], rows[:2])


def test_another_encoders_vector_is_not_mistaken_for_this_ones(encoded: IntentModel) -> None:
    """A row from a different encoder may have the same width: the pipeline encodes afresh."""
    pipeline = NluPipeline(encoded)
    text = "where has my plastic gone"
    elsewhere = load_encoder("e5-small").encode(["terminate my account please"])[0]
    assert pipeline.analyze(text, embedding=QueryEmbedding("minilm", elsewhere)).intent == "lost_card"
    # Under its own encoder's name the row is taken as the message's meaning, without encoding.
    assert pipeline.analyze(text, embedding=QueryEmbedding("e5-small", elsewhere)).intent == "close_account"


def test_training_vectors_are_encoded_once_and_then_read_from_the_cache(
    tmp_path: Path, train: Sequence[tuple[str, str]]
) -> None:
    texts = [text for text, _ in train]
    lines: list[str] = []
    first = example_vectors("e5-small", texts, cache=tmp_path / "bot.intents", progress=lines.append)
    assert lines[-1].startswith(f"e5-small: 0 of {len(texts)} vectors were cached")
    again = example_vectors("e5-small", texts, cache=tmp_path / "bot.intents", progress=lines.append)
    assert lines[-1].startswith(f"e5-small: {len(texts)} of {len(texts)} vectors were cached")
    assert np.array_equal(first, again)
    assert np.allclose(first, load_encoder("e5-small").encode(texts), atol=1e-5)


class CountingQueries:
    """Counts query encodings of every e5-small instance (each one costs ~50 ms), delegating to
    the class's own method. Patched on the class: the process's batching encoder may hold an
    instance loaded before another test cleared `load_encoder`'s cache."""

    def __init__(self, encode: object) -> None:
        self.encode = encode
        self.texts: list[list[str]] = []

    def __get__(self, instance: object, owner: type | None = None) -> object:
        return lambda texts: self(instance, texts)

    def __call__(self, instance: object, texts: Sequence[str]) -> np.ndarray:
        self.texts.append(list(texts))
        return self.encode(instance, texts)  # type: ignore[operator]


async def test_one_encoder_call_per_message_serves_the_intent_model_and_retrieval(
    tmp_path: Path, train: Sequence[tuple[str, str]], encoded: IntentModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real runtime (`csbot chat`'s path): intake, turn, NLU, hybrid retrieval."""
    from bots.chat import ask
    from bots.runtime import build_runtime
    from channels.console import ConsoleChannel
    from infra.settings import load_settings
    from workers.inprocess import InProcessJobs

    bot = tmp_path / "bot"
    shutil.copytree(SAMPLE_BOT, bot, ignore=shutil.ignore_patterns("intents", "eval"))
    encoded.save(bot / "intents.pkl")
    yaml_text = (bot / "bot.yaml").read_text(encoding="utf-8").replace("intents: intents\n", "intents: null\nintent_model: intents.pkl\n")
    (bot / "bot.yaml").write_text(yaml_text, encoding="utf-8")
    monkeypatch.setenv("CSBOT_CACHE_DIR", str(tmp_path / "cache"))
    settings = load_settings(csbot_bot=str(bot), database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    console = ConsoleChannel()
    runtime = await build_runtime(settings, channels=[console], jobs=InProcessJobs())
    try:
        kind = type(load_encoder("e5-small"))
        counter = CountingQueries(kind.encode_queries)  # type: ignore[attr-defined]
        monkeypatch.setattr(kind, "encode_queries", counter)
        answer = await ask(runtime, console, "I can't find my card anywhere, what should I do?")
        assert answer
        assert counter.texts == [["I can't find my card anywhere, what should I do?"]]
    finally:
        await runtime.close()


def test_the_sample_bot_ships_vectors_for_every_intent_example() -> None:
    """`csbot train` then reads them instead of encoding 10,000 examples (about eight minutes)."""
    from core.botdef import load_bot
    from core.embedding_cache import KnowledgeText, TextRole, missing_texts
    from core.learning.intent_data import load_intent_data
    from core.nlu.example_vectors import seed_path

    bot = load_bot(SAMPLE_BOT)
    assert bot.definition.intent_encoder == bot.definition.retrieval.encoder == "e5-small"
    seed = seed_path(bot.folder, load_encoder("e5-small").name)  # type: ignore[attr-defined]
    texts = [KnowledgeText(text, TextRole.QUESTION) for text, _ in load_intent_data(bot).examples]
    missing = missing_texts(texts, seed)
    assert not missing, f"{seed} lacks {len(missing)} intent examples; run `CSBOT_BOT=bots/acme_bank csbot knowledge vectors`"


def test_labelled_out_of_scope_examples_teach_the_model_to_reject_unseen_ones(
    train: Sequence[tuple[str, str]], paraphrases: Sequence[tuple[str, str]]
) -> None:
    """The chosen method: an `oos` class plus the threshold rejecting 90% of it out of fold."""
    oos = load_examples(FIXTURES / "paraphrase_oos.csv", "train")
    unseen = [text for text, _ in load_examples(FIXTURES / "paraphrase_oos_test.csv", "test")]
    model = IntentModel.train([*train, *oos], config=WITH_E5)
    assert model.labels.count("oos") == 1
    recall = sum(p.out_of_scope for p in model.predict_batch(unseen)) / len(unseen)
    kept = model.predict_batch([text for text, _ in paraphrases])
    in_scope = sum(not p.out_of_scope and p.intent == label for p, (_, label) in zip(kept, paraphrases, strict=True))
    assert recall >= 0.8, recall
    assert in_scope / len(paraphrases) >= 0.6, in_scope
    without = IntentModel.train(train, config=WITH_E5)  # no labelled examples: the 10% in-scope rule
    assert sum(p.out_of_scope for p in without.predict_batch(unseen)) < recall * len(unseen)


def test_with_labelled_out_of_scope_examples_the_nearest_examples_keep_more_in_scope_messages(
    train: Sequence[tuple[str, str]], paraphrases: Sequence[tuple[str, str]]
) -> None:
    """The top score joined with the nearest examples' cosine against the confidence alone, each
    at the threshold training chose for it: as many unseen out-of-scope messages rejected, more
    paraphrases kept and right (15 against 11 of 18 when measured)."""
    oos = load_examples(FIXTURES / "paraphrase_oos.csv", "train")
    unseen = [text for text, _ in load_examples(FIXTURES / "paraphrase_oos_test.csv", "test")]
    model = IntentModel.train([*train, *oos], config=WITH_E5)

    def outcome(threshold: float | None) -> tuple[int, int]:
        rejected = sum(p.out_of_scope for p in model.predict_batch(unseen, threshold=threshold))
        kept = model.predict_batch([text for text, _ in paraphrases], threshold=threshold)
        right = sum(not p.out_of_scope and p.intent == label for p, (_, label) in zip(kept, paraphrases, strict=True))
        return rejected, right

    (nearest_rejected, nearest_right), (confidence_rejected, confidence_right) = outcome(None), outcome(model.threshold)
    assert nearest_rejected >= confidence_rejected and nearest_right > confidence_right, (nearest_right, confidence_right)


def test_nearest_cosine_is_the_mean_of_the_three_closest_examples() -> None:
    examples = np.eye(4, dtype=np.float16)
    row = np.array([[0.8, 0.6, 0.0, 0.0]], dtype=np.float32)
    assert nearest_cosine(row, examples)[0] == pytest.approx((0.8 + 0.6 + 0.0) / 3, abs=1e-3)
