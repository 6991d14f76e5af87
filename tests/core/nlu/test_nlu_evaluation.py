from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.nlu.errors import DatasetFileError
from core.nlu.evaluation import evaluate, format_report

FIXTURES = Path(__file__).parent / "fixtures"
BASE_KEYS = {"accuracy", "macro_f1", "n_test", "train_seconds", "messages_per_second"}


def test_csv_evaluation_reports_exact_keys_and_progress() -> None:
    messages: list[str] = []
    result = evaluate(FIXTURES / "tiny_train.csv", FIXTURES / "tiny_test.csv", messages.append)
    assert set(result) == BASE_KEYS
    assert result["n_test"] == 6
    assert 0.5 <= result["accuracy"] <= 1.0
    assert 0.0 <= result["macro_f1"] <= 1.0
    assert result["train_seconds"] >= 0
    assert result["messages_per_second"] > 0
    assert messages and any("tiny_train.csv" in message for message in messages)


def test_clinc_json_with_oos_adds_oos_metrics() -> None:
    path = FIXTURES / "tiny_clinc.json"
    result = evaluate(path, path)
    assert set(result) == BASE_KEYS | {"in_scope_accuracy", "oos_recall"}
    assert result["n_test"] == 8
    assert 0.0 <= result["in_scope_accuracy"] <= 1.0
    assert 0.0 <= result["oos_recall"] <= 1.0


def test_format_report_is_one_json_line_that_ends_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    result = evaluate(FIXTURES / "tiny_train.csv", FIXTURES / "tiny_test.csv", print)
    print(format_report(result))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) > 1
    assert "\n" not in format_report(result)
    assert json.loads(lines[-1]) == result


def test_missing_file_is_named() -> None:
    with pytest.raises(DatasetFileError) as error:
        evaluate(FIXTURES / "absent.csv", FIXTURES / "tiny_test.csv")
    assert "absent.csv" in str(error.value)
    assert "not found" in str(error.value)


def test_bad_columns_are_named() -> None:
    with pytest.raises(DatasetFileError) as error:
        evaluate(FIXTURES / "bad_columns.csv", FIXTURES / "tiny_test.csv")
    message = str(error.value)
    assert "bad_columns.csv" in message
    assert "text" in message and "category" in message
    assert "utterance" in message


def test_bad_json_is_named_with_position() -> None:
    with pytest.raises(DatasetFileError) as error:
        evaluate(FIXTURES / "bad_json.json", FIXTURES / "tiny_test.csv")
    assert "bad_json.json" in str(error.value)
    assert "invalid JSON at line" in str(error.value)


def test_json_without_the_split_key_is_explained(tmp_path: Path) -> None:
    document = json.loads((FIXTURES / "tiny_clinc.json").read_text(encoding="utf-8"))
    train_only = tmp_path / "train_only.json"
    train_only.write_text(json.dumps({"train": document["train"]}), encoding="utf-8")
    with pytest.raises(DatasetFileError) as error:
        evaluate(FIXTURES / "tiny_train.csv", train_only)
    assert "train_only.json" in str(error.value)
    assert "no 'test' key" in str(error.value)


def test_malformed_pairs_are_located(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps({"train": [["ok", "greet"], ["no label"]]}), encoding="utf-8")
    with pytest.raises(DatasetFileError, match=r"train\[1\]"):
        evaluate(path, FIXTURES / "tiny_test.csv")
