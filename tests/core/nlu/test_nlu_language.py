from __future__ import annotations

import pytest

from core.nlu.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I lost my card", "en"),
        ("我的卡丢了", "zh"),
        ("请帮我check一下余额", "zh"),
        ("我的Visa卡被拒绝了", "zh"),
        ("my card 卡 is lost somewhere in the city", "en"),
        ("", "en"),
        ("12345 !!!", "en"),
        ("😀", "en"),
    ],
)
def test_detects_chinese_english_and_mixed_text(text: str, expected: str) -> None:
    assert detect_language(text) == expected
