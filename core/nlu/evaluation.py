"""Offline evaluation of the intent classifier on a train/test file pair.

Bot authors run this (``csbot eval intents``) to check that new training
data still classifies well before deploying it. The result reports the
standard metrics of the benchmark families the files come from: accuracy
and macro-F1, plus in-scope accuracy and out-of-scope recall (CLINC150
style) when the test file has out-of-scope examples.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Final
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from core.nlu.datasets import Example, load_examples
from core.nlu.example_vectors import example_vectors
from core.nlu.intents import DEFAULT_OOS_LABEL, IntentModel, IntentModelConfig

Progress = Callable[[str], None]

# Latency is measured on at most this many single-message calls: enough
# for a stable rate, short enough to keep the command quick.
LATENCY_SAMPLE: Final = 1000
BASE_KEYS: Final = ("accuracy", "macro_f1", "n_test", "train_seconds", "messages_per_second")
OOS_KEYS: Final = ("in_scope_accuracy", "oos_recall")


def evaluate(
    train_path: str | Path,
    test_path: str | Path,
    progress: Progress | None = None,
    *,
    oos_label: str = DEFAULT_OOS_LABEL,
    config: IntentModelConfig | None = None,
) -> dict[str, Any]:
    """Train on ``train_path``, test on ``test_path`` and return the metrics.

    Keys: ``accuracy``, ``macro_f1``, ``n_test``, ``train_seconds``,
    ``messages_per_second`` (one message per call), plus
    ``in_scope_accuracy`` and ``oos_recall`` when the test file contains
    ``oos_label`` examples. Without such examples the model's argmax intent
    is scored, since no answer can then be "out of scope".
    Raises ``DatasetFileError`` for unusable files.
    """
    report = progress or _silent
    train = _load(train_path, "train", report)
    test = _load(test_path, "test", report)
    vectors = encoded(config, [text for text, _ in (*train, *test)], report)
    train_vectors, test_vectors = (None, None) if vectors is None else (vectors[: len(train)], vectors[len(train):])
    report(f"training on {len(train)} examples ({len({label for _, label in train})} labels)")
    started = time.perf_counter()
    model = IntentModel.train(train, oos_label=oos_label, config=config, embeddings=train_vectors)
    train_seconds = time.perf_counter() - started
    report(f"trained in {train_seconds:.1f} s; classifying {len(test)} test examples")
    has_oos = any(label == oos_label for _, label in test)
    result = _quality(model, test, oos_label, has_oos, test_vectors)
    report(f"measuring single-message speed on {min(len(test), LATENCY_SAMPLE)} messages")
    result["n_test"] = len(test)
    result["train_seconds"] = round(train_seconds, 2)
    result["messages_per_second"] = round(_messages_per_second(model, test), 1)
    return result


def encoded(config: IntentModelConfig | None, texts: Sequence[str], report: Progress) -> NDArray[np.float32] | None:
    """The encoder rows of `texts` when `config` has an encoder (None without one), from the
    config's cache when it names one: encoding, not training, is the slow part."""
    name = config.features.encoder if config is not None else None
    if config is None or name is None:
        return None
    if config.example_vectors is not None:
        return config.example_vectors(texts, report)
    return example_vectors(name, texts, progress=report)


def format_report(result: dict[str, Any]) -> str:
    """Return ``result`` as one line of JSON with sorted keys."""
    return json.dumps(result, sort_keys=True, ensure_ascii=False)


def _silent(_message: str) -> None:
    """Progress sink used when the caller wants none."""


def _load(path: str | Path, role: str, report: Progress) -> tuple[Example, ...]:
    report(f"loading {role} examples from {path}")
    return load_examples(path, "train" if role == "train" else "test")


def _quality(
    model: IntentModel, test: Sequence[Example], oos_label: str, has_oos: bool,
    vectors: NDArray[np.float32] | None = None,
) -> dict[str, Any]:
    from sklearn.metrics import f1_score  # scoring only: spares serving processes its import

    gold = [label for _, label in test]
    predicted = predicted_labels(model, [text for text, _ in test], score_oos=has_oos, oos_label=oos_label,
                                 embeddings=vectors)
    result: dict[str, Any] = {
        "accuracy": _round(_share(p == g for p, g in zip(predicted, gold, strict=False))),
        "macro_f1": _round(
            f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0)
        ),
    }
    if has_oos:
        pairs = list(zip(predicted, gold, strict=False))
        result["in_scope_accuracy"] = _round(_share(p == g for p, g in pairs if g != oos_label))
        result["oos_recall"] = _round(_share(p == oos_label for p, g in pairs if g == oos_label))
    return result


def predicted_labels(
    model: IntentModel, texts: Sequence[str], *, score_oos: bool, oos_label: str = DEFAULT_OOS_LABEL,
    embeddings: NDArray[np.float32] | None = None,
) -> list[str]:
    """The label each text is scored with.

    With ``score_oos`` a rejected message counts as ``oos_label`` (the test
    data labels out-of-scope messages); without it the argmax intent counts,
    since no answer can then be "out of scope". Shared with model selection
    so that retraining compares models exactly as this report scores them.
    """
    predictions = model.predict_batch(texts, embeddings=embeddings)
    if score_oos:
        return [oos_label if p.out_of_scope else p.intent for p in predictions]
    return [p.intent for p in predictions]


def _messages_per_second(model: IntentModel, test: Sequence[Example]) -> float:
    sample = [text for text, _ in test[:LATENCY_SAMPLE]]
    started = time.perf_counter()
    for text in sample:
        model.predict(text)
    return len(sample) / max(time.perf_counter() - started, 1e-9)


def _share(flags: Any) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def _round(value: float) -> float:
    return round(float(value), 4)
