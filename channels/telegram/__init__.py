"""Telegram: webhook in (secret header, Update JSON), Bot API out (python-telegram-bot)."""

from channels.telegram.spec import SPEC

__all__ = ["SPEC"]
