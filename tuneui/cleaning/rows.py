"""The per-example half of cleaning, one batch at a time: repairs and filters in a fixed order, then
the keys deduplication needs (exact key, tools key, prompt key, MinHash band keys).

A batch is independent of every other, so batches can run in worker processes; everything here is
plain data in and plain data out. Removed and repaired examples are counted per filter, and the
first few of each are kept, with their position, for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuneui.cleaning import filters
from tuneui.cleaning.text import example_excerpt, features, prompt_key, tools_key
from tuneui.contract.cleaning import CleanOptions
from tuneui.contract.datasets import Example
from tuneui.data.schema import example_words

ORDER = ("encoding", "empty_turns", "pairs", "boilerplate", "quality", "pii", "too_short", "too_long",
         "exact_duplicates", "near_duplicates")
PAIRED = ("preference", "kto")


def enabled_filters(opts: CleanOptions, kind: str) -> dict[str, bool]:
    """Which filters run on data of `kind` (the web-text rules on plain text only, unless forced)."""
    return {
        "encoding": opts.fix_encoding, "empty_turns": opts.empty_turns, "pairs": opts.pairs and kind in PAIRED,
        "boilerplate": opts.boilerplate and kind == "sft",
        "quality": opts.quality is True or (opts.quality == "auto" and kind == "text"),
        "pii": opts.pii != "off", "too_short": opts.min_length > 0, "too_long": opts.max_length is not None,
        "exact_duplicates": opts.exact_dedup, "near_duplicates": opts.near_dedup,
    }


@dataclass
class BatchOut:
    kept: list[Example] = field(default_factory=list)
    kept_lines: list[int] = field(default_factory=list)
    kept_index: list[int] = field(default_factory=list)  # input position of each kept example
    removed: dict[str, list[int]] = field(default_factory=dict)  # filter -> input positions
    modified: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # filter -> first caught examples
    pii_found: dict[str, int] = field(default_factory=dict)
    words_before: list[int] = field(default_factory=list)
    words_after: list[int] = field(default_factory=list)
    keys: Any = None  # np.uint64 per kept example: exact key
    tools: Any = None  # np.uint64: near duplicates must share their tools
    prompts: Any = None  # np.uint64: the split keeps one prompt on one side (pairs); zeros otherwise
    bands: Any = None  # np.uint64 (kept, bands): MinHash LSH band keys, when near dedup runs


def _u64(digests: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(digests), dtype=np.uint64).copy() if digests else np.zeros(0, dtype=np.uint64)


class RowCleaner:
    def __init__(self, opts: CleanOptions, kind: str, tokenizer: Any = None):
        self.opts, self.kind, self.tokenizer = opts, kind, tokenizer
        self.enabled = enabled_filters(opts, kind)
        o = opts
        steps = []
        if self.enabled["encoding"]:
            steps.append(("encoding", lambda e: filters.fix_encoding(e, o.drop_unrepairable)))
        if self.enabled["empty_turns"]:
            steps.append(("empty_turns", lambda e: filters.empty_turns(e, o.placeholders)))
        if self.enabled["pairs"]:
            steps.append(("pairs", filters.pairs))
        if self.enabled["boilerplate"]:
            steps.append(("boilerplate", filters.boilerplate))
        if self.enabled["quality"]:
            steps.append(("quality", lambda e: filters.quality(e, o.quality_min_words, o.quality_max_words)))
        self.steps = steps
        self.pii_kinds = tuple(o.pii_kinds)
        # Band keys are computed even with near dedup off: the split uses them to keep near copies on
        # one side.
        from tuneui.cleaning.minhash import MinHasher, lsh_params

        self.hasher = MinHasher(o.near_dup_ngram, o.near_dup_num_perm)
        self.bands, self.rows = lsh_params(o.near_dup_threshold, o.near_dup_num_perm)

    def _sample(self, out: BatchOut, name: str, index: int, line: int, ex: Example, reason: str, action: str) -> None:
        shown = out.samples.setdefault(name, [])
        if sum(1 for s in shown if s["action"] == action) < self.opts.examples_per_filter:
            shown.append({"index": index, "line": line, "action": action, "reason": reason,
                          "text": example_excerpt(ex)})

    def _remove(self, out: BatchOut, name: str, index: int, line: int, ex: Example, reason: str) -> None:
        out.removed.setdefault(name, []).append(index)
        self._sample(out, name, index, line, ex, reason, "removed")

    def _modify(self, out: BatchOut, name: str, index: int, line: int, ex: Example, reason: str) -> None:
        out.modified[name] = out.modified.get(name, 0) + 1
        self._sample(out, name, index, line, ex, reason, "modified")

    def run(self, examples: list[Example], lines: list[int], first_index: int, uid_base: int | None = None
            ) -> BatchOut:
        """Filter a batch. Indices in the result start at `first_index`; `uid_base` (unique per batch)
        keeps the band keys of short examples apart across batches (default: the indices)."""
        out = BatchOut()
        self._uid = uid_base if uid_base is not None else first_index
        self._first = first_index
        o = self.opts
        survivors: list[tuple[int, int, Example, Example]] = []
        for k, ex in enumerate(examples):
            index, line = first_index + k, lines[k]
            cur = ex
            dropped = False
            for name, step in self.steps:
                new, reason = step(cur)
                if new is None:
                    self._remove(out, name, index, line, cur, reason)
                    dropped = True
                    break
                if new is not cur:
                    self._modify(out, name, index, line, new, reason)
                    cur = new
            if not dropped and self.enabled["pii"]:
                new, reason, found = filters.mask_pii(cur, self.pii_kinds, o.pii == "drop", o.pii_in_code)
                for kind, n in found.items():
                    out.pii_found[kind] = out.pii_found.get(kind, 0) + n
                if new is None:
                    masked = filters.mask_pii(cur, self.pii_kinds, False, o.pii_in_code)[0]
                    self._remove(out, "pii", index, line, masked or cur, reason)  # never show what it removed
                    dropped = True
                elif new is not cur:
                    self._modify(out, "pii", index, line, new, reason)
                    cur = new
            if dropped:
                out.words_before.append(example_words(ex))
            else:
                survivors.append((index, line, cur, ex))
        self._lengths(out, survivors)
        return out

    def _lengths(self, out: BatchOut, survivors: list[tuple[int, int, Example, Example]]) -> None:
        o = self.opts
        unit = "tokens" if self.tokenizer is not None else "words"
        feats = [features(cur) for _, _, cur, _ in survivors]
        if self.tokenizer is not None and survivors:
            ids = self.tokenizer([f[0] for f in feats], add_special_tokens=False)["input_ids"]
            lengths = [len(x) for x in ids]
        else:
            lengths = [f[1] for f in feats]
        keys, tools, prompts, texts = [], [], [], []
        for (index, line, ex, original), (text, words, key), n in zip(survivors, feats, lengths):
            out.words_before.append(words if ex is original else example_words(original))
            if self.enabled["too_short"] and n < o.min_length:
                self._remove(out, "too_short", index, line, ex, f"{n} {unit} (min {o.min_length})")
                continue
            if self.enabled["too_long"] and o.max_length is not None and n > o.max_length:
                self._remove(out, "too_long", index, line, ex, f"{n} {unit} (max {o.max_length})")
                continue
            out.kept.append(ex)
            out.kept_lines.append(line)
            out.kept_index.append(index)
            out.words_after.append(words)
            keys.append(key)
            tools.append(tools_key(ex))
            prompts.append(prompt_key(ex) if self.kind in PAIRED else b"\0" * 8)
            texts.append(text)
        out.keys, out.tools, out.prompts = _u64(keys), _u64(tools), _u64(prompts)
        from tuneui.cleaning.minhash import band_keys

        ids = [self._uid + (i - self._first) for i in out.kept_index]
        out.bands = band_keys(self.hasher, texts, self.bands, self.rows, o.near_dup_min_words, ids=ids)
