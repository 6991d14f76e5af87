"""Untrusted bytes to plain data, the same way on every webhook: bounded JSON, clean strings,
and a pydantic model that says which fields must have which types.

Each failure is `BadInput` naming what was wrong, never a `RecursionError` from a deep document
or an `AttributeError` from a string where an object was expected; the adapter decides how to
answer it so that its platform stops re-sending.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from core.errors import BadInput
from core.sanitize import MAX_DEPTH, clean_text, clean_tree, depth

Model = TypeVar("Model", bound=BaseModel)

# A string field of a payload: null reads as "", and what the database cannot store is removed.
CleanStr = Annotated[str, BeforeValidator(lambda v: "" if v is None else v), AfterValidator(clean_text)]



class Lenient(BaseModel):
    """A payload model that allows unknown fields: platforms add fields often, and an app must
    not break when they do."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def load_json(body: bytes, what: str) -> Any:
    """Parsed JSON with every string cleaned; `BadInput` for non-JSON or over-deep nesting."""
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise BadInput(f"{what} nests deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise BadInput(f"{what} is not JSON") from exc
    if depth(data) > MAX_DEPTH:
        raise BadInput(f"{what} nests deeper than {MAX_DEPTH} levels")
    return clean_tree(data)


def validated(model: type[Model], data: Any, what: str) -> Model:
    """`data` as `model`; `BadInput` naming the first field at fault otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadInput(f"{what}: {where}: {first['msg']}") from None
