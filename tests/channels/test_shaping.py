"""Outbound shaping: splitting, Telegram HTML, markdown stripping, SMS encodings and segments,
capping with a note, and buttons as numbered choices."""

from __future__ import annotations

import pytest

from channels.shaping import (
    SmsEncoding,
    chars_fit,
    fit,
    gsm7_normalize,
    numbered_choices,
    shortened_note,
    sms_fits,
    sms_size,
    sms_text,
    split_text,
    strip_markdown,
    telegram_html,
    utf16_len,
)
from core.messages import Button
from tests.fakes.telegram_api import visible_text

# --- splitting --------------------------------------------------------------------------------


def test_short_text_is_one_chunk() -> None:
    assert split_text("  Hello there.  ", 100) == ["Hello there."]
    assert split_text("   ", 100) == []


def test_paragraphs_are_kept_together_when_they_fit() -> None:
    text = "First paragraph, short.\n\nSecond paragraph, also short.\n\nThird one."
    assert split_text(text, 60) == ["First paragraph, short.\n\nSecond paragraph, also short.", "Third one."]


def test_a_long_paragraph_is_split_at_sentence_ends() -> None:
    text = "One two three. Four five six! Seven eight nine? Ten eleven."
    chunks = split_text(text, 30)
    assert chunks == ["One two three. Four five six!", "Seven eight nine? Ten eleven."]


def test_a_long_sentence_is_split_between_words() -> None:
    words = [f"w{i}" for i in range(100)]
    chunks = split_text(" ".join(words), 50)
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks).split() == words


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_chinese_sentences_split_at_full_stops() -> None:
    text = "您好。" * 10
    chunks = split_text(text, 7)
    assert all(len(c) <= 7 for c in chunks)
    assert all(c.endswith("。") for c in chunks)
    assert "".join(chunks) == text


def test_utf16_measure_keeps_surrogate_pairs_whole() -> None:
    assert utf16_len("a😀") == 3
    chunks = split_text("😀" * 5, 4, measure=utf16_len)
    assert chunks == ["😀😀", "😀😀", "😀"]


@pytest.mark.parametrize("limit", [1, 7, 40, 4096])
def test_splitting_never_loses_words(limit: int) -> None:
    text = "Alpha beta. Gamma delta epsilon!\n\nZeta eta theta iota kappa lambda mu.\nNu xi omicron pi."
    chunks = split_text(text, limit)
    assert all(len(c) <= limit for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)


# --- Telegram HTML ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("**bold** and __also__", "<b>bold</b> and <b>also</b>"),
        ("use `x<y` here", "use <code>x&lt;y</code> here"),
        ("```\nif a < b:\n    pass\n```", "<pre>if a &lt; b:\n    pass</pre>"),
        ("[fees](https://acme.example/fees?a=1&b=2)", '<a href="https://acme.example/fees?a=1&amp;b=2">fees</a>'),
        ("# Title\n* item", "<b>Title</b>\n• item"),
        ("2 * 3 = 6 and **unclosed", "2 * 3 = 6 and **unclosed"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("**a <b> c**", "<b>a &lt;b&gt; c</b>"),
    ],
)
def test_telegram_html(markdown: str, html: str) -> None:
    assert telegram_html(markdown) == html
    visible_text(html, "HTML")  # and Telegram would parse it


def test_telegram_html_never_adds_visible_characters() -> None:
    text = "**Fees** & `limits` <for> [you](https://x.example) # not a heading"
    assert utf16_len(visible_text(telegram_html(text), "HTML")) <= utf16_len(text)


# --- plain text for SMS -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("**Bold** and *italic* and _this_", "Bold and italic and this"),
        ("## Heading\n\n- one\n* two\n+ three", "Heading\n\n- one\n- two\n- three"),
        ("See [our fees](https://acme.example/fees).", "See our fees (https://acme.example/fees)."),
        ("Call `123`\n\n---\n\n> quoted", "Call 123\n\nquoted"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("```\ncode\n```", "code"),
    ],
)
def test_strip_markdown(markdown: str, plain: str) -> None:
    assert strip_markdown(markdown) == plain


