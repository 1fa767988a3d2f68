"""Seeded train/validation split with no near-duplicate pair across it, and (for preference and KTO
data) no prompt on both sides.

A validation set that holds near copies of training examples, or other answers to a training prompt,
measures memorisation, not learning. Examples joined by a near-duplicate pair or a shared prompt are
grouped, and every group goes to one side as a whole; the report says how many pairs a plain random
split would have leaked and checks that none remain. Works on arrays of keys, so a million examples
cost a few arrays of integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuneui.contract.errors import DataError

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


def check_fraction(val_fraction: float | None) -> None:
    if val_fraction is not None and not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")


def _groups(n: int, pairs: list[tuple[int, int, float]], prompts: np.ndarray | None) -> np.ndarray:
    """Group id (its smallest member) of every example."""
    from tuneui.cleaning.disjoint import DisjointSets

    sets = DisjointSets()
    for i, j, _ in pairs:
        sets.union(i, j)
    if prompts is not None and len(prompts):
        order = np.argsort(prompts, kind="stable")
        same = np.flatnonzero(prompts[order][1:] == prompts[order][:-1])
        for s in same.tolist():
            sets.union(int(order[s]), int(order[s + 1]))
    group = np.arange(n)
    for node in sets.members():
        group[node] = sets.find(node)
    return group


def assign(n: int, k: int, seed: int, pairs: list[tuple[int, int, float]],
           prompts: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """(validation mask over the n examples, leakage facts): k examples, whole groups at a time."""
    group = _groups(n, pairs, prompts)
    order = np.random.default_rng(seed).permutation(n)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    naive = np.zeros(n, dtype=bool)
    naive[order[:k]] = True
    first_rank = np.full(n, n, dtype=np.int64)
    np.minimum.at(first_rank, group, rank)
    sizes = np.bincount(group, minlength=n)
    ids = np.flatnonzero(sizes)
    chosen, total = [], 0
    for g in ids[np.argsort(first_rank[ids], kind="stable")].tolist():  # seeded order, whole groups
        if total >= k:
            break
        if total + sizes[g] <= k:
            chosen.append(g)
            total += int(sizes[g])
    val = np.isin(group, np.asarray(chosen, dtype=group.dtype))
    leakage: dict[str, Any] = {
        "near_duplicate_pairs": len(pairs),
        "pairs_across_random_split": sum(int(naive[i] != naive[j]) for i, j, _ in pairs),
        "examples_moved": int((naive & ~val).sum()),
        "pairs_across_split": sum(int(val[i] != val[j]) for i, j, _ in pairs),
    }
    if prompts is not None:
        across = set(prompts[val].tolist()) & set(prompts[~val].tolist())
        leakage.update(prompt_groups=len(set(prompts.tolist())), prompts_across_split=len(across))
    return val, leakage


@dataclass
class SplitResult:
    train: list[Any]
    val: list[Any]
    train_indices: list[int] = field(default_factory=list)
    val_indices: list[int] = field(default_factory=list)
    leakage: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict:
        return {"train": len(self.train), "val": len(self.val), "seed": self.seed, "leakage": self.leakage}


def train_val_split(
    items: list[Any], val_fraction: float | None = DEFAULT_VAL_FRACTION, seed: int = 42, *,
    near_dup_threshold: float = 0.8, near_dup_min_words: int = 16, deduplicated: bool = False,
) -> SplitResult:
    """Split conversations or Examples held in memory; `val_fraction=None` picks 10% capped at 2,000.

    `deduplicated=True` says the examples come out of `clean()` with near-duplicate removal at this
    threshold: the same deterministic search would find no pair again, so it is skipped."""
    from tuneui.cleaning.minhash import near_duplicate_pairs
    from tuneui.cleaning.text import example_text, joined, prompt_key
    from tuneui.contract.datasets import Example

    check_fraction(val_fraction)
    n = len(items)
    k = default_val_size(n, val_fraction) if val_fraction != 0 else 0
    examples = [x if isinstance(x, Example) else Example(messages=x) for x in items]
    texts = [example_text(e) if e.chosen is not None or e.completion is not None else joined(e.messages)
             for e in examples]
    pairs = (near_duplicate_pairs(texts, near_dup_threshold, min_words=near_dup_min_words)
             if n > 1 and k and not deduplicated else [])
    paired = any(e.chosen is not None or e.completion is not None for e in examples)
    prompts = (np.frombuffer(b"".join(prompt_key(e) for e in examples), dtype=np.uint64) if paired and n else None)
    val, leakage = assign(n, k, seed, pairs, prompts)
    leakage.update(threshold=near_dup_threshold, min_words=near_dup_min_words,
                   checked_by="near-duplicate removal in cleaning" if deduplicated else "search before splitting")
    val_idx = np.flatnonzero(val).tolist()
    train_idx = np.flatnonzero(~val).tolist()
    return SplitResult([items[i] for i in train_idx], [items[i] for i in val_idx], train_idx, val_idx, leakage, seed)
