"""Reading labelled intent examples from the two supported file layouts.

* CSV with a header containing ``text`` and ``category`` (BANKING77 form);
  any other columns are ignored.
* JSON in the CLINC150 form: an object whose ``train``/``oos_train`` or
  ``test``/``oos_test`` keys hold lists of ``[text, intent]`` pairs, or a
  bare list of such pairs. Out-of-scope items carry the intent ``oos``.

Every problem is reported as a :class:`DatasetFileError` naming the file,
because these files are written by hand by bot authors.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final, Literal

from core.nlu.errors import DatasetFileError

Example = tuple[str, str]
Role = Literal["train", "test"]

CSV_COLUMNS: Final = ("text", "category")
# Keys read from a CLINC-style JSON object, per role; the first is required.
JSON_KEYS: Final[dict[str, tuple[str, str]]] = {
    "train": ("train", "oos_train"),
    "test": ("test", "oos_test"),
}


def load_examples(path: str | Path, role: Role) -> tuple[Example, ...]:
    """Return the ``(text, label)`` examples of ``path`` for ``role``.

    ``role`` selects the CLINC JSON keys; CSV files and bare JSON lists are
    used whole whatever the role.
    """
    path = Path(path)
    raw = _read_text(path)
    examples = _parse_json(path, raw, role) if _looks_like_json(path, raw) else _parse_csv(path, raw)
    if not examples:
        raise DatasetFileError(path, "contains no examples")
    return examples


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DatasetFileError(path, "file not found")
    if not path.is_file():
        raise DatasetFileError(path, "not a regular file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetFileError(path, f"not valid UTF-8 text (byte {error.start})") from error
    except OSError as error:
        raise DatasetFileError(path, f"cannot be read ({error.strerror})") from error


def _looks_like_json(path: Path, raw: str) -> bool:
    return path.suffix.lower() == ".json" or raw.lstrip()[:1] in ("{", "[")


def _parse_csv(path: Path, raw: str) -> tuple[Example, ...]:
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in CSV_COLUMNS if name not in columns]
    if missing:
        raise DatasetFileError(
            path,
            f"CSV header must contain columns {', '.join(CSV_COLUMNS)}; "
            f"missing {', '.join(missing)} (found: {', '.join(columns) or 'no header'})",
        )
    reader.fieldnames = columns
    examples = []
    for row in reader:
        text, label = ((row.get(name) or "").strip() for name in CSV_COLUMNS)
        if not text or not label:
            raise DatasetFileError(path, f"line {reader.line_num}: empty text or category")
        examples.append((text, label))
    return tuple(examples)


def _parse_json(path: Path, raw: str, role: Role) -> tuple[Example, ...]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise DatasetFileError(
            path, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    if isinstance(document, list):
        return _pairs(path, document, "top-level list")
    if not isinstance(document, dict):
        raise DatasetFileError(path, "JSON must be an object with split keys or a list of pairs")
    required, optional = JSON_KEYS[role]
    if required not in document:
        raise DatasetFileError(
            path,
            f"JSON object has no {required!r} key for the {role} split "
            f"(keys: {', '.join(sorted(document)) or 'none'})",
        )
    examples = _pairs(path, document[required], required)
    if optional in document:
        examples += _pairs(path, document[optional], optional)
    return examples


def _pairs(path: Path, items: Any, where: str) -> tuple[Example, ...]:
    if not isinstance(items, list):
        raise DatasetFileError(path, f"{where}: expected a list of [text, intent] pairs")
    examples = []
    for position, item in enumerate(items):
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise DatasetFileError(path, f"{where}[{position}]: expected [text, intent] strings")
        text, label = item[0].strip(), item[1].strip()
        if not text or not label:
            raise DatasetFileError(path, f"{where}[{position}]: empty text or intent")
        examples.append((text, label))
    return tuple(examples)
