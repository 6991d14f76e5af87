"""The real pipeline against a real llama.cpp server running SmolLM2-135M (the `local-llm` extra).

The model is tiny and invents freely: these tests check what csbot promises whatever it says,
not the wording of its answers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.runtime import make_knowledge
from core.botdef import load_bot
from core.engine import ConversationEngine, TurnContext
from core.grounding import Evidence, check
from core.knowledge import load_articles
from core.knowledge_index import KnowledgeIndex
from core.messages import ContentKind
from core.ports import ChatMessage, GenerationRequest
from core.records import InboundStatus, StoredMessage
from core.reply import ReplySource
from infra.local_llm import LocalLLMServer
from workers.llm import LLMServerGenerator

SAMPLE_BOT = Path(__file__).resolve().parents[2] / "bots" / "acme_bank"


def ask(text: str, *, max_tokens: int = 48, stop: tuple[str, ...] = ()) -> GenerationRequest:
    messages = (ChatMessage("system", "You are a helpful bank assistant. Answer briefly."), ChatMessage("user", text))
    return GenerationRequest(messages=messages, max_new_tokens=max_tokens, temperature=0.2, stop=stop)


@pytest.fixture
def generator(local_llm: LocalLLMServer) -> LLMServerGenerator:
    # These tests check what is said, not how fast: a loaded CI machine took over 120 s to read one
    # long Chinese prompt, and a timeout only falls back to the passage, leaving nothing checked.
    return LLMServerGenerator(local_llm.url, model="smollm2", timeout=600)


@pytest.fixture(scope="module")
def engine_parts() -> tuple[object, KnowledgeIndex, Evidence]:
    bot = load_bot(SAMPLE_BOT)
    articles = load_articles(bot.knowledge_dir)
    # Short answers keep the suite quick on a laptop CPU; the check does not depend on length.
    generation = bot.definition.generation.model_copy(update={"max_new_tokens": 120})
    definition = bot.definition.model_copy(update={"generation": generation})
    # Retrieval as the running bot has it (hybrid when bot.yaml names an encoder).
    return definition, make_knowledge(bot), Evidence.of(f"{a.title}\n{a.body}" for a in articles)


def message(text: str, number: int) -> StoredMessage:
    return StoredMessage(number, number, "console", f"m{number}", text, ContentKind.TEXT, InboundStatus.RECEIVED,
                         datetime.now(UTC))


async def test_streams_in_several_chunks(generator: LLMServerGenerator) -> None:
    chunks = [c async for c in generator.stream(ask("How do I reset my online banking password?"))]
    assert len(chunks) > 3
    assert "".join(chunks).strip()


async def test_max_tokens_and_stop_are_honoured(generator: LLMServerGenerator) -> None:
    short = await generator.generate(ask("Tell me a long story about a bank.", max_tokens=5))
    longer = await generator.generate(ask("Tell me a long story about a bank.", max_tokens=60))
    assert 0 < len(short.split()) <= 6 < len(longer.split())
    stopped = await generator.generate(ask("List three fruits, one per line, numbered 1. 2. 3.", stop=("2.",)))
    assert "2." not in stopped


async def test_two_conversations_at_once_both_get_their_whole_answer(generator: LLMServerGenerator) -> None:
    english, chinese = await asyncio.gather(
        generator.generate(ask("What is a savings account?", max_tokens=40)),
        generator.generate(ask("什么是储蓄账户？请用中文回答。", max_tokens=40)),
    )
    # Neither stream was cut by the other (the server's default would interrupt the first).
    assert len(english.split()) >= 10
    assert len(chinese) >= 10


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("I lost my card, who do I call?", "en"),
        ("how much is express delivery for a new card", "en"),
        ("我的卡丢了，打什么电话？", "zh"),
        ("境外刷卡手续费是多少", "zh"),
    ],
)
async def test_delivered_answers_state_no_number_the_knowledge_base_lacks(
    generator: LLMServerGenerator, engine_parts: tuple, question: str, language: str
) -> None:
    bot, retriever, knowledge = engine_parts
    engine = ConversationEngine(bot, retriever, generator)
    reply = await engine.reply(message(question, 1), TurnContext(language, ()))
    assert reply.source in (ReplySource.LLM, ReplySource.KNOWLEDGE_FALLBACK)
    assert reply.language == language
    assert check(reply.text, knowledge).grounded, check(reply.text, knowledge).claims
    assert reply.citations
    # Checked (grounded, regenerated or fallen back), unless the tiny model answered in another
    # language: then the passage is quoted without a check to record.
    assert reply.grounding is not None or reply.reason == "generated answer unusable"


async def test_the_check_catches_what_the_model_invents(generator: LLMServerGenerator, engine_parts: tuple) -> None:
    """Asked for numbers with no passage to take them from, the model makes them up; each
    invention is found."""
    _, _, knowledge = engine_parts
    answers = await asyncio.gather(*(
        generator.generate(ask(q, max_tokens=60)) for q in (
            "What is the phone number of Acme Bank's lost card hotline? Reply with the number.",
            "How many dollars does Acme Bank charge for a wire transfer to Mexico? Give the amount.",
        )
    ))  # fmt: skip
    reports = [check(a, knowledge) for a in answers]
    assert any(not r.grounded for r in reports), answers


def test_prompts_are_read_with_the_threads_it_was_given(local_llm: LocalLLMServer) -> None:
    """llama.cpp's own default for prompt reading is every CPU the OS reports (on a VM, possibly
    many more than the process may use), where the threads then wait on each other."""
    command = local_llm.command()
    threads = command[command.index("--n_threads") + 1]
    assert command[command.index("--n_threads_batch") + 1] == threads
