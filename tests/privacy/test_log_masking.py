"""Card numbers and typed secrets never reach the log, not even through a traceback's SQL
parameters (SQLAlchemy prints them in its exception message)."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from core.nlu.redaction import mask_secrets
from infra.logging import RedactSecrets

CARD = "4111 1111 1111 1111"


@pytest.mark.parametrize(
    ("said", "kept", "gone"),
    [
        (f"my card is {CARD} please", "[CARD ending 1111]", "4111 1111"),
        ("card 4111-1111-1111-1111", "[CARD ending 1111]", "4111-1111"),
        ("my cvv is 123", "cvv is [SECRET]", "123"),
        ("CVV: 987", "[SECRET]", "987"),
        ("the one-time code 445566 arrived", "[SECRET]", "445566"),
        ("my password is hunter2!", "password is [SECRET]", "hunter2"),
    ],
)
def test_secrets_are_masked_and_the_last_four_kept(said: str, kept: str, gone: str) -> None:
    masked = mask_secrets(said)
    assert kept in masked and gone not in masked


def test_a_number_that_is_not_a_card_is_kept() -> None:
    assert mask_secrets("order 1234567890123 shipped") == "order 1234567890123 shipped"  # fails Luhn


def test_sql_parameters_in_a_traceback_are_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    log = logging.getLogger("tests.privacy.sql")
    log.addHandler(handler)
    log.propagate = False
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table WHERE text = :t"), {"t": f"card {CARD} cvv 321"})
    except SQLAlchemyError:
        log.exception("storing message %s failed", f"text={CARD}")
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert "no_such_table" in written and "[CARD ending 1111]" in written  # the traceback is there, masked
    assert "cvv [SECRET]" in written  # the SQL parameters were printed, masked
    assert "4111 1111" not in written and "321" not in written
