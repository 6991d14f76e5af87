"""`csbot chat`: the console channel through the real intake → job → outbox path.

Interactive in a terminal; from a pipe it reads one message per line and prints exactly one
reply line per input line, so scripts can drive it. Jobs always run in this process here:
the reply has to come back to this terminal.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bots.runtime import Runtime, build_runtime
from channels.console import ConsoleChannel
from infra.settings import Settings
from workers.inprocess import InProcessJobs

REPLY_TIMEOUT = 180.0


def banner(runtime: Runtime) -> str:
    bot = runtime.bot.definition
    generator = (
        f"LLM server at {runtime.settings.llm_base_url}"
        if runtime.settings.llm_base_url
        else "embedded extractive responder (answers only from the knowledge base; set LLM_BASE_URL for an LLM)"
    )
    return (
        f"csbot chat · bot: {bot.name} ({', '.join(bot.languages)}) · {generator}\n"
        f"database: {runtime.settings.database_url}\n"
        "Type a message and press Enter; Ctrl-D to quit. Try: \"I lost my card\" or \"我的账户被盗了，该怎么办？\"\n"
    )


async def ask(runtime: Runtime, console: ConsoleChannel, text: str) -> str:
    """Send one line through intake and wait for its reply from the outbox."""
    await runtime.services.intake.accept(console.inbound(text))
    reply = await asyncio.wait_for(console.replies.get(), REPLY_TIMEOUT)
    return reply.text


async def run_chat(settings: Settings, stdin: TextIO, stdout: TextIO, *, interactive: bool) -> int:
    console = ConsoleChannel()
    runtime = await build_runtime(settings, channels=[console], jobs=InProcessJobs())
    loop = asyncio.get_running_loop()
    try:
        if interactive:
            stdout.write(banner(runtime))
        while True:
            if interactive:
                stdout.write("you> ")
                stdout.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                if not interactive:
                    stdout.write("\n")  # one output line per input line, even for blank input
                continue
            answer = await ask(runtime, console, text)
            if interactive:
                stdout.write(f"bot> {answer}\n\n")
            else:
                stdout.write(" ".join(answer.split()) + "\n")
            stdout.flush()
    finally:
        await runtime.close()
    return 0


def chat(settings: Settings) -> int:
    return asyncio.run(run_chat(settings, sys.stdin, sys.stdout, interactive=sys.stdin.isatty()))
