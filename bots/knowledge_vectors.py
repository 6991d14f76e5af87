"""`csbot knowledge vectors`: write the bot's shipped seeds of knowledge (and intent example) vectors.

The seed spares a fresh machine the minute of encoding the sample knowledge base, and the eight
of encoding its 10,000 intent examples before `csbot train` (with `intent_encoder: e5-small`);
run this after editing the bot's knowledge or intent files so the seeds cover them again (tests
check that they do).
"""

from __future__ import annotations

from typing import TextIO

from core.botdef import LoadedBot
from core.embedding_cache import EmbeddingCache, KnowledgeText, TextRole, seed_path
from core.knowledge import load_articles
from core.learning.intent_data import load_intent_data
from core.nlu.encoders import load_retrieval_encoder
from core.nlu.example_vectors import seed_path as intent_seed_path
from core.retrieval import indexed_texts


def write_knowledge_vectors(bot: LoadedBot, out: TextIO) -> int:
    name = bot.definition.retrieval.encoder
    if not name:
        print(f"{bot.folder / 'bot.yaml'}: retrieval.encoder is not set; there are no vectors to write", file=out)
        return 2
    encoder = load_retrieval_encoder(name)
    target = seed_path(bot.folder, encoder.name)
    texts = indexed_texts(load_articles(bot.knowledge_dir))
    print(f"encoding {len(texts)} knowledge texts with {encoder.name} (reusing {target.name} where unchanged)...", file=out)
    cache = EmbeddingCache(encoder, None, seed=target)
    cache.vectors(texts)
    cache.write_seed(target)
    print(f"wrote {target} ({cache.encoded} texts encoded, {len(texts) - cache.encoded} reused)", file=out)
    if bot.definition.intent_encoder == name and bot.definition.intents:
        write_intent_vectors(bot, out)
    return 0


def write_intent_vectors(bot: LoadedBot, out: TextIO) -> None:
    """The seed of the intent examples' vectors, as training reads them (queries)."""
    encoder = load_retrieval_encoder(bot.definition.retrieval.encoder or "")
    target = intent_seed_path(bot.folder, encoder.name)
    texts = [KnowledgeText(text, TextRole.QUESTION) for text, _ in load_intent_data(bot).examples]
    print(f"encoding {len(texts)} intent examples (reusing {target.name} where unchanged)...", file=out)
    cache = EmbeddingCache(encoder, None, seed=target)
    cache.vectors(texts)
    cache.write_seed(target)
    print(f"wrote {target} ({cache.encoded} examples encoded, {len(texts) - cache.encoded} reused)", file=out)
