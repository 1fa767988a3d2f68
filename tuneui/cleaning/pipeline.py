"""The cleaning pipeline: per-example repairs and filters, then exact and near deduplication.

Deterministic: filters run in a fixed order, duplicates keep the first occurrence, and every hash
is seeded. The input list is never modified; repaired examples are new objects.
"""

from __future__ import annotations

import time

from tuneui.cleaning import filters
from tuneui.cleaning.minhash import duplicate_of, near_duplicate_pairs
from tuneui.cleaning.report import CleanReport, ExampleRecorder, FilterStats
from tuneui.cleaning.text import JoinedTexts, exact_key, excerpt, joined, word_count
from tuneui.contract import defaults
from tuneui.contract.cleaning import CleanOptions, CleanResult
from tuneui.data.schema import Conversation

ORDER = ("encoding", "empty_turns", "boilerplate", "quality", "pii", "too_short", "too_long",
         "exact_duplicates", "near_duplicates")


def is_text_corpus(conversations: list[Conversation]) -> bool:
    return bool(conversations) and all(len(c) == 1 and c[0]["role"] == "assistant" for c in conversations)


def _stats(conversations: list[Conversation], words: list[int], tokenizer, max_seq_length: int | None) -> dict:
    from tuneui.data.stats import length_stats, token_stats

    out = {"examples": len(conversations), "words": length_stats(words, "words").to_dict()}
    if tokenizer is not None and conversations:
        out["tokens"] = token_stats(conversations, tokenizer, max_seq_length or defaults.MAX_SEQ_LENGTH).to_dict()
    return out


def _token_lengths(conversations: list[Conversation], tokenizer) -> list[int]:
    texts = [joined(c) for c in conversations]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []


