"""`csbot knowledge vectors`: write the bot's shipped seed of knowledge vectors.

The seed spares a fresh machine the minute of encoding the sample knowledge base; run this after
editing the bot's knowledge files so the seed covers them again (a test checks that it does).
"""

from __future__ import annotations

from typing import TextIO

from core.botdef import LoadedBot
from core.embedding_cache import EmbeddingCache, seed_path
from core.knowledge import load_articles
from core.nlu.encoders import load_retrieval_encoder
from core.retrieval import passage_texts


def write_knowledge_vectors(bot: LoadedBot, out: TextIO) -> int:
    name = bot.definition.retrieval.encoder
    if not name:
        print(f"{bot.folder / 'bot.yaml'}: retrieval.encoder is not set; there are no vectors to write", file=out)
        return 2
    encoder = load_retrieval_encoder(name)
    target = seed_path(bot.folder, encoder.name)
    texts = [t for article in load_articles(bot.knowledge_dir) for t in passage_texts(article)]
    print(f"encoding {len(texts)} knowledge texts with {encoder.name} (reusing {target.name} where unchanged)...", file=out)
    cache = EmbeddingCache(encoder, None, seed=target)
    cache.vectors(texts)
    cache.write_seed(target)
    print(f"wrote {target} ({cache.encoded} texts encoded, {len(texts) - cache.encoded} reused)", file=out)
    return 0
