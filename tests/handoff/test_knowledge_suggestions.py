"""Agent answers become knowledge: a resolved handoff proposes its answer, generalized; an admin
approves it (`/csbot kb approve`) and the next customer who asks is answered from it.

Everything goes through the platforms: the customer writes on Telegram, the agent answers in
the Slack thread and clicks Resolve, the admin types `/csbot kb …`, a new customer asks by SMS.
"""

from __future__ import annotations

import asyncio

from core.knowledge_index import KnowledgeIndex
from core.knowledge_suggestions import SUGGESTED, HandoffExchange, KnowledgeSuggestions
from infra.db.engine import make_sessions
from infra.db.knowledge_documents import SqlKnowledgeStore
from tests.fakes.llm_server import FakeLLMServer
from tests.handoff.conftest import BOTH_BACKENDS
from tests.handoff.support import OTHER_AGENT, DeskSystem, desk_system, eventually

ASK_FOR_PERSON = "Can I talk to a human please?"
QUESTION = "How do I raise my daily ATM withdrawal limit? My card is 4111 1111 1111 1111."
AGENT_ANSWER = (
    "Hi Ana, Sam here. You can raise your daily ATM withdrawal limit up to 2,000 EUR in the app under "
    "Cards, then Limits. If that is not enough, call me on +44 20 7946 0958."
)
KNOWLEDGE = "You can raise your daily ATM withdrawal limit up to 2,000 EUR in the app under Cards, then Limits."
GENERAL_QUESTION = "How do I raise my daily ATM withdrawal limit? My card is [CARD]."
GENERAL_ANSWER = f"Hi, Sam here. {KNOWLEDGE} If that is not enough, call me on [PHONE]."
NEW_CUSTOMER = "+15550100777"
OUTSIDER = "UNOTADMIN"
REFUSAL = "Sorry, only csbot admins can run /csbot commands. Nothing was changed."


async def handed_over(desk: DeskSystem, *, question: str = QUESTION) -> dict:
    """Ana asks for a person on Telegram, then asks her question while she waits."""
    await desk.telegram_message(ASK_FOR_PERSON)
    await desk.settle()
    await desk.telegram_message(question)
    await desk.settle()
    [handoff] = await desk.handoffs()
    await eventually(lambda: desk.thread(handoff["desk_thread_ts"]))
    return handoff


async def answered_and_resolved(desk: DeskSystem, *replies: str) -> dict:
    handoff = await handed_over(desk)
    for reply in replies:
        await desk.agent_reply(handoff["desk_thread_ts"], reply)
        await desk.settle()
    await desk.click("resolve", handoff["id"])
    await desk.settle()
    return handoff


async def documents(desk: DeskSystem) -> list[dict]:
    return await desk.rows("SELECT id, title, body, source, status, handoff_id, language FROM knowledge_documents ORDER BY id")


async def suggestion_id(desk: DeskSystem) -> int:
    [doc] = await documents(desk)
    return int(doc["id"])


async def new_customer_asks(desk: DeskSystem, text: str) -> str:
    await desk.sms(text, sender=NEW_CUSTOMER)
    await desk.settle()
    return "\n".join(m.body for m in desk.twilio.sent_to(NEW_CUSTOMER))


# --- the whole loop -------------------------------------------------------------------------------


