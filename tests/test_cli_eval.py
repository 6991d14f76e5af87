"""`csbot eval intents` as a user runs it: progress on stderr, one JSON line last on stdout."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

from tests.test_cli import ROOT, csbot

FIXTURES = ROOT / "tests" / "core" / "nlu" / "fixtures"
BANK_TRAIN = ROOT / "bots" / "acme_bank" / "intents" / "train.csv"
BASE_KEYS = {"accuracy", "macro_f1", "n_test", "train_seconds", "messages_per_second"}
OOS_KEYS = {"in_scope_accuracy", "oos_recall"}


def last_json(stdout: str) -> dict[str, object]:
    lines = stdout.strip().splitlines()
    assert lines, "no output on stdout"
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    return result


def test_eval_prints_progress_on_stderr_and_exactly_the_documented_keys(tmp_path: Path) -> None:
    result = csbot("eval", "intents", "--train", str(FIXTURES / "tiny_train.csv"), "--test", str(FIXTURES / "tiny_test.csv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    progress = result.stderr.strip().splitlines()
    assert any("loading train examples from" in line and "tiny_train.csv" in line for line in progress)
    assert any(line.startswith("training on 21 examples") for line in progress)
    assert any("single-message speed" in line for line in progress)
    report = last_json(result.stdout)
    assert set(report) == BASE_KEYS
    assert report["n_test"] == 6
    assert 0.5 <= report["accuracy"] <= 1.0  # type: ignore[operator]
    assert report["messages_per_second"] > 0  # type: ignore[operator]
    assert "loading" not in result.stdout  # progress never pollutes the data stream


def test_eval_on_data_with_out_of_scope_adds_the_oos_metrics(tmp_path: Path) -> None:
    path = FIXTURES / "tiny_clinc.json"
    result = csbot("eval", "intents", "--train", str(path), "--test", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert set(report) == BASE_KEYS | OOS_KEYS
    assert report["n_test"] == 8


def write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(rows)
    return path


def test_eval_on_held_out_banking77_beats_the_majority_baseline(tmp_path: Path) -> None:
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with BANK_TRAIN.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_label[row["category"]].append((row["text"], row["category"]))
    rng = random.Random(1)
    train, test = [], []
    for label in sorted(by_label):
        rows = rng.sample(by_label[label], 30)  # 25 to train on, 5 held out, for all 77 intents
        train += rows[:25]
        test += rows[25:]
    majority = Counter(label for _, label in train).most_common(1)[0][0]
    baseline = sum(label == majority for _, label in test) / len(test)
    result = csbot("eval", "intents", "--train", str(write(tmp_path / "train.csv", train)), "--test", str(write(tmp_path / "test.csv", test)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["n_test"] == 77 * 5
    assert report["accuracy"] > 0.7 > baseline * 10  # type: ignore[operator]
    assert report["macro_f1"] > 0.65  # type: ignore[operator]


def test_eval_with_a_missing_file_names_it(tmp_path: Path) -> None:
    result = csbot("eval", "intents", "--train", str(tmp_path / "absent.csv"), "--test", str(FIXTURES / "tiny_test.csv"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path / 'absent.csv'}: file not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_eval_with_an_encoder_this_release_lacks_names_the_ones_it_has(tmp_path: Path) -> None:
    result = csbot("eval", "intents", "--encoder", "minilm", "--train", str(FIXTURES / "tiny_train.csv"),
                   "--test", str(FIXTURES / "tiny_test.csv"), cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'minilm'" in result.stderr and "e5-small" in result.stderr
    assert result.stdout.strip() == ""


def test_eval_with_e5_small_prints_encoding_progress_and_caches_the_rows(tmp_path: Path) -> None:
    args = ("eval", "intents", "--encoder", "e5-small", "--train", str(FIXTURES / "tiny_train.csv"),
            "--test", str(FIXTURES / "tiny_test.csv"))
    env = {"CSBOT_CACHE_DIR": str(tmp_path / "cache")}
    first = csbot(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "e5-small: 0 of" in first.stderr
    again = csbot(*args, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["accuracy"] == json.loads(first.stdout.strip().splitlines()[-1])["accuracy"]
    assert "vectors were cached" in again.stderr and "e5-small: 0 of" not in again.stderr
