"""Text normalisation applied before intent features are extracted.

Customers type full-width digits and punctuation on Chinese keyboards and
mix case freely; folding those variants lets one training example cover
them all. Han characters are spaced apart so that word-level n-grams
become character unigrams/bigrams for Chinese, which has no spaces.
"""

from __future__ import annotations

import re
import unicodedata

from core.nlu.script import HAN_CLASS

_HAN_RUN = re.compile(f"([{HAN_CLASS}])")
_SPACES = re.compile(r"\s+")


def normalize_for_features(text: str) -> str:
    """Return ``text`` case-folded, NFKC-folded and with Han characters spaced."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    spaced = _HAN_RUN.sub(r" \1 ", folded)
    return _SPACES.sub(" ", spaced).strip()


# Full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space map one
# character to one character, so offsets found in the folded text are valid
# in the original: entity spans must point into what the customer wrote.
_WIDTH_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_WIDTH_FOLD[0x3000] = 0x20
_WIDTH_FOLD[0xFFE5] = ord("¥")
_WIDTH_FOLD[0xFFE1] = ord("£")
_WIDTH_FOLD[0xFFE0] = ord("¢")


def fold_width(text: str) -> str:
    """Map full-width ASCII, ``￥`` and the ideographic space to ASCII forms.

    Unlike NFKC this never changes the length of ``text``.
    """
    return text.translate(_WIDTH_FOLD)
