"""Character-script helpers shared by language detection and featurisation.

Chinese text has no spaces between words, so both the language heuristic
and the word-level features need to know which characters are Han ideographs.
"""

from __future__ import annotations

import re

# Han ideographs: CJK Unified Ideographs, Extension A and Compatibility block.
HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_CHAR = re.compile(f"[{HAN_CLASS}]")
LATIN_LETTER = re.compile(r"[A-Za-z]")


def count_han(text: str) -> int:
    """Count Han ideographs in ``text``."""
    return len(HAN_CHAR.findall(text))


def count_latin_letters(text: str) -> int:
    """Count ASCII Latin letters in ``text``."""
    return len(LATIN_LETTER.findall(text))
