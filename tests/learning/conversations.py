"""A database of conversations with personal data, disliked answers and agent answers.

Written through the real schema (migrations + SQLAlchemy models) so the
export queries are tested against the tables the bot writes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_sessions
from infra.db.models import ConversationRow, FeedbackRow, MessageRow, OutboxRow

CARD: Final = "4111 1111 1111 1111"
PHONE: Final = "+44 7700 900123"
EMAIL: Final = "jane.doe@example.com"
ACCOUNT: Final = "12345678"
PERSONAL: Final = (CARD, CARD.replace(" ", ""), PHONE, "7700 900123", EMAIL, ACCOUNT)

DISLIKED_BOT_ANSWER: Final = "Fees are listed on our website."
AGENT_ANSWER: Final = f"I have refunded the fee to account {ACCOUNT}; you will see it tomorrow."
UNANSWERED_DISLIKED: Final = "Our exchange rates change daily."
HOLDING: Final = "Sorry, I can't answer right now. A colleague will get back to you shortly."
FAILED_REPLY: Final = "This reply never reached the customer."
OLD_QUESTION: Final = "What are your opening hours?"
PERSONA_START: Final = "You are the support assistant of Acme Bank"


async def seed(engine: AsyncEngine, now: datetime | None = None) -> None:
    """Three conversations: two recent (one with 👎 answers, one with a lone 👎), one 30 days old."""
    now = now or datetime.now(UTC)
    sessions = make_sessions(engine)
    t = now - timedelta(hours=1)

    def at(minutes: int) -> datetime:
        return t + timedelta(minutes=minutes)

    async with sessions.begin() as session:
        first = ConversationRow(channel="sms", conversation_key="+447700900123", customer_id="+447700900123")
        second = ConversationRow(channel="telegram", conversation_key="42", customer_id="42")
        old = ConversationRow(channel="telegram", conversation_key="43", customer_id="43")
        session.add_all([first, second, old])
        await session.flush()

        def message(conversation: ConversationRow, pid: str, text: str, when: datetime, understanding: dict | None = None) -> MessageRow:
            row = MessageRow(
                conversation_id=conversation.id, channel=conversation.channel, platform_message_id=pid,
                sender_id=conversation.customer_id, text=text, received_at=when, understanding=understanding or {},
            )
            session.add(row)
            return row

        def reply(conversation: ConversationRow, key: str, text: str, when: datetime, *, to: MessageRow | None,
                  role: str = "bot", source: str = "llm", status: str = "sent") -> OutboxRow:
            row = OutboxRow(
                conversation_id=conversation.id, in_reply_to=to.id if to is not None else None, idempotency_key=key,
                role=role, channel=conversation.channel, conversation_key=conversation.conversation_key, text=text,
                source=source if role == "bot" else "agent", status=status, created_at=when,
            )
            session.add(row)
            return row

        m1 = message(first, "p1", f"Hi, my card {CARD} was charged twice, call me on {PHONE} or mail {EMAIL}", at(0),
                     {"intent": "transaction_charged_twice"})
        await session.flush()
        reply(first, "r1", "I am sorry about the double charge; it usually disappears within 3 days.", at(1), to=m1)
        m2 = message(first, "p2", f"My account number is {ACCOUNT}, why was I charged a fee?", at(2),
                     {"intent": "card_payment_fee_charged", "corrected_intent": "extra_charge_on_statement"})
        await session.flush()
        disliked = reply(first, "r2", DISLIKED_BOT_ANSWER, at(3), to=m2)
        reply(first, "r3", AGENT_ANSWER, at(5), to=None, role="agent")
        m3 = message(first, "p3", "thanks, and can I get a new card?", at(6), {"intent": "order_physical_card"})
        await session.flush()
        reply(first, "r4", HOLDING, at(7), to=m3, source="holding")

        m4 = message(second, "p4", "what is the exchange rate for euros?", at(10), {"intent": "exchange_rate"})
        await session.flush()
        lone = reply(second, "r5", UNANSWERED_DISLIKED, at(11), to=m4)
        m5 = message(second, "p5", "how do I top up by card?", at(12), {})
        await session.flush()
        reply(second, "r6", "Open the app and choose Top up, then Card.", at(13), to=m5)
        m6 = message(second, "p6", "and by bank transfer?", at(14), {"intent": "top_up_by_bank_transfer_charge"})
        await session.flush()
        reply(second, "r7", FAILED_REPLY, at(15), to=m6, status="failed")

        m7 = message(old, "p7", OLD_QUESTION, now - timedelta(days=30), {"intent": "opening_hours"})
        await session.flush()
        reply(old, "r8", "We are open 9 to 5.", now - timedelta(days=30) + timedelta(minutes=1), to=m7)
        await session.flush()
        session.add_all([
            FeedbackRow(conversation_id=first.id, outbound_id=disliked.id, kind="thumbs", score=0),
            FeedbackRow(conversation_id=second.id, outbound_id=lone.id, kind="thumbs", score=-1),
        ])


def seed_url(url: str) -> None:
    """`seed` the database at `url` (migrated already), from synchronous test code."""
    from infra.db.engine import make_engine
    from tests.conftest import run_in_thread

    async def fill() -> None:
        engine = make_engine(url, pooled=False)
        try:
            await seed(engine)
        finally:
            await engine.dispose()

    run_in_thread(fill())
