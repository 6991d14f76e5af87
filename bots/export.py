"""`csbot export`: conversations as fine-tuning or labelling data; data to stdout or a file, progress to stderr.

A file given with ``--out`` appears only once complete (written beside it,
then renamed), so a half-finished export is never mistaken for a whole one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

from core.botdef import load_bot
from core.learning.chat_export import build_chat_example
from core.learning.intent_export import IntentCsvWriter
from infra.db.engine import make_engine, make_sessions
from infra.db.training_data import TrainingDataQueries
from infra.settings import Settings

FORMATS: Final = ("chat-jsonl", "intents-csv")
PROGRESS_EVERY: Final = 1000

Progress = Callable[[str], None]


async def export(
    settings: Settings, fmt: str, stdout: TextIO, progress: Progress, *, out: Path | None = None, days: int | None = None
) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    since = datetime.now(UTC) - timedelta(days=days) if days is not None else None
    window = f"since {since.isoformat(timespec='seconds')}" if since else "all time"
    engine = make_engine(settings.database_url, pooled=False)
    queries = TrainingDataQueries(make_sessions(engine))
    try:
        with _destination(out, stdout) as sink:
            if fmt == "chat-jsonl":
                persona = load_bot(settings.csbot_bot).definition.persona
                progress(f"exporting conversations ({window}) as chat JSONL")
                await _chat_jsonl(queries, persona, sink, progress, since)
            else:
                progress(f"exporting customer messages ({window}) as intents CSV")
                await _intents_csv(queries, sink, progress, since)
    finally:
        await engine.dispose()
    if out is not None:
        progress(f"wrote {out}")
    return 0


async def _chat_jsonl(queries: TrainingDataQueries, persona: str, sink: TextIO, progress: Progress, since: datetime | None) -> None:
    seen = written = replaced = dropped = 0
    async for log in queries.conversation_logs(since=since):
        example = build_chat_example(log, persona)
        seen += 1
        replaced += example.replaced
        dropped += example.dropped
        if example.usable:
            sink.write(example.to_json() + "\n")
            written += 1
        if seen % PROGRESS_EVERY == 0:
            progress(f"{seen} conversations read, {written} written")
    progress(
        f"{seen} conversations read, {written} written; {replaced} disliked answers replaced by an agent's, "
        f"{dropped} turns dropped (disliked or holding answer with no agent answer after it)"
    )


async def _intents_csv(queries: TrainingDataQueries, sink: TextIO, progress: Progress, since: datetime | None) -> None:
    writer = IntentCsvWriter(sink)
    seen = corrected = 0
    async for record in queries.intent_records(since=since):
        seen += 1
        if writer.write(record) and record.corrected:
            corrected += 1
        if seen % PROGRESS_EVERY == 0:
            progress(f"{seen} messages read")
    progress(f"{seen} messages read, {writer.rows} rows written ({corrected} with a corrected intent)")


@contextmanager
def _destination(out: Path | None, stdout: TextIO) -> Iterator[TextIO]:
    if out is None:
        yield stdout
        stdout.flush()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
