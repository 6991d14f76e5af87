"""`csbot forget --channel C --customer ID`: erase one customer's data from the command line.

The same `core.retention.Retention` the `/csbot forget` command uses, so the erasure, the
anonymous counts it keeps and the note in the agents' desk threads are the same either way.
"""

from __future__ import annotations

from typing import TextIO

from bots.handoff_wiring import desk_config
from channels.slack.desk import SlackDesk
from core.botdef import load_bot
from core.errors import BadInput
from core.retention import Retention, describe_forgotten
from infra.db.engine import make_engine, make_sessions
from infra.db.erasure import SqlPersonalData
from infra.settings import Settings


async def forget(settings: Settings, channel: str, customer: str, out: TextIO) -> int:
    """0 when something was erased, 1 when nothing was stored for that customer (a typo in the
    id should not pass for a successful erasure)."""
    bot = load_bot(settings.csbot_bot)
    config = desk_config(settings)
    engine = make_engine(settings.database_url, pooled=False)
    try:
        retention = Retention(SqlPersonalData(make_sessions(engine)), days=bot.definition.privacy.retention_days,
                              desk=SlackDesk(config) if config is not None else None)
        erased = await retention.forget(channel, customer)
    except BadInput as exc:
        print(f"csbot: {exc}", file=out)
        return 2
    finally:
        await engine.dispose()
    print(describe_forgotten(erased, channel.strip(), customer.strip()), file=out)
    return 0 if erased.conversations or erased.messages else 1
