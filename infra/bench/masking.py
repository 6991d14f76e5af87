"""Secret masking at intake: what it adds to every inbound message, against the sanitiser alone.

    python -m infra.bench.masking [--rounds 200]

* bare: `core.sanitize.clean_inbound`, which every message already goes through.
* masked: the same plus `core.privacy.private_inbound` (Luhn-checked card numbers, codes after
  "cvv"/"one-time code", passwords after "password is").

Messages are the sample bot's own customer questions (English and Chinese), one in ten with a
card number, a CVV or a password typed into it. Prints microseconds per message for each and
their ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from core.botdef import Privacy
from core.knowledge import load_articles
from core.messages import InboundMessage
from core.privacy import private_inbound
from core.sanitize import clean_inbound

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("my card is 4111 1111 1111 1111", "cvv 739", "my password is hunter2!", "the one-time code 445566")


def corpus() -> list[InboundMessage]:
    questions = [q for a in load_articles(ROOT / "bots" / "acme_bank" / "knowledge") for q in a.questions]
    texts = [f"{q} {SECRETS[i % len(SECRETS)]}" if i % 10 == 0 else q for i, q in enumerate(questions)]
    return [InboundMessage("bench", str(i), "c1", "u1", text) for i, text in enumerate(texts)]


def per_message(step: Callable[[InboundMessage], InboundMessage], messages: list[InboundMessage], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for message in messages:
            step(message)
    return (time.perf_counter() - started) / (rounds * len(messages))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    messages, privacy = corpus(), Privacy()
    masked_count = sum(private_inbound(clean_inbound(m), privacy).text != m.text for m in messages)

    def masked(m: InboundMessage) -> InboundMessage:
        return private_inbound(clean_inbound(m), privacy)

    per_message(masked, messages, 5)  # warm-up
    bare = per_message(clean_inbound, messages, args.rounds)
    ours = per_message(masked, messages, args.rounds)
    print(f"messages={len(messages)} with_secrets={masked_count} rounds={args.rounds}")
    print(f"bare   {bare * 1e6:7.1f} us/message")
    print(f"masked {ours * 1e6:7.1f} us/message")
    print(f"ratio masked/bare: {ours / bare:.1f}x")


if __name__ == "__main__":
    main()