@BOTH_BACKENDS
async def test_an_approved_agent_answer_answers_the_next_customer(desk: DeskSystem) -> None:
    handoff = await answered_and_resolved(desk, AGENT_ANSWER, "note: Ana Lima called twice this week, 4111 1111 1111 1111")
    assert desk.received("telegram")[1] == AGENT_ANSWER  # the customer got the agent's own words

    [doc] = await documents(desk)
    assert doc == {"id": doc["id"], "title": GENERAL_QUESTION, "body": GENERAL_ANSWER, "source": "handoff",
                   "status": SUGGESTED, "handoff_id": handoff["id"], "language": "en"}

    listing = await desk.admin("kb suggestions")
    assert listing.startswith("1 knowledge suggestion(s) waiting")
    assert f"• {doc['id']} (en, from handoff {handoff['id']})" in listing
    assert f"Q: {GENERAL_QUESTION}" in listing and f"A: {GENERAL_ANSWER}" in listing
    for personal in ("Ana", "Lima", "4111", "7946", "called twice", "note:", "human"):
        assert personal not in listing

    # Suggested is not searchable: neither the admin's search nor a customer's turn sees it.
    search = await desk.admin("kb search raise my daily ATM withdrawal limit")
    assert "Sam here" not in search and f"handoff-{handoff['id']}" not in search

    approved = await desk.admin(f"kb approve {doc['id']}")
    assert approved.startswith(f"Approved knowledge suggestion {doc['id']} (“How do I raise my daily ATM")
    assert (await documents(desk))[0]["status"] == "active"
    assert "No knowledge suggestions waiting" in await desk.admin("kb suggestions")
    search = await desk.admin("kb search raise my daily ATM withdrawal limit")
    assert f"{GENERAL_QUESTION} (handoff-{handoff['id']}, en): Hi, Sam here." in search.splitlines()[1]

    answer = await new_customer_asks(desk, "how can I raise my daily ATM withdrawal limit?")
    assert KNOWLEDGE in answer and "Ana" not in answer
    [new_conversation] = await desk.rows("SELECT id FROM conversations WHERE customer_id = :c", c=NEW_CUSTOMER)
    assert new_conversation["id"] != handoff["conversation_id"]
    assert len(await desk.handoffs()) == 1  # answered by the bot, no person needed


async def test_the_llm_is_given_the_approved_answer_as_knowledge(tmp_path, fake_llm: FakeLLMServer) -> None:
    async with desk_system(tmp_path, llm_base_url=fake_llm.url) as desk:
        await answered_and_resolved(desk, AGENT_ANSWER)
        await desk.admin(f"kb approve {await suggestion_id(desk)}")
        before = len(fake_llm.requests)

        answer = await new_customer_asks(desk, "how can I raise my daily ATM withdrawal limit?")

        [request] = fake_llm.requests[before:]
        system = request["messages"][0]["content"]
        assert f"<passage 1: {GENERAL_QUESTION}>\n{GENERAL_ANSWER}\n</passage 1>" in system  # the entry, title and body
        assert KNOWLEDGE in answer


# --- exactly once, and only with an answer ------------------------------------------------------------


@BOTH_BACKENDS
async def test_a_handoff_proposes_once_however_often_and_concurrently_it_is_resolved(desk: DeskSystem) -> None:
    handoff = await handed_over(desk)
    await desk.agent_reply(handoff["desk_thread_ts"], AGENT_ANSWER)
    await desk.settle()
    service = desk.runtime.services.desk
    current = await service.handoffs.get_handoff(handoff["id"])
    outcomes = await asyncio.gather(
        service.resolve(current, "U1"), service.resolve(current, "U2"), service.resolve(current, "U3"),
    )
    assert sum(o.ok for o in outcomes) == 1
    await desk.click("resolve", handoff["id"])  # once more, on the resolved handoff
    await desk.admin(f"release {handoff['conversation_id']}")
    await desk.settle()

    store = SqlKnowledgeStore(make_sessions(desk.runtime.db))
    racing = await asyncio.gather(*(
        store.suggest_knowledge("testbot", handoff["id"], title="q", body="a", language="en") for _ in range(6)
    ))
    assert racing == [None] * 6
    [doc] = await documents(desk)
    assert doc["handoff_id"] == handoff["id"] and doc["body"] == GENERAL_ANSWER


