"""Outbound shaping shared by the channel adapters: one answer, degraded to what a platform shows.

The engine writes plain prose with light markdown and optional buttons. Telegram needs it in
messages of at most 4096 characters with HTML escaped; SMS needs plain text, no markup, as few
segments as possible (GSM-7 over UCS-2), capped at a segment budget with a visible note, and
buttons turned into "reply 1 / 2" lines. Everything here is pure text in, text out, so each rule
is tested without a platform.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.messages import Button
from core.reply import SOURCE_TITLE_KEY, SOURCE_URL_KEY

Measure = Callable[[str], int]

# --- measuring -------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Telegram counts message length and entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# --- splitting at natural boundaries ---------------------------------------------------------

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？；])\s*")
_WORD = re.compile(r"\s+")
_BOUNDARIES = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)


def _pieces(text: str, separator: re.Pattern[str]) -> list[str]:
    """`text` cut after each separator match; the separators stay attached, so nothing is lost."""
    pieces: list[str] = []
    start = 0
    for match in separator.finditer(text):
        if match.end() > start and match.end() < len(text):
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _hard_cut(text: str, limit: int, measure: Measure) -> list[str]:
    """Last resort for a single word longer than the limit (a URL, CJK prose without spaces)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        width = measure(ch)
        if size + width > limit and current:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += width
    if current:
        chunks.append("".join(current))
    return chunks


def _split(text: str, limit: int, measure: Measure, level: int) -> list[str]:
    if measure(text) <= limit:
        return [text]
    if level >= len(_BOUNDARIES):
        return _hard_cut(text, limit, measure)
    pieces = _pieces(text, _BOUNDARIES[level])
    if len(pieces) == 1:
        return _split(text, limit, measure, level + 1)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if measure(piece) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.extend(_split(piece, limit, measure, level + 1))
        elif measure(current + piece) <= limit:
            current += piece
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """Cut `text` into chunks of at most `limit` (by `measure`, which must be additive per
    character), preferring paragraph, then line, sentence and word boundaries, so a long answer
    reads as consecutive messages rather than one chopped mid-word. Whitespace at the cuts is
    dropped; no other character is."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    chunks = (chunk.strip() for chunk in _split(text.strip(), limit, measure, 0))
    return [chunk for chunk in chunks if chunk]


# --- markdown → plain text (SMS) -------------------------------------------------------------

_FENCE = re.compile(r"```[\w+-]*\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s\"]+)\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__", re.DOTALL)
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[*+][ \t]+", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$\n?", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


def strip_markdown(text: str) -> str:
    """Plain text for channels that show markup literally (SMS shows `**` as two asterisks and
    pays a segment for them). Links keep their address, since a phone cannot follow a label."""
    text = _FENCE.sub(lambda m: m.group(1).strip("\n"), text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _IMAGE.sub(lambda m: m.group(1) or m.group(2), text)
    text = _LINK.sub(lambda m: m.group(2) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub(r"\1- ", text)
    text = _STRONG.sub(lambda m: m.group(1) or m.group(2), text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


# --- markdown → Telegram HTML ----------------------------------------------------------------

_CODE_SPANS = re.compile(r"```[\w+-]*\n?(?P<block>.*?)```|`(?P<inline>[^`\n]+)`", re.DOTALL)


def _prose_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', escaped)
    escaped = _HEADING.sub(r"<b>\1</b>", escaped)
    escaped = _BULLET.sub(r"\1• ", escaped)
    return _STRONG.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", escaped)


def telegram_html(text: str) -> str:
    """Telegram HTML for `text`: `<`, `>` and `&` escaped everywhere, and the markdown an LLM
    writes (bold, code, links, headings) turned into the few tags Telegram accepts. Anything
    unmatched stays literal text, so the result always parses."""
    out: list[str] = []
    start = 0
    for match in _CODE_SPANS.finditer(text):
        out.append(_prose_html(text[start : match.start()]))
        if match.group("block") is not None:
            out.append(f"<pre>{html.escape(match.group('block').strip(chr(10)), quote=False)}</pre>")
        else:
            out.append(f"<code>{html.escape(match.group('inline'), quote=False)}</code>")
        start = match.end()
    out.append(_prose_html(text[start:]))
    return "".join(out)


# --- SMS encoding and segments ---------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each (escape + character)

# Unicode look-alikes an LLM likes to emit; one of them would turn a whole message into UCS-2
# (70 instead of 160 characters per segment), so they are replaced before counting.
_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u2022": "-", "\u00b7": "-",
        "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ",
        "\u200b": "", "\ufeff": "",
        "\u2026": "...",
    }
)


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsSize:
    """How a body travels: its encoding, its size in that encoding's units, and segments billed."""

    encoding: SmsEncoding
    units: int
    segments: int


