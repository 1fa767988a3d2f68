"""Exact and near deduplication over keys, so the examples themselves are read back only for the
pairs that need checking.

Exact: one 64-bit key per example covering all its parts, tools and label; the first occurrence
stays. Near: MinHash LSH band keys give candidate pairs, kept only when both examples offer the same
tools (an example is never a copy of one that defines other functions), and every candidate is
verified with the true word-n-gram Jaccard similarity, read from the stage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuneui.cleaning.minhash import MinHasher, candidates, duplicate_of, verify_pairs
from tuneui.cleaning.stage import Stage
from tuneui.cleaning.text import example_excerpt, example_text
from tuneui.contract.cleaning import CleanOptions


class Dedup:
    def __init__(self, opts: CleanOptions, stage: Stage, keys: np.ndarray, tools: np.ndarray, bands: np.ndarray,
                 input_index: np.ndarray):
        self.opts, self.stage = opts, stage
        self.keys, self.tools, self.bands, self.input_index = keys, tools, bands, input_index
        self.pairs: list[tuple[int, int, float]] = []  # near duplicates (prompts alike too)
        self.all_pairs: list[tuple[int, int, float]] = []  # every verified pair: the split keeps them together

    def run(self, rep: Any) -> np.ndarray:
        """The keep mask over the stage's rows; removals and their examples go to the report `rep`."""
        n = len(self.keys)
        keep = np.ones(n, dtype=bool)
        if rep.enabled["exact_duplicates"] and n:
            dup, orig = self._exact()
            keep[dup] = False
            self._record(rep, "exact_duplicates", dup, orig, "same as an earlier example")
        if n > 1:
            self._near(rep, keep)
        return keep

    def _exact(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.keys, kind="stable")
        sorted_keys = self.keys[order]
        starts = np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1]))
        first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
        dup = order[~starts]
        orig = first[~starts]
        sort = np.argsort(dup)
        return dup[sort], orig[sort]

    def _near(self, rep: Any, keep: np.ndarray) -> None:
        opts = self.opts
        rows = np.flatnonzero(keep)
        cands = [(int(rows[a]), int(rows[b])) for a, b in candidates(self.bands[rows])]
        cands = sorted((a, b) for a, b in cands if self.tools[a] == self.tools[b])
        hasher = MinHasher(opts.near_dup_ngram, opts.near_dup_num_perm)

        def texts(ids: list[int]) -> list[str]:
            got = self.stage.take(ids)
            return [example_text(got[i][0]) for i in ids]

        pairs = verify_pairs(hasher, cands, texts, opts.near_dup_threshold)
        self.all_pairs = pairs
        self.pairs = self._same_prompts(hasher, pairs)
        details = {"threshold": opts.near_dup_threshold, "ngram": opts.near_dup_ngram,
                   "min_words": opts.near_dup_min_words, "pairs": len(self.pairs), "same_tools_required": True,
                   "different_prompts": len(pairs) - len(self.pairs)}
        if not rep.enabled["near_duplicates"]:
            rep.stats["near_duplicates"].details = details
            return
        dups = duplicate_of(len(keep), self.pairs)
        dup = np.array(sorted(dups), dtype=np.int64)
        orig = np.array([dups[d][0] for d in dup.tolist()], dtype=np.int64)
        sims = {d: s for d, (_, s) in dups.items()}
        keep[dup] = False
        self._record(rep, "near_duplicates", dup, orig, None, sims)
        rep.stats["near_duplicates"].details = details

    def _same_prompts(self, hasher: MinHasher, pairs: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
        """Pairs whose prompts are near copies too. Two prompts that get the same reply ("hi" and "hello"
        answered by an identity, a paraphrase with one canonical answer) are two examples to learn from;
        a prompt under `ngram` words must be the same words (case and spaces aside)."""
        if not pairs:
            return pairs
        got = self.stage.take({i for a, b, _ in pairs for i in (a, b)})
        prompts = {i: " ".join(m["content"] for m in ex.messages if m["role"] != "assistant")
                   for i, (ex, _) in got.items()}
        if not any(prompts.values()):
            return pairs  # plain documents: the text is everything
        ids = sorted(prompts)
        sets = dict(zip(ids, hasher.shingle_sets([prompts[i] for i in ids])))
        out = []
        for a, b, sim in pairs:
            sa, sb = sets[a], sets[b]
            inter = len(np.intersect1d(sa, sb, assume_unique=True))
            union = len(sa) + len(sb) - inter
            if union and inter / union >= self.opts.near_dup_threshold:
                out.append((a, b, sim))
        return out

    def _record(self, rep: Any, name: str, dup: np.ndarray, orig: np.ndarray, reason: str | None,
                sims: dict[int, float] | None = None) -> None:
        stats = rep.stats[name]
        stats.removed += len(dup)
        rep.removed[name] += self.input_index[dup].tolist()
        shown = dup[: self.opts.examples_per_filter].tolist()
        if not shown:
            return
        originals = orig[: len(shown)].tolist()
        got = self.stage.take(shown + originals)
        for d, o in zip(shown, originals):
            ex, line = got[d]
            oex, oline = got[o]
            where: dict[str, Any] = {"index": int(self.input_index[o]), "line": oline}
            why = reason if sims is None else f"{sims[d]:.0%} similar to an earlier example"
            entry = {"index": int(self.input_index[d]), "line": line, "action": "removed", "reason": why,
                     "text": example_excerpt(ex), "duplicate_of": where}
            if sims is not None:
                where["text"] = example_excerpt(oex)
                entry["similarity"] = round(sims[d], 3)
            stats.examples.append(entry)

    def kept_pairs(self, keep: np.ndarray) -> list[tuple[int, int, float]]:
        """Verified near-duplicate pairs whose both sides are kept (the split keeps them together)."""
        return [(a, b, s) for a, b, s in self.all_pairs if keep[a] and keep[b]]