@BOTH_BACKENDS
async def test_concurrent_suggestions_for_one_handoff_store_one(desk: DeskSystem) -> None:
    handoff = await handed_over(desk)
    store = SqlKnowledgeStore(make_sessions(desk.runtime.db))
    stored = await asyncio.gather(*(
        store.suggest_knowledge("testbot", handoff["id"], title=f"q{i}", body="a", language="en") for i in range(6)
    ))
    assert len([s for s in stored if s is not None]) == 1
    assert await desk.scalar("SELECT count(*) FROM knowledge_documents") == 1


class BrokenStore(SqlKnowledgeStore):
    """The suggestions' database side failing (a dropped connection, say)."""

    async def handoff_exchange(self, handoff_id: int) -> HandoffExchange:
        raise ConnectionError("the database went away")


async def test_a_failing_suggestion_never_fails_the_hand_back(desk: DeskSystem) -> None:
    service = desk.runtime.services.desk
    broken = BrokenStore(make_sessions(desk.runtime.db))
    service._suggestions = KnowledgeSuggestions("testbot", broken, KnowledgeIndex("testbot", []))
    handoff = await handed_over(desk)
    await desk.agent_reply(handoff["desk_thread_ts"], AGENT_ANSWER)
    await desk.settle()
    assert "is back with the bot" in await desk.admin(f"resolve {handoff['conversation_id']}")
    await desk.settle()
    assert desk.received("telegram")[-1].startswith("Our colleague has finished helping you")
    assert await documents(desk) == []


async def test_no_agent_answer_no_suggestion(desk: DeskSystem) -> None:
    await answered_and_resolved(desk, "note: tried to call, no answer", "NOTE: closing")
    assert desk.received("telegram")[-1].startswith("Our colleague has finished helping you")
    assert await documents(desk) == []
    assert "No knowledge suggestions waiting" in await desk.admin("kb suggestions")


async def test_sending_the_bots_own_suggestion_teaches_nothing_new(desk: DeskSystem) -> None:
    await desk.telegram_message("agent! I lost my card")
    await desk.settle()
    [handoff] = await desk.handoffs()
    await desk.click("send_suggested", handoff["id"])
    await desk.settle()
    await desk.click("resolve", handoff["id"])
    await desk.settle()
    assert "Freeze your card" in desk.received("telegram")[1]
    assert await documents(desk) == []


async def test_released_and_resolved_by_command_propose_too(desk: DeskSystem) -> None:
    handoff = await handed_over(desk)
    await desk.agent_reply(handoff["desk_thread_ts"], AGENT_ANSWER)
    await desk.settle()
    assert "is back with the bot" in await desk.admin(f"release {handoff['conversation_id']}")
    [doc] = await documents(desk)
    assert doc["handoff_id"] == handoff["id"] and doc["title"] == GENERAL_QUESTION

    await desk.sms("I need an agent: can I get a paper statement by post?")
    await desk.settle()
    [_, sms_handoff] = await desk.handoffs()
    await desk.agent_reply(sms_handoff["desk_thread_ts"], "Yes, paper statements cost 2 EUR each; order them in the app.")
    await desk.settle()
    assert "is back with the bot" in await desk.admin(f"resolve {sms_handoff['conversation_id']}")
    [_, sms_doc] = await documents(desk)
    assert sms_doc["title"] == "Can I get a paper statement by post?"
    assert sms_doc["body"] == "Yes, paper statements cost 2 EUR each; order them in the app."


# --- deciding ---------------------------------------------------------------------------------------


async def test_a_rejected_suggestion_is_never_used(desk: DeskSystem) -> None:
    await answered_and_resolved(desk, AGENT_ANSWER)
    document = await suggestion_id(desk)
    answer = await desk.admin(f"kb reject {document}")
    assert answer == f"Rejected knowledge suggestion {document} (“{GENERAL_QUESTION}”); it is not used."
    assert (await documents(desk))[0]["status"] == "rejected"
    assert "No knowledge suggestions waiting" in await desk.admin("kb suggestions")

    assert await desk.admin(f"kb approve {document}") == (
        f"Knowledge suggestion {document} was already rejected; nothing changed."
    )
    assert (await documents(desk))[0]["status"] == "rejected"
    assert KNOWLEDGE not in await new_customer_asks(desk, "how can I raise my daily ATM withdrawal limit?")


