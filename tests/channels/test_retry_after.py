"""`Retry-After` in both of RFC 9110's forms; never shorter than asked, never negative."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from channels.retry_after import retry_after_seconds


@pytest.mark.parametrize(("raw", "seconds"), [("7", 7.0), (" 2 ", 2.0), ("0.5", 0.5), ("-3", 0.0)])
def test_delay_seconds(raw: str, seconds: float) -> None:
    assert retry_after_seconds(raw, default=1.0) == seconds


def test_an_http_date_is_the_time_left_until_then() -> None:
    wait = retry_after_seconds(formatdate(time.time() + 30, usegmt=True), default=1.0)
    assert 28.0 <= wait <= 30.0
    assert retry_after_seconds(formatdate(time.time() - 30, usegmt=True), default=1.0) == 0.0


@pytest.mark.parametrize("raw", [None, "", "soon", "Mon, 99 Foo 2026"])
def test_nothing_readable_means_the_default(raw: str | None) -> None:
    assert retry_after_seconds(raw, default=2.5) == 2.5
