"""Grounding benchmark: invented numbers before and after the check, and what the check costs.

    python -m infra.bench.grounding [--questions infra/bench/data/customer_questions.txt] [--max-tokens 150]

Runs the sample bot's engine against a real llama.cpp server with SmolLM2-135M (the `local-llm`
extra; started here on loopback) over customer questions written in customers' own words. For
each question the model's first answer is what a bot without the check would have sent; the
engine's reply is what the bot sends. Prints, over the answered questions:

* the invented-number rate before and after: answers stating a fact (phone, amount, percentage,
  duration, date, time, URL, e-mail, other number) found nowhere in the knowledge base;
* the share of answers still in the model's own words (neither fallen back nor quoted);
* the check's cost per answer (evidence built from the passages, history and message, then the
  answer checked), against the answer's generation time measured in the same run, as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bots.runtime import make_knowledge
from core.botdef import load_bot
from core.engine import ConversationEngine, TurnContext
from core.grounding import Evidence, check
from core.knowledge import load_articles
from core.messages import ContentKind
from core.nlu.language import detect_language
from core.ports import GenerationRequest
from core.postprocess import clean
from core.records import InboundStatus, StoredMessage
from core.reply import ReplySource
from infra.local_llm import LocalLLMServer
from workers.llm import LLMServerGenerator

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = Path(__file__).with_name("data") / "customer_questions.txt"
CHECK_REPEATS = 200


@dataclass
class FirstAnswers:
    """A `Generator` that remembers the first answer of each turn: what an unchecked bot sends."""

    inner: LLMServerGenerator
    first: str | None = None
    seconds: list[float] = field(default_factory=list)

    async def generate(self, request: GenerationRequest) -> str:
        start = time.perf_counter()
        text = await self.inner.generate(request)
        self.seconds.append(time.perf_counter() - start)
        if self.first is None:
            self.first = clean(text, request)
        return text

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        return self.inner.stream(request)


def read_questions(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def check_cost(engine: ConversationEngine, question: str, answer: str, language: str) -> float:
    """Seconds for one check as the engine runs it: evidence from the passages and message, then the answer."""
    passages = engine.retrieve(question, language)
    sources = (*(f"{p.article.title}\n{p.article.body}" for p in passages), question)
    start = time.perf_counter()
    for _ in range(CHECK_REPEATS):
        check(answer, Evidence.of(sources))
    return (time.perf_counter() - start) / CHECK_REPEATS


async def run(args: argparse.Namespace) -> int:
    bot = load_bot(ROOT / "bots" / "acme_bank")
    articles = load_articles(bot.knowledge_dir)
    generation = bot.definition.generation.model_copy(update={"max_new_tokens": args.max_tokens})
    definition = bot.definition.model_copy(update={"generation": generation})
    knowledge = Evidence.of(f"{a.title}\n{a.body}" for a in articles)
    # Retrieval as the running bot has it (hybrid when bot.yaml names an encoder).
    retriever = make_knowledge(bot)
    questions = read_questions(args.questions)
    print(f"grounding bench: {len(questions)} questions, SmolLM2-135M via llama.cpp, max_tokens={args.max_tokens}",
          flush=True)
    before = after = answered = own_words = 0
    sources: Counter[str] = Counter()
    costs: list[float] = []
    generation_seconds: list[float] = []
    with LocalLLMServer() as server:
        llm = LLMServerGenerator(server.url, model="smollm2", timeout=300)
        for number, question in enumerate(questions, start=1):
            recorder = FirstAnswers(llm)
            engine = ConversationEngine(definition, retriever, recorder)
            language = detect_language(question)
            message = StoredMessage(number, number, "bench", f"q{number}", question, ContentKind.TEXT,
                                    InboundStatus.RECEIVED, datetime.now(UTC))
            reply = await engine.reply(message, TurnContext(language, ()))
            sources[str(reply.source)] += 1
            if recorder.first is None:  # no match: the model was not asked
                print(f"[{number}/{len(questions)}] {reply.source}: {question}", flush=True)
                continue
            answered += 1
            invented_before = not check(recorder.first, knowledge).grounded
            invented_after = not check(reply.text, knowledge).grounded
            before += invented_before
            after += invented_after
            own_words += reply.source is ReplySource.LLM
            costs.append(check_cost(engine, question, recorder.first, language))
            generation_seconds.append(recorder.seconds[0])
            outcome = reply.grounding.outcome if reply.grounding else "-"
            print(f"[{number}/{len(questions)}] {outcome}{' (invented)' if invented_before else ''}: {question}",
                  flush=True)
    if not answered:
        print("no question was answered by the model", file=sys.stderr)
        return 1
    cost_ms = statistics.mean(costs) * 1000
    gen_ms = statistics.mean(generation_seconds) * 1000
    print(f"replies by source: {dict(sorted(sources.items()))}")
    print(f"invented-number rate before the check: {before}/{answered} = {before / answered:.1%}")
    print(f"invented-number rate after the check:  {after}/{answered} = {after / answered:.1%}")
    print(f"answers in the model's own words:      {own_words}/{answered} = {own_words / answered:.1%}")
    print(f"check per answer: {cost_ms:.3f} ms (max {max(costs) * 1000:.3f} ms); generation per answer: "
          f"{gen_ms:.0f} ms; ratio check/generation: {cost_ms / gen_ms:.5f}")
    return 0 if after == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--max-tokens", type=int, default=150)
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
