"""Clean a generated answer before it reaches a customer."""

from __future__ import annotations

import re

from core.ports import GenerationRequest

_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|bot|ai|system)\s*[:：]\s*", re.IGNORECASE)
_LEAK_MARKERS = (
    "Knowledge passages:", "Answer only from the knowledge passages", "Your previous answer stated", "<|im_start|>",
    "<|eot_id|>",
)


def strip_leakage(text: str, request: GenerationRequest) -> str:
    """Drop echoed instructions, chat-template tokens and role labels a model may emit."""
    system = request.messages[0].content if request.messages else ""
    # Only the instructions count as leakage; quoting a knowledge passage is the point.
    instructions = system.split(_LEAK_MARKERS[0], 1)[0]
    for marker in _LEAK_MARKERS:
        index = text.find(marker)
        if index != -1:
            text = text[:index]
    for line in instructions.splitlines():
        if len(line) > 40 and line in text:
            text = text.replace(line, "")
    return _ROLE_PREFIX.sub("", text).strip()


def trim(text: str, limit: int) -> str:
    """Cut at the last sentence end before `limit` so an answer never stops mid-word."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    ends = [cut.rfind(mark) for mark in (". ", "。", "! ", "？", "? ", "！", "\n")]
    end = max(ends)
    return cut[: end + 1].strip() if end > limit // 2 else cut.rstrip() + "…"


def clean(text: str, request: GenerationRequest, *, limit: int = 3000) -> str:
    return trim(strip_leakage(text, request), limit)
