"""Seeded train/validation split with no near-duplicate pair across it.

A validation set that holds near copies of training examples measures memorisation, not
learning. Near-duplicate pairs (the same MinHash LSH + Jaccard check as cleaning) are grouped and
every group goes to one side as a whole; the report says how many pairs a plain random split
would have leaked and checks that none remain.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tuneui.cleaning.minhash import near_duplicate_pairs
from tuneui.cleaning.text import JoinedTexts
from tuneui.contract.errors import DataError
from tuneui.data.schema import Conversation

DEFAULT_VAL_FRACTION = 0.1
MAX_AUTO_VAL = 2000  # beyond this a bigger validation set only slows evaluation down


def default_val_size(n: int, val_fraction: float | None = None) -> int:
    if n < 2:
        return 0
    if val_fraction is None:
        size = min(round(n * DEFAULT_VAL_FRACTION), MAX_AUTO_VAL)
    else:
        size = round(n * val_fraction)
        if val_fraction > 0:
            size = max(size, 1)
    return min(size, n - 1)


@dataclass
class SplitResult:
    train: list[Conversation]
    val: list[Conversation]
    train_indices: list[int] = field(default_factory=list)
    val_indices: list[int] = field(default_factory=list)
    leakage: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict:
        return {"train": len(self.train), "val": len(self.val), "seed": self.seed, "leakage": self.leakage}


def _groups(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, _ in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def train_val_split(
    conversations: list[Conversation], val_fraction: float | None = DEFAULT_VAL_FRACTION, seed: int = 42, *,
    near_dup_threshold: float = 0.8, near_dup_min_words: int = 16, deduplicated: bool = False,
) -> SplitResult:
    """Split with a seeded shuffle; `val_fraction=None` picks 10% capped at 2,000 examples.

    `deduplicated=True` says the examples come out of `clean()` with near-duplicate removal at this
    threshold: the same deterministic search would find no pair again, so it is skipped."""
    if val_fraction is not None and not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(conversations)
    k = default_val_size(n, val_fraction) if val_fraction != 0 else 0
    search = n > 1 and k and not deduplicated
    pairs = (near_duplicate_pairs(JoinedTexts(conversations), near_dup_threshold, min_words=near_dup_min_words)
             if search else [])
    order = list(range(n))
    random.Random(seed).shuffle(order)
    naive_val = set(order[:k])
    naive_leaks = sum((i in naive_val) != (j in naive_val) for i, j, _ in pairs)

    groups = _groups(n, pairs)
    rank = {i: r for r, i in enumerate(order)}
    groups.sort(key=lambda g: min(rank[i] for i in g))  # seeded order, whole groups at a time
    val: set[int] = set()
    for g in groups:
        if len(val) >= k:
            break
        if len(val) + len(g) <= k:
            val.update(g)
    moved = len(naive_val - val)
    val_idx = sorted(val)
    train_idx = [i for i in range(n) if i not in val]
    remaining = sum((i in val) != (j in val) for i, j, _ in pairs)
    leakage = {
        "near_duplicate_pairs": len(pairs), "threshold": near_dup_threshold, "min_words": near_dup_min_words,
        "checked_by": "near-duplicate removal in cleaning" if deduplicated else "search before splitting",
        "pairs_across_random_split": naive_leaks, "examples_moved": moved, "pairs_across_split": remaining,
    }
    return SplitResult([conversations[i] for i in train_idx], [conversations[i] for i in val_idx],
                       train_idx, val_idx, leakage, seed)