def clean(
    conversations: list[Conversation], options: CleanOptions | None = None, *, lines: list[int] | None = None,
    tokenizer=None, max_seq_length: int | None = None,
) -> CleanResult:
    """Clean `conversations`. `lines` (source line of each) makes the report name lines; with a
    `tokenizer`, lengths are in tokens and the report holds token statistics before and after."""
    opts = (options or CleanOptions()).validate_all()
    start = time.perf_counter()
    report = CleanReport(before=len(conversations), options=opts.to_dict(),
                         length_unit="tokens" if tokenizer is not None else "words")
    rec = ExampleRecorder(report, lines, opts.examples_per_filter)
    removed: dict[str, list[int]] = {name: [] for name in ORDER}
    rec.on_remove = lambda name, i: removed[name].append(i)
    use_quality = opts.quality is True or (opts.quality == "auto" and is_text_corpus(conversations))
    enabled = {
        "encoding": opts.fix_encoding, "empty_turns": opts.empty_turns, "pii": opts.pii != "off",
        "boilerplate": opts.boilerplate, "quality": use_quality, "too_short": opts.min_length > 0,
        "too_long": opts.max_length is not None, "exact_duplicates": opts.exact_dedup,
        "near_duplicates": opts.near_dedup,
    }
    report.filters = [FilterStats(name, enabled[name]) for name in ORDER]
    st = {f.name: f for f in report.filters}
    words_before = [word_count(c) for c in conversations]
    report.stats_before = _stats(conversations, words_before, tokenizer, max_seq_length)

    def words_of(pos: int) -> int:  # repaired examples are new objects; the rest reuse the count
        conv = kept[pos]
        return words_before[idx[pos]] if conv is conversations[idx[pos]] else word_count(conv)

    pii_kinds = tuple(opts.pii_kinds)
    pii_counts: dict[str, int] = {}

    steps = []
    if enabled["encoding"]:
        steps.append(("encoding", lambda c: filters.fix_encoding(c, opts.drop_unrepairable)))
    if enabled["empty_turns"]:
        steps.append(("empty_turns", lambda c: filters.empty_turns(c, opts.placeholders)))
    if enabled["boilerplate"]:
        steps.append(("boilerplate", filters.boilerplate))
    if enabled["quality"]:
        steps.append(("quality", lambda c: filters.quality(c, opts.quality_min_words, opts.quality_max_words)))

    kept: list[Conversation] = []
    idx: list[int] = []
    for i, conv in enumerate(conversations):
        cur = conv
        for name, step in steps:
            new, reason = step(cur)
            if new is None:
                rec.removed(st[name], i, cur, reason)
                break
            if new is not cur:
                rec.modified(st[name], i, new, reason)
                cur = new
        else:
            if enabled["pii"]:
                new, reason, found = filters.mask_pii(cur, pii_kinds, drop=opts.pii == "drop")
                for k, n in found.items():
                    pii_counts[k] = pii_counts.get(k, 0) + n
                if new is None:
                    # show the masked text: the report must not leak what it removed
                    masked = filters.mask_pii(cur, pii_kinds, drop=False)[0]
                    rec.removed(st["pii"], i, masked if masked is not None else cur, reason)
                    continue
                if new is not cur:
                    rec.modified(st["pii"], i, new, reason)
                    cur = new
            kept.append(cur)
            idx.append(i)
    st["pii"].details = {"found": pii_counts, "action": opts.pii}

    if enabled["too_short"] or enabled["too_long"]:
        lengths = (_token_lengths(kept, tokenizer) if tokenizer is not None
                   else [words_of(pos) for pos in range(len(kept))])
        keep_mask = []
        for pos, (conv, n) in enumerate(zip(kept, lengths)):
            if enabled["too_short"] and n < opts.min_length:
                rec.removed(st["too_short"], idx[pos], conv, f"{n} {report.length_unit} (min {opts.min_length})")
                keep_mask.append(False)
            elif enabled["too_long"] and opts.max_length is not None and n > opts.max_length:
                rec.removed(st["too_long"], idx[pos], conv, f"{n} {report.length_unit} (max {opts.max_length})")
                keep_mask.append(False)
            else:
                keep_mask.append(True)
        kept = [c for c, k in zip(kept, keep_mask) if k]
        idx = [i for i, k in zip(idx, keep_mask) if k]

    if enabled["exact_duplicates"]:
        first: dict[bytes, int] = {}
        keep_mask = []
        for pos, conv in enumerate(kept):
            key = exact_key(conv)
            if key in first:
                orig = first[key]
                rec.removed(st["exact_duplicates"], idx[pos], conv, "same as an earlier example",
                            duplicate_of=rec.where(idx[orig]))
                keep_mask.append(False)
            else:
                first[key] = pos
                keep_mask.append(True)
        kept = [c for c, k in zip(kept, keep_mask) if k]
        idx = [i for i, k in zip(idx, keep_mask) if k]

    if enabled["near_duplicates"] and len(kept) > 1:
        pairs = near_duplicate_pairs(JoinedTexts(kept), opts.near_dup_threshold, opts.near_dup_ngram,
                                     opts.near_dup_num_perm, min_words=opts.near_dup_min_words)
        dups = duplicate_of(len(kept), pairs)
        for pos in sorted(dups):
            orig, sim = dups[pos]
            rec.removed(st["near_duplicates"], idx[pos], kept[pos], f"{sim:.0%} similar to an earlier example",
                        duplicate_of=rec.where(idx[orig]) | {"text": excerpt(kept[orig])}, similarity=round(sim, 3))
        st["near_duplicates"].details = {"threshold": opts.near_dup_threshold, "ngram": opts.near_dup_ngram,
                                         "min_words": opts.near_dup_min_words, "pairs": len(pairs)}
        kept = [c for p, c in enumerate(kept) if p not in dups]
        idx = [i for p, i in enumerate(idx) if p not in dups]

    report.after = len(kept)
    report.stats_after = _stats(kept, [words_of(pos) for pos in range(len(kept))], tokenizer, max_seq_length)
    report.seconds = time.perf_counter() - start
    return CleanResult(kept, report, idx, removed)

