"""The seeded train/validation split: sizes, determinism, and no near-duplicate pair across it."""

from __future__ import annotations

import random

import pytest

from tuneui.cleaning import train_val_split
from tuneui.cleaning.minhash import near_duplicate_pairs
from tuneui.contract.errors import DataError

VOCAB = [f"w{i}" for i in range(3000)]


def corpus(n: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    return [[{"role": "user", "content": f"q{i}"},
             {"role": "assistant", "content": " ".join(rng.choice(VOCAB) for _ in range(100))}] for i in range(n)]


def with_near_copies(n: int, copies: int) -> list[list[dict]]:
    data = corpus(n)
    rng = random.Random(1)
    for _k in range(copies):
        src = data[rng.randrange(n)]
        words = src[1]["content"].split()
        words[rng.randrange(len(words))] = "edited"
        data.append([src[0], {"role": "assistant", "content": " ".join(words)}])
    return data


def test_sizes_and_defaults():
    data = corpus(200)
    s = train_val_split(data, 0.1, 42)
    assert (len(s.train), len(s.val)) == (180, 20)
    assert sorted(s.train_indices + s.val_indices) == list(range(200))
    auto = train_val_split(corpus(50), None, 42)
    assert len(auto.val) == 5
    none = train_val_split(data, 0.0, 42)
    assert len(none.val) == 0 and len(none.train) == 200
    assert len(train_val_split(corpus(3), 0.1, 0).val) == 1  # a tiny set still gets one validation example
    with pytest.raises(DataError, match="val_fraction"):
        train_val_split(data, 1.5, 0)


def test_seeded_and_deterministic():
    data = corpus(100)
    a, b, c = train_val_split(data, 0.2, 7), train_val_split(data, 0.2, 7), train_val_split(data, 0.2, 8)
    assert a.val_indices == b.val_indices and a.val_indices != c.val_indices


def test_no_near_duplicate_pair_across_the_split():
    data = with_near_copies(150, 60)
    s = train_val_split(data, 0.3, 42)
    pairs = near_duplicate_pairs([c[1]["content"] + " " + c[0]["content"] for c in data])
    assert len(pairs) >= 50
    val = set(s.val_indices)
    assert all((i in val) == (j in val) for i, j, _ in pairs)
    lk = s.to_dict()["leakage"]
    assert lk["pairs_across_split"] == 0 and lk["near_duplicate_pairs"] >= 50
    assert lk["pairs_across_random_split"] > 0  # what a plain random split would have leaked
    assert abs(len(s.val) - round(0.3 * len(data))) <= 2
