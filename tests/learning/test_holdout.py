"""The held-out split: stratified, reproducible, stable when data is added."""

from __future__ import annotations

from collections import Counter

import pytest

from core.learning.holdout import split_holdout

EXAMPLES = [(f"message {i} about {label}", label) for label in ("a", "b", "c") for i in range(40)] + [
    (f"rare {i}", "rare") for i in range(4)
]


def test_each_label_is_held_out_in_proportion_keeping_enough_to_train() -> None:
    split = split_holdout(EXAMPLES, fraction=0.25, seed=3)
    held = Counter(label for _, label in split.held_out)
    assert held == {"a": 10, "b": 10, "c": 10, "rare": 1}
    assert Counter(label for _, label in split.train)["rare"] == 3
    assert set(split.train).isdisjoint(split.held_out)
    assert len(split.train) + len(split.held_out) == len(EXAMPLES)


def test_the_split_depends_on_the_seed_not_on_file_order() -> None:
    split = split_holdout(EXAMPLES, seed=1)
    reordered = split_holdout(list(reversed(EXAMPLES)), seed=1)
    assert set(reordered.held_out) == set(split.held_out)
    assert split_holdout(EXAMPLES, seed=1) == split
    assert set(split_holdout(EXAMPLES, seed=2).held_out) != set(split.held_out)


def test_adding_examples_moves_few_old_ones() -> None:
    before = set(split_holdout(EXAMPLES, fraction=0.2).held_out)
    grown = EXAMPLES + [(f"new message {i}", "a") for i in range(5)]
    after = set(split_holdout(grown, fraction=0.2).held_out)
    assert len(before - after) <= 2


def test_copies_of_an_example_land_on_the_same_side() -> None:
    examples = [(f"text {i}", "a") for i in range(30)] * 2 + [(f"other {i}", "b") for i in range(30)]
    split = split_holdout(examples, fraction=0.2)
    assert set(split.train).isdisjoint(split.held_out)


def test_fraction_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        split_holdout(EXAMPLES, fraction=1.0)