# --- SMS encodings and segments ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, SmsEncoding.GSM7, 160, 1),
        ("a" * 161, SmsEncoding.GSM7, 161, 2),
        ("a" * 306, SmsEncoding.GSM7, 306, 2),
        ("a" * 307, SmsEncoding.GSM7, 307, 3),
        ("€" * 80, SmsEncoding.GSM7, 160, 1),  # extension characters take two septets
        ("€" * 81, SmsEncoding.GSM7, 162, 2),
        ("a" * 152 + "€", SmsEncoding.GSM7, 154, 1),
        ("a" * 160 + "€", SmsEncoding.GSM7, 162, 2),
        ("a" * 152 + "€" + "a" * 152, SmsEncoding.GSM7, 306, 3),  # the escape pair is not split across segments
        ("é£¥ÄÖÑÜ§¿", SmsEncoding.GSM7, 9, 1),
        ("你" * 70, SmsEncoding.UCS2, 70, 1),
        ("你" * 71, SmsEncoding.UCS2, 71, 2),
        ("a" * 159 + "’", SmsEncoding.UCS2, 160, 3),  # one curly quote costs the whole encoding
        ("😀" * 35, SmsEncoding.UCS2, 70, 1),
        ("a" + "😀" * 34, SmsEncoding.UCS2, 69, 1),
        ("a" * 66 + "😀" + "a" * 4, SmsEncoding.UCS2, 72, 2),
    ],
)
def test_sms_size(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


def test_lookalikes_are_replaced_to_stay_gsm7() -> None:
    text = gsm7_normalize("It’s “free” – really… • yes\u00a0no")
    assert text == "It's \"free\" - really... - yes no"
    assert sms_size(text).encoding is SmsEncoding.GSM7


# --- capping with a note ----------------------------------------------------------------------


def test_fit_keeps_what_fits_untouched() -> None:
    fitted = fit("Short answer.", sms_fits(1), tail="Reply 1 for Yes.", note="(cut)")
    assert fitted.text == "Short answer.\nReply 1 for Yes."
    assert not fitted.shortened


def test_fit_cuts_at_a_sentence_and_says_so() -> None:
    body = " ".join(f"This is sentence {i}." for i in range(100))
    fitted = fit(body, sms_fits(2), note=shortened_note("en"))
    assert fitted.shortened
    assert sms_size(fitted.text).segments <= 2
    kept, note = fitted.text.rsplit("\n", 1)
    assert note == shortened_note("en")
    assert kept.endswith(".") and body.startswith(kept)


def test_fit_keeps_the_tail_when_shortening() -> None:
    fitted = fit("word " * 400, sms_fits(3), tail="Reply 1 for Yes, 2 for No.", note="(shortened)")
    assert fitted.text.endswith("(shortened)\nReply 1 for Yes, 2 for No.")
    assert sms_size(fitted.text).segments <= 3
    assert "wor\n" not in fitted.text  # no half word before the note


def test_fit_by_characters() -> None:
    fitted = fit("abc " * 100, chars_fit(50), note="[more]")
    assert len(fitted.text) <= 50 and fitted.text.endswith("[more]")


def test_fit_uses_the_budget_fully() -> None:
    body = "a" * 1000
    fitted = fit(body, sms_fits(4), note="(cut)")
    assert sms_size(fitted.text).segments == 4
    assert sms_size(fitted.text + "a" * 10).segments == 5  # nothing much more would have fitted


def test_chinese_note_for_chinese_answers() -> None:
    assert "缩短" in shortened_note("zh")
    assert shortened_note("fr") == shortened_note("en")


# --- buttons ------------------------------------------------------------------------------------


def test_numbered_choices() -> None:
    buttons = (Button("Yes", "y"), Button("No", "n"), Button("Talk to a person", "agent"))
    assert numbered_choices(buttons, "en") == "Reply 1 for Yes, 2 for No, 3 for Talk to a person."
    assert numbered_choices(buttons[:2], "zh") == "回复 1：Yes；2：No。"
    assert numbered_choices((), "en") == ""


def test_sms_text_is_plain_and_gsm7_friendly() -> None:
    body, choices = sms_text("**Yes** – it’s free.", (Button("Thanks", "t"),), "en")
    assert body == "Yes - it's free."
    assert choices == "Reply 1 for Thanks."