def gsm7_normalize(text: str) -> str:
    """Replace typographic look-alikes with their GSM-7 equivalents (curly quotes, dashes, …)."""
    return text.translate(_LOOKALIKES)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _packed_segments(widths: Sequence[int], single: int, multi: int) -> int:
    """Segments for a message whose characters take `widths` units; a character is never split
    across segments (an escaped GSM character or a UTF-16 surrogate pair moves whole)."""
    if sum(widths) <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def sms_size(text: str) -> SmsSize:
    """Encoding and segment count as the carrier bills them: GSM-7 160/153 septets, else UCS-2
    70/67 UTF-16 units."""
    if is_gsm7(text):
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SmsSize(SmsEncoding.GSM7, sum(widths), _packed_segments(widths, 160, 153))
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsSize(SmsEncoding.UCS2, sum(widths), _packed_segments(widths, 70, 67))


# --- capping with a visible note -------------------------------------------------------------

SHORTENED_NOTES = {
    "en": "(Shortened to fit a text message. Ask about one part for more detail.)",
    "zh": "（短信篇幅有限，内容已缩短。可就其中一点继续提问。）",
}


def shortened_note(language: str) -> str:
    return SHORTENED_NOTES.get(language) or SHORTENED_NOTES["en"]


def _compose(body: str, tail: str) -> str:
    return f"{body}\n{tail}" if body and tail else body or tail


def _boundary_before(text: str, end: int) -> int:
    """The best place to stop at or before `end`: a sentence end in the last half, else the last
    space, else `end` itself (text without spaces)."""
    window = text[:end]
    sentence = max(window.rfind(mark) for mark in (". ", "! ", "? ", "\n", "。", "！", "？"))
    if sentence >= end // 2:
        return sentence + 1
    space = window.rfind(" ")
    return space if space > 0 else end


@dataclass(frozen=True, slots=True)
class Fitted:
    text: str
    shortened: bool


def fit(body: str, fits: Callable[[str], bool], *, tail: str = "", note: str) -> Fitted:
    """`body` + `tail` if that fits; otherwise the longest boundary-cut prefix of `body` followed
    by `note` and `tail`. The note tells the customer something was left out: a silent cut
    reads as a complete answer that stops making sense."""
    whole = _compose(body, tail)
    if fits(whole):
        return Fitted(whole, False)
    suffix = _compose(note, tail)
    low, high = 0, len(body)
    while low < high:  # the longest prefix for which prefix + note + tail still fits
        middle = (low + high + 1) // 2
        if fits(_compose(body[:middle].rstrip(), suffix)):
            low = middle
        else:
            high = middle - 1
    if low == 0:
        return Fitted(suffix if fits(suffix) else _hard_prefix(suffix, fits), True)
    cut = body[: _boundary_before(body, low)].rstrip(" ,;:-")
    return Fitted(_compose(cut, suffix), True)


def _hard_prefix(text: str, fits: Callable[[str], bool]) -> str:
    end = len(text)
    while end > 0 and not fits(text[:end]):
        end -= 1
    return text[:end]


def sms_fits(max_segments: int) -> Callable[[str], bool]:
    return lambda text: sms_size(text).segments <= max_segments


def chars_fit(limit: int) -> Callable[[str], bool]:
    return lambda text: len(text) <= limit


# --- buttons as text ---------------------------------------------------------------------------

_CHOICE_TEMPLATES = {
    # first choice, later choices, separator, end
    "en": ("Reply {n} for {label}", "{n} for {label}", ", ", "."),
    "zh": ("回复 {n}：{label}", "{n}：{label}", "；", "。"),
}


def numbered_choices(buttons: Sequence[Button], language: str) -> str:
    """Buttons for a channel without them: "Reply 1 for Yes, 2 for No." The customer answers
    with the number."""
    if not buttons:
        return ""
    first, later, separator, end = _CHOICE_TEMPLATES.get(language) or _CHOICE_TEMPLATES["en"]
    parts = [(first if n == 1 else later).format(n=n, label=b.label) for n, b in enumerate(buttons, 1)]
    return separator.join(parts) + end


def sms_text(text: str, buttons: Sequence[Button], language: str) -> tuple[str, str]:
    """The SMS body (plain, GSM-7 look-alikes replaced) and the choices line that must survive
    any shortening, since a customer cannot answer a choice they never saw."""
    return gsm7_normalize(strip_markdown(text)), gsm7_normalize(numbered_choices(buttons, language))


# --- the source line under an answer ---------------------------------------------------------

SOURCE_LABELS = {"en": "Source", "zh": "来源"}


def source_line(metadata: Mapping[str, str], language: str) -> str:
    """"Source: <article title> (<help-centre link>)" for an answer grounded on an article;
    empty for anything else, so canned texts and agents' replies carry none."""
    title = metadata.get(SOURCE_TITLE_KEY, "")
    if not title:
        return ""
    label = SOURCE_LABELS.get(language) or SOURCE_LABELS["en"]
    colon = "：" if language == "zh" else ": "
    url = metadata.get(SOURCE_URL_KEY, "")
    return f"{label}{colon}{title}" + (f" ({url})" if url else "")


def with_source(text: str, metadata: Mapping[str, str], language: str) -> str:
    line = source_line(metadata, language)
    return f"{text}\n\n{line}" if line else text
