"""The bot's labelled intent examples: every CSV file in its ``intents`` folder.

Bot authors split examples over several files (one per language, or per
product), so the folder is the unit of training data; files are read in
name order so that the same folder always yields the same example order,
and the same fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from core.botdef import BOT_FILE, LoadedBot
from core.errors import ConfigError
from core.nlu.datasets import Example, load_examples


@dataclass(frozen=True, slots=True)
class IntentData:
    """Examples of one bot, the files they came from and a digest of their content.

    ``sha256`` changes whenever any example or label changes, so a model card
    recording it tells whether a model was trained on the data now on disk.
    """

    files: tuple[Path, ...]
    examples: tuple[Example, ...]
    sha256: str

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(label for _, label in self.examples)


def intents_folder(bot: LoadedBot) -> Path:
    """The folder named by ``intents`` in bot.yaml; ``ConfigError`` naming the field if unusable."""
    source = str(bot.folder / BOT_FILE)
    if bot.definition.intents is None:
        raise ConfigError(source, "intents", "no intent training data: set it to a folder of CSV files (text,category)")
    folder = bot.folder / bot.definition.intents
    if not folder.is_dir():
        raise ConfigError(source, "intents", f"folder {folder} does not exist")
    return folder


def load_intent_data(bot: LoadedBot) -> IntentData:
    """Concatenate every ``*.csv`` in the bot's intents folder.

    Raises ``ConfigError`` for a missing or empty folder and
    ``DatasetFileError`` (naming the file and line) for a bad CSV.
    """
    folder = intents_folder(bot)
    files = tuple(sorted(path for path in folder.glob("*.csv") if path.is_file()))
    if not files:
        raise ConfigError(str(bot.folder / BOT_FILE), "intents", f"folder {folder} has no .csv files (columns text,category)")
    examples: list[Example] = []
    for path in files:
        examples.extend(load_examples(path, "train"))
    return IntentData(files, tuple(examples), fingerprint(examples))


def fingerprint(examples: list[Example] | tuple[Example, ...]) -> str:
    """SHA-256 of the examples in order (text and label separated unambiguously)."""
    digest = hashlib.sha256()
    for text, label in examples:
        digest.update(text.encode("utf-8") + b"\x00" + label.encode("utf-8") + b"\x01")
    return digest.hexdigest()
