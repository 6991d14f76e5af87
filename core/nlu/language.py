"""Language detection for routing replies and picking lexicons.

The bot only needs to choose between the languages it can answer in, so a
script-ratio heuristic is enough and costs microseconds: no model file to
ship, no per-message latency.
"""

from __future__ import annotations

from typing import Final

from core.nlu.script import count_han, count_latin_letters

ENGLISH: Final = "en"
CHINESE: Final = "zh"
DEFAULT_LANGUAGE: Final = ENGLISH

# A Han character carries roughly a word of meaning while an English word
# spans several letters; weighting Han characters makes a mostly-Chinese
# sentence with one English product name ("我的Visa卡丢了") count as Chinese.
HAN_WEIGHT: Final = 3.0
CHINESE_SHARE: Final = 0.4


def detect_language(text: str) -> str:
    """Return ``"zh"`` or ``"en"`` for ``text``; ``"en"`` when unsure.

    Mixed text is decided by the weighted share of Han characters among
    letters, so "请帮我check一下余额" is Chinese and "my card 卡 is lost" is
    English. Text with no letters at all (digits, emoji) falls back to
    English, the bot's default language.
    """
    han = count_han(text) * HAN_WEIGHT
    latin = count_latin_letters(text)
    if han == 0:
        return DEFAULT_LANGUAGE
    return CHINESE if han / (han + latin) >= CHINESE_SHARE else ENGLISH