async def test_deciding_twice_or_on_an_unknown_id_changes_nothing(desk: DeskSystem) -> None:
    await answered_and_resolved(desk, AGENT_ANSWER)
    document = await suggestion_id(desk)
    await desk.admin(f"kb approve #{document}")
    assert await desk.admin(f"kb approve {document}") == (
        f"Knowledge suggestion {document} was already approved; nothing changed."
    )
    assert await desk.admin(f"kb reject {document}") == (
        f"Knowledge suggestion {document} was already approved; nothing changed."
    )
    unknown = "There is no knowledge suggestion 999; `/csbot kb suggestions` lists them."
    assert await desk.admin("kb approve 999") == unknown
    assert await desk.admin("kb reject 999") == unknown

    added = await desk.admin("kb add Do you offer student accounts? || Yes, with no monthly fee.")
    assert "Added knowledge document" in added
    [_, admin_doc] = await documents(desk)
    assert await desk.admin(f"kb reject {admin_doc['id']}") == unknown.replace("999", str(admin_doc["id"]))
    assert [d["status"] for d in await documents(desk)] == ["active", "active"]


@BOTH_BACKENDS
async def test_only_admins_list_approve_or_reject(desk: DeskSystem) -> None:
    await answered_and_resolved(desk, AGENT_ANSWER)
    document = await suggestion_id(desk)
    for command in ("kb suggestions", f"kb approve {document}", f"kb reject {document}"):
        assert await desk.admin(command, user=OTHER_AGENT) == REFUSAL
        assert await desk.admin(command, user=OUTSIDER) == REFUSAL
    assert (await documents(desk))[0]["status"] == SUGGESTED
    refused = await desk.rows("SELECT command, allowed FROM admin_audit ORDER BY id")
    assert refused == [{"command": c, "allowed": False}
                       for c in ("kb suggestions", "kb approve", "kb reject") for _ in range(2)]


async def test_bad_arguments_get_the_usage_line(desk: DeskSystem) -> None:
    await answered_and_resolved(desk, AGENT_ANSWER)
    for command, usage in (
        ("kb approve", "Usage: /csbot kb approve <id>"),
        ("kb approve first", "Usage: /csbot kb approve <id>"),
        ("kb approve 1 2", "Usage: /csbot kb approve <id>"),
        ("kb reject", "Usage: /csbot kb reject <id>"),
        ("kb reject -1", "Usage: /csbot kb reject <id>"),
        ("kb suggestions all", "Usage: /csbot kb suggestions"),
    ):
        answer = await desk.admin(command)
        assert usage in answer, (command, answer)
    assert (await documents(desk))[0]["status"] == SUGGESTED
    assert "`/csbot kb approve <id>`" in await desk.admin("help")


# --- other processes see the approval ------------------------------------------------------------------


@BOTH_BACKENDS
async def test_approving_an_older_suggestion_changes_every_index_stamp(desk: DeskSystem) -> None:
    """An index in another process (a worker) refreshes on its next turn: approving a suggestion
    older than the newest active document must still look like a change to it."""
    await answered_and_resolved(desk, AGENT_ANSWER)
    document = await suggestion_id(desk)
    await desk.admin("kb add Do you offer student accounts? || Yes, with no monthly fee.")
    elsewhere = KnowledgeIndex("testbot", [], SqlKnowledgeStore(make_sessions(desk.runtime.db)))
    assert await elsewhere.refresh() is True
    assert await elsewhere.refresh() is False
    assert elsewhere.search("raise my daily ATM withdrawal limit") == []

    await desk.admin(f"kb approve {document}")

    assert await elsewhere.refresh() is True
    [top, *_] = elsewhere.search("raise my daily ATM withdrawal limit")
    assert top.article.body == GENERAL_ANSWER and top.article.source == "handoff"
