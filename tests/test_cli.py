"""`csbot` as a user runs it: a subprocess, real stdin/stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
TEST_BOT = ROOT / "tests" / "support" / "testbot"


def csbot(*args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "REDIS_", "DATABASE_", "CSBOT_"))}
    full_env.update(env or {})
    exe = Path(sys.executable).with_name("csbot")
    return subprocess.run([str(exe), *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120)


def test_chat_from_a_pipe_prints_one_reply_per_line(tmp_path: Path) -> None:
    lines = ["I lost my card", "我的卡丢了", "", "when are you open?"]
    result = csbot("chat", stdin="\n".join(lines) + "\n", cwd=tmp_path, env={"CSBOT_BOT": str(TEST_BOT)})
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert len(out) == len(lines)
    assert "Freeze your card at once" in out[0]
    assert "冻结银行卡" in out[1]
    assert out[2] == ""
    assert "Monday to Friday" in out[3]
    assert (tmp_path / "csbot.db").exists()  # the embedded default: a SQLite file in the working dir


def test_chat_with_the_sample_bot_answers_the_stolen_account_question(tmp_path: Path) -> None:
    result = csbot("chat", stdin="我的账户被盗了，该怎么办？\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [reply] = result.stdout.splitlines()
    assert "锁定账户" in reply  # the knowledge base's advice: lock the account
    assert "24 小时反欺诈热线" in reply


def test_bad_bot_definition_names_file_and_field(tmp_path: Path) -> None:
    bot = tmp_path / "badbot"
    (bot / "knowledge").mkdir(parents=True)
    (bot / "bot.yaml").write_text((TEST_BOT / "bot.yaml").read_text().replace("temperature: 0.2", "temperature: hot"))
    result = csbot("chat", stdin="hi\n", cwd=tmp_path, env={"CSBOT_BOT": str(bot)})
    assert result.returncode == 2
    assert f"{bot / 'bot.yaml'}: generation.temperature:" in result.stderr


def test_doctor_reports_embedded_defaults(tmp_path: Path) -> None:
    result = csbot("doctor", cwd=tmp_path, env={"CSBOT_BOT": str(TEST_BOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in-process (no REDIS_URL)" in result.stdout
    assert "embedded extractive responder" in result.stdout
    assert "database    ok" in result.stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    result = csbot("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": url, "CSBOT_BOT": str(TEST_BOT)})
    assert result.returncode == 0, result.stderr
    import sqlite3

    tables = {r[0] for r in sqlite3.connect(tmp_path / "x.db").execute("select name from sqlite_master where type='table'")}
    assert {"conversations", "messages", "outbox", "handoffs", "feedback", "knowledge_documents"} <= tables


def test_telegram_set_webhook_registers_url_secret_and_update_types(tmp_path: Path) -> None:
    from tests.fakes.telegram_api import FakeTelegramAPI

    token = "555666777:AAE-cli_token-value-0123456789abcdef"
    with FakeTelegramAPI(token) as telegram:
        env = {
            "CSBOT_BOT": str(TEST_BOT),
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_WEBHOOK_SECRET": "cli-secret_123",
            "TELEGRAM_API_URL": telegram.url,
            "PUBLIC_BASE_URL": "https://support.example.com",
        }
        result = csbot("telegram", "set-webhook", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "webhook set: https://support.example.com/webhooks/telegram" in result.stdout
        assert telegram.webhook["url"] == "https://support.example.com/webhooks/telegram"
        assert telegram.webhook["secret_token"] == "cli-secret_123"
        assert "message" in telegram.webhook["allowed_updates"]
    assert token not in result.stdout + result.stderr


def test_telegram_set_webhook_without_public_url_names_the_setting(tmp_path: Path) -> None:
    env = {"CSBOT_BOT": str(TEST_BOT), "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_SECRET": "s"}
    result = csbot("telegram", "set-webhook", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "PUBLIC_BASE_URL" in result.stderr


def test_serve_answers_health_and_says_which_webhooks_are_off(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("csbot")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "REDIS_", "DATABASE_", "CSBOT_", "TELEGRAM_", "SLACK_", "TWILIO_"))}
    env["CSBOT_BOT"] = str(TEST_BOT)
    server = subprocess.Popen([str(exe), "serve", "--port", str(port)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert json.loads(response.read()) == {"status": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline, "csbot serve did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert json.loads(response.read())["checks"] == {"database": "ok", "redis": "off", "llm": "off"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"csbot_webhook_seconds" in response.read()
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "/webhooks/telegram answers 404: its channel is off" in stderr
