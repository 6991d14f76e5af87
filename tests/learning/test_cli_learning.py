"""`csbot train`, `retrain` and `export` as an operator runs them: subprocesses, real files, a SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.learning.holdout import split_holdout
from core.learning.intent_data import load_intent_data
from infra.db.engine import make_engine, make_sessions
from infra.db.migrate import upgrade
from infra.db.models import ConversationRow, MessageRow
from tests.conftest import TEST_BOT, run_in_thread
from tests.learning import conversations as seeded
from tests.learning.conftest import make_bot
from tests.learning.test_model_store import rows
from tests.test_cli import csbot


@pytest.fixture
def bot_folder(tmp_path: Path) -> Path:
    make_bot(tmp_path / "bot")
    return tmp_path / "bot"


def database(path: Path, *corrections: tuple[str, str]) -> str:
    """A migrated SQLite file holding one conversation of customer messages with corrected intents."""
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)

    async def fill() -> None:
        engine = make_engine(url, pooled=False)
        try:
            async with make_sessions(engine).begin() as session:
                conversation = ConversationRow(channel="sms", conversation_key="k", customer_id="k")
                session.add(conversation)
                await session.flush()
                session.add_all(
                    MessageRow(conversation_id=conversation.id, channel="sms", platform_message_id=str(i), sender_id="k",
                               text=text, understanding={"intent": "x", "corrected_intent": intent})
                    for i, (text, intent) in enumerate(corrections)
                )
        finally:
            await engine.dispose()

    run_in_thread(fill())
    return url


def test_train_installs_a_model_with_its_card_in_the_database(tmp_path: Path, bot_folder: Path) -> None:
    result = csbot("train", cwd=tmp_path, env={"CSBOT_BOT": str(bot_folder)})
    assert result.returncode == 0, result.stderr
    assert "read 363 examples from en.csv, zh.csv" in result.stderr
    assert "training on" in result.stderr
    assert "installed new model at intent_models[testbot v1]" in result.stdout
    card = json.loads(result.stdout.strip().splitlines()[-1])
    assert card["n_examples"] + card["n_held_out"] == 363 and card["split_seed"] == 0
    [(bot, version, active, metrics)] = rows(f"sqlite+aiosqlite:///{tmp_path}/csbot.db")  # the default database
    assert (bot, version, active) == ("testbot", 1, True) and metrics == card


def test_retrain_keeps_the_model_when_corrections_poison_it_and_installs_an_equal_one(tmp_path: Path, bot_folder: Path) -> None:
    data = load_intent_data(make_bot_loaded(bot_folder))
    labels = sorted(data.labels)
    wrong = [(f"{text} now", labels[(labels.index(label) + 1) % len(labels)]) for text, label in split_holdout(data.examples).train]
    poisoned = database(tmp_path / "poisoned.db", *wrong, *[(f"{t} again", label) for t, label in wrong])
    env = {"CSBOT_BOT": str(bot_folder), "DATABASE_URL": poisoned}
    assert csbot("train", cwd=tmp_path, env=env).returncode == 0
    result = csbot("retrain", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert f"read {2 * len(wrong)} intent corrections from the database" in result.stderr
    assert "decision: kept current model" in result.stdout
    assert "current model: accuracy" in result.stdout and "new model:     accuracy" in result.stdout
    assert [(version, active) for _, version, active, _ in rows(poisoned)] == [(1, True)]

    clean = database(tmp_path / "clean.db")
    env = {**env, "DATABASE_URL": clean}
    assert csbot("train", cwd=tmp_path, env=env).returncode == 0
    result = csbot("retrain", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "decision: installed new model" in result.stdout
    assert [(version, active) for _, version, active, _ in rows(clean)] == [(1, False), (2, True)]


def test_train_against_an_unreachable_database_is_one_clear_line(tmp_path: Path, bot_folder: Path) -> None:
    env = {"CSBOT_BOT": str(bot_folder), "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none"}
    result = csbot("train", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "cannot read the database at" in result.stderr and "Traceback" not in result.stderr


def make_bot_loaded(folder: Path):  # type: ignore[no-untyped-def]
    from core.botdef import load_bot

    return load_bot(folder)


def test_export_chat_jsonl_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/csbot.db"
    upgrade(url)

    seeded.seed_url(url)
    env = {"CSBOT_BOT": str(TEST_BOT), "DATABASE_URL": url}
    result = csbot("export", "--format", "chat-jsonl", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["messages"][0]["role"] == "system" for line in lines)
    for value in seeded.PERSONAL:
        assert value not in result.stdout
    assert seeded.AGENT_ANSWER.replace("12345678", "[ACCOUNT]") in result.stdout
    assert seeded.DISLIKED_BOT_ANSWER not in result.stdout
    assert "3 conversations read, 3 written" in result.stderr

    out = tmp_path / "exports" / "recent.jsonl"
    result = csbot("export", "--format", "chat-jsonl", "--days", "7", "--out", str(out), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert f"wrote {out}" in result.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["recent.jsonl"]

    result = csbot("export", "--format", "intents-csv", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "text,predicted,corrected"
    assert "[ACCOUNT]" in result.stdout and seeded.ACCOUNT not in result.stdout


def test_export_and_retrain_explain_a_missing_database(tmp_path: Path, bot_folder: Path) -> None:
    env = {"CSBOT_BOT": str(bot_folder), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/absent.db"}
    for args in (("export", "--format", "intents-csv"), ("retrain",)):
        result = csbot(*args, cwd=tmp_path, env=env)
        assert result.returncode == 1
        assert "absent.db does not exist" in result.stderr
    assert not (tmp_path / "absent.db").exists()


def test_a_database_without_the_schema_is_one_clear_line(tmp_path: Path, bot_folder: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    env = {"CSBOT_BOT": str(bot_folder), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db"}
    result = csbot("export", "--format", "chat-jsonl", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "cannot read the database" in result.stderr and "csbot db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_without_intent_data_names_the_field(tmp_path: Path) -> None:
    result = csbot("train", cwd=tmp_path, env={"CSBOT_BOT": str(TEST_BOT)})
    assert result.returncode == 2
    assert f"{TEST_BOT / 'bot.yaml'}: intents:" in result.stderr


def test_export_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = csbot("export", "--format", "parquet", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'parquet'" in result.stderr
