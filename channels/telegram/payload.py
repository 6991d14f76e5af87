"""The shape of a Telegram `Update`, as far as csbot reads it, checked before PTB builds objects.

`Update.de_json` trusts its input: `"chat": "oops"` or a date of 400 digits raise from deep
inside the SDK. These models refuse such an update with the field at fault, and only the update
kinds csbot asks for (`message`, `callback_query`) are handed on; the rest are dropped unread.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from channels.edge import CleanStr, Lenient, load_json, validated

TelegramId = Annotated[int, Field(ge=-(2**63), lt=2**63)]
UnixTime = Annotated[int, Field(ge=0, lt=2**32)]
TAKEN = ("update_id", "message", "callback_query")



class User(Lenient):
    id: TelegramId
    is_bot: bool = False
    first_name: str  # always sent; PTB builds `full_name` from it


class Chat(Lenient):
    id: TelegramId
    type: CleanStr


class Entity(Lenient):
    type: CleanStr
    offset: Annotated[int, Field(ge=0, lt=2**31)]
    length: Annotated[int, Field(ge=0, lt=2**31)]
    user: User | None = None


class Message(Lenient):
    message_id: TelegramId
    date: UnixTime
    chat: Chat
    sender: User | None = Field(default=None, alias="from")
    text: CleanStr | None = None
    caption: CleanStr | None = None
    entities: list[Entity] | None = None
    caption_entities: list[Entity] | None = None
    reply_to_message: Message | None = None
    message_thread_id: TelegramId | None = None
    is_topic_message: bool | None = None


class CallbackQuery(Lenient):
    id: CleanStr
    sender: User = Field(alias="from")
    chat_instance: CleanStr = ""
    data: CleanStr | None = None
    message: Message | None = None


class Update(Lenient):
    update_id: TelegramId
    message: Message | None = None
    callback_query: CallbackQuery | None = None


def update_data(body: bytes) -> dict[str, Any]:
    """The parts of an Update csbot reads, checked against `Update`; `BadInput` otherwise."""
    data = load_json(body, "Telegram update")
    validated(Update, data, "Telegram update")
    return {key: data[key] for key in TAKEN if data.get(key) is not None}
