"""Knowledge vectors: encoded once per content version, kept on disk, and knowledge added at
run time is found by meaning at once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.botdef import load_bot
from core.embedding_cache import EmbeddingCache, missing_texts, seed_path
from core.knowledge import Article, load_articles
from core.knowledge_index import KnowledgeIndex
from core.nlu.encoders import load_retrieval_encoder
from core.retrieval import Retriever, indexed_texts
from infra.db.engine import make_engine, make_sessions
from infra.db.knowledge_documents import SqlKnowledgeStore
from tests.support.databases import migrated_sqlite

CARD = Article("lost-card", "en", "Lost card", "Freeze your card in the app, then order a new one.", ("I lost my card",))
HOURS = Article("opening-hours", "en", "Opening hours", "Branches open Monday to Friday, 9:00 to 17:00.")


def cache(path: Path) -> EmbeddingCache:
    return EmbeddingCache(load_retrieval_encoder("e5-small"), path)


def test_knowledge_vectors_are_reused_from_disk_and_re_encoded_when_an_article_changes(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    first = cache(path)
    Retriever([CARD, HOURS], embeddings=first)
    # 2 titles, 1 question, 2 bodies, and the small-talk exemplars
    assert first.encoded == 5 + len(indexed_texts([])) == len(indexed_texts([CARD, HOURS])) and path.exists()

    again = cache(path)  # a new process: everything comes from disk
    Retriever([CARD, HOURS], embeddings=again)
    assert again.encoded == 0

    edited = cache(path)
    changed = replace(HOURS, body="Branches open Monday to Saturday, 9:00 to 13:00.")
    [top] = Retriever([CARD, changed], embeddings=edited).search("when are you open on saturday", top_k=1)
    assert edited.encoded == 1  # only the edited body
    assert top.article.body == changed.body


async def test_knowledge_added_at_run_time_is_found_by_meaning_at_once(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "kb.db")
    db = make_engine(url)
    try:
        index = KnowledgeIndex("testbot", [CARD, HOURS], SqlKnowledgeStore(make_sessions(db)), embeddings=cache(tmp_path / "v.npz"))
        question = "can I take my puppy with me when I visit you"  # not one word in common with the answer
        assert all("pets" not in p.article.body for p in index.search(question))
        await index.add("Are pets allowed in branches?", "Guide dogs and pets on a lead are welcome in every branch.")
        [top, *_] = index.search(question)
        assert "pets on a lead" in top.article.body and top.article.source == "admin"
    finally:
        await db.dispose()


def test_the_sample_bot_ships_vectors_for_every_knowledge_text() -> None:
    bot = load_bot(Path(__file__).parents[2] / "bots" / "acme_bank")
    texts = indexed_texts(load_articles(bot.knowledge_dir))
    seed = seed_path(bot.folder, load_retrieval_encoder(bot.definition.retrieval.encoder or "").name)
    missing = missing_texts(texts, seed)
    assert not missing, f"{seed} lacks {len(missing)} knowledge texts; run `CSBOT_BOT=bots/acme_bank csbot knowledge vectors`"


def test_a_seed_spares_encoding_and_only_changed_texts_are_encoded(tmp_path: Path) -> None:
    seed = tmp_path / "seed.npz"
    writer = cache(tmp_path / "writer.npz")
    writer.passages(["Lost card", "Opening hours"])
    writer.write_seed(seed)

    fresh = EmbeddingCache(writer.encoder, tmp_path / "user.npz", seed=seed)
    vectors = fresh.passages(["Lost card", "Opening hours", "Branches open on Saturday"])
    assert fresh.encoded == 1  # only the text the seed lacks
    assert abs(float(vectors[0] @ writer.passages(["Lost card"])[0]) - 1.0) < 1e-2  # float16 keeps the direction
    assert seed.stat().st_size > 0 and (tmp_path / "user.npz").exists()


def test_listed_questions_are_encoded_as_queries_and_kept_apart_from_passages(tmp_path: Path) -> None:
    from core.embedding_cache import KnowledgeText, TextRole

    store = cache(tmp_path / "roles.npz")
    text = "I lost my card"
    as_question, as_passage = store.vectors([KnowledgeText(text, TextRole.QUESTION), KnowledgeText(text)])
    assert store.encoded == 2  # the same words in two roles are two vectors
    assert abs(float(as_question @ store.encoder.encode_queries([text])[0]) - 1.0) < 1e-4
    assert float(as_question @ as_passage) < 0.999
    customer = store.encoder.encode_queries(["I can't find my debit card anywhere"])[0]
    assert float(customer @ as_question) > float(customer @ as_passage)  # why questions are queries
