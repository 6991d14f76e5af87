"""Abstention thresholds per language: the encoder's scores sit higher in Chinese, so each
language gets its own `min_score`, and a threshold for a language the bot does not speak is a
configuration error naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.botdef import LoadedBot, Retrieval, load_bot
from core.engine import ConversationEngine
from core.errors import ConfigError
from core.extractive import ExtractiveResponder
from core.knowledge_index import KnowledgeIndex
from tests.understanding.conftest import SAMPLE_BOT


def test_a_language_without_its_own_threshold_uses_min_score() -> None:
    retrieval = Retrieval(min_score=0.5, min_score_by_language={"zh": 0.7})
    assert retrieval.min_score_for("zh") == 0.7
    assert retrieval.min_score_for("en") == 0.5


def test_a_threshold_for_a_language_the_bot_does_not_speak_is_refused(tmp_path: Path) -> None:
    definition = yaml.safe_load((SAMPLE_BOT / "bot.yaml").read_text(encoding="utf-8"))
    definition["retrieval"]["min_score_by_language"] = {"en": 0.6, "fr": 0.6}
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    (tmp_path / "knowledge").mkdir()
    with pytest.raises(ConfigError) as raised:
        load_bot(tmp_path)
    assert "min_score_by_language" in str(raised.value) and "fr" in str(raised.value)


# Questions no off-topic exemplar comes nearer than the articles do (`core.off_topic`), so the
# threshold alone decides.
@pytest.mark.parametrize(("question", "language"), [("is the branch open on saturday", "en"), ("周六网点开门吗", "zh")])
def test_the_engine_abstains_by_the_threshold_of_the_customer_language(
    sample_bot: LoadedBot, hybrid_index: KnowledgeIndex, question: str, language: str
) -> None:
    assert not hybrid_index.off_topic(question)
    # The passage nearest the question: ranking may put another first (the article classifier helps
    # order them), but every passage is gated by its own score.
    best = max(hybrid_index.search(question, language=language), key=lambda p: p.score)
    strict = sample_bot.definition.model_copy(
        update={"retrieval": sample_bot.definition.retrieval.model_copy(update={"min_score_by_language": {language: best.score + 0.01}})}
    )
    lenient = sample_bot.definition.model_copy(
        update={"retrieval": sample_bot.definition.retrieval.model_copy(update={"min_score_by_language": {language: best.score - 0.01}})}
    )
    assert ConversationEngine(strict, hybrid_index, ExtractiveResponder(strict)).retrieve(question, language) == []
    assert ConversationEngine(lenient, hybrid_index, ExtractiveResponder(lenient)).retrieve(question, language)
