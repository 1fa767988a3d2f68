"""The cleaning pipeline: per-example repairs and filters (`rows`, batch by batch, in worker
processes for large data), then exact and near deduplication over keys, then the kept examples.

Deterministic: filters run in a fixed order, duplicates keep the first occurrence, and every hash
is seeded. The input is never modified; repaired examples are new objects. Memory holds a few
integers per example (keys, band keys, lengths), never the examples: those stay in the spool.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tuneui.cleaning.dedup import Dedup
from tuneui.cleaning.rows import ORDER, BatchOut, RowCleaner, enabled_filters
from tuneui.cleaning.stage import Stage
from tuneui.contract.cleaning import CleanOptions, CleanReport, FilterStats
from tuneui.contract.datasets import Conversation, Example, LoadProgress

Progress = Callable[[LoadProgress], None]
PARALLEL_ROWS = 50_000  # below this, worker processes cost more than they save
BATCH = 2048
TOKEN_SAMPLE = 5000

__all__ = ["ORDER", "Cleaned", "clean", "clean_examples", "is_text_corpus"]


def is_text_corpus(conversations: list[Conversation]) -> bool:
    return bool(conversations) and all(len(c) == 1 and c[0]["role"] == "assistant" for c in conversations)


def _batch_worker(opts: CleanOptions, kind: str) -> Callable[[tuple[Any, int]], tuple[Any, BatchOut]]:
    """Per-process: (Arrow batch of examples, batch number) -> (Arrow batch of the kept, what was caught)."""
    from tuneui.data.spool import from_batch

    step = rows_step(opts, kind)

    def run(item: tuple[Any, int]) -> tuple[Any, BatchOut]:
        batch, number = item
        examples, lines = from_batch(batch)
        return step(examples, lines, number)

    return run


def rows_step(opts: CleanOptions, kind: str, tokenizer: Any = None
              ) -> Callable[[list[Example], list[int], int], tuple[Any, BatchOut]]:
    """Per-process: (examples, their lines, batch number) -> (Arrow batch of the kept, what was caught).
    Indices in the result count from 0 within the batch; the Collector shifts them."""
    from tuneui.data.spool import to_batch

    cleaner = RowCleaner(opts, kind, tokenizer)

    def run(examples: list[Example], lines: list[int], number: int) -> tuple[Any, BatchOut]:
        out = cleaner.run(examples, lines, 0, uid_base=number << 32)
        kept = to_batch(out.kept, out.kept_lines)
        out.kept, out.kept_lines = [], []
        return kept, out

    return run


@dataclass
class Cleaned:
    """Cleaning's outcome: the report, and which examples of the stage (the filtered copy) survive."""

    report: CleanReport
    stage: Stage
    keep: np.ndarray  # bool per stage row: survived deduplication too
    input_index: np.ndarray  # int64 per stage row: its position among the input examples
    removed: dict[str, list[int]] = field(default_factory=dict)  # filter -> input positions it removed
    prompts: np.ndarray | None = None  # uint64 per stage row (pairs: the split keeps a prompt together)
    near_pairs: list[tuple[int, int, float]] = field(default_factory=list)  # among kept stage rows

    @property
    def count(self) -> int:
        return int(self.keep.sum())

    def kept_batches(self) -> Iterator[tuple[Any, np.ndarray]]:
        """(Arrow batch of kept examples, their stage rows) in order."""
        start = 0
        for batch in self.stage.batches():
            n = batch.num_rows
            mask = self.keep[start:start + n]
            rows = np.flatnonzero(mask) + start
            if len(rows):
                yield (batch.filter(mask) if len(rows) < n else batch), rows
            start += n

    def preview(self, limit: int) -> list[Example]:
        from tuneui.data.spool import from_batch

        out: list[Example] = []
        for batch, _ in self.kept_batches():
            out += from_batch(batch.slice(0, limit - len(out)))[0]
            if len(out) >= limit:
                break
        return out


class _Report:
    def __init__(self, opts: CleanOptions, kind: str, before: int, tokenizer: Any):
        self.opts = opts
        self.enabled = enabled_filters(opts, kind)
        self.report = CleanReport(before=before, options=opts.to_dict(), kind=kind,
                                  length_unit="tokens" if tokenizer is not None else "words")
        self.report.filters = [FilterStats(name, self.enabled[name]) for name in ORDER]
        self.stats = {f.name: f for f in self.report.filters}
        self.removed: dict[str, list[int]] = {name: [] for name in ORDER}
        self.pii: dict[str, int] = {}

    def add(self, out: BatchOut, offset: int) -> None:
        limit = self.opts.examples_per_filter
        for name, idx in out.removed.items():
            self.stats[name].removed += len(idx)
            self.removed[name] += [i + offset for i in idx]
        for name, n in out.modified.items():
            self.stats[name].modified += n
        for name, samples in out.samples.items():
            shown = self.stats[name].examples
            for sample in samples:
                if sum(1 for e in shown if e["action"] == sample["action"]) < limit:
                    shown.append(sample | {"index": sample["index"] + offset})
        for k, n in out.pii_found.items():
            self.pii[k] = self.pii.get(k, 0) + n


class Collector:
    """Gathers the per-batch results in order (stage rows, keys, counts), then deduplicates."""

    def __init__(self, opts: CleanOptions, kind: str, workdir: str | Path | None, tokenizer: Any = None):
        self.opts, self.kind, self.tokenizer = opts, kind, tokenizer
        self.start = time.perf_counter()
        self.rep = _Report(opts, kind, 0, tokenizer)
        self.stage = Stage(Path(workdir) / "stage.arrow" if workdir is not None else None)
        self.parts: dict[str, list] = {k: [] for k in ("keys", "tools", "prompts", "bands", "index", "before",
                                                      "after")}
        self.offset = 0

    def add(self, result: tuple[Any, BatchOut]) -> None:
        kept, out = result
        self.rep.add(out, self.offset)
        self.stage.write(kept)
        p = self.parts
        p["keys"].append(out.keys)
        p["tools"].append(out.tools)
        p["prompts"].append(out.prompts)
        p["bands"].append(out.bands)
        p["index"].append(np.asarray(out.kept_index, dtype=np.int64) + self.offset)
        p["before"].append(np.asarray(out.words_before, dtype=np.int32))
        p["after"].append(np.asarray(out.words_after, dtype=np.int32))
        self.offset += len(out.words_before)

    def finish(self, progress: Progress | None = None) -> Cleaned:
        self.stage.close()
        rep, p = self.rep, self.parts
        rep.report.before = self.offset
        if progress is not None:
            progress(LoadProgress("deduplicating", self.offset, time.perf_counter() - self.start, None))
        index = _concat(p["index"], np.int64)
        dedup = Dedup(self.opts, self.stage, _concat(p["keys"], np.uint64), _concat(p["tools"], np.uint64),
                      _bands(p["bands"]), index)
        keep = dedup.run(rep)
        cleaned = Cleaned(rep.report, self.stage, keep, index, rep.removed,
                          _concat(p["prompts"], np.uint64) if self.kind in ("preference", "kto") else None,
                          dedup.kept_pairs(keep))
        _finish(rep, cleaned, _concat(p["before"], np.int32), _concat(p["after"], np.int32), self.tokenizer,
                self.start)
        return cleaned


def clean_examples(batches: Iterable[Any], options: CleanOptions | None = None, *, kind: str = "sft",
                   total: int | None = None, workdir: str | Path | None = None, tokenizer: Any = None,
                   progress: Progress | None = None, workers: int | None = None) -> Cleaned:
    """Clean a stream of Arrow example batches (a spool's); the survivors go to a stage in `workdir`
    (memory when None). `total` (the number of input examples, when known) drives progress and the
    choice of worker processes."""
    from tuneui.data.parallel import default_workers, ordered_map

    opts = (options or CleanOptions()).validate_all()
    if workers is None:
        workers = default_workers() if total is not None and total >= PARALLEL_ROWS and tokenizer is None else 1
    collector = Collector(opts, kind, workdir, tokenizer)
    items = ((batch, n) for n, batch in enumerate(batches))
    if tokenizer is not None:  # token lengths need the tokenizer, which stays in this process
        from tuneui.data.spool import from_batch

        step = rows_step(opts, kind, tokenizer)
        results: Iterable[tuple[Any, BatchOut]] = (step(*from_batch(b), n) for b, n in items)
    else:
        results = ordered_map(_batch_worker, (opts, kind), items, workers)
    for result in results:
        collector.add(result)
        if progress is not None:
            done = collector.offset
            progress(LoadProgress("cleaning", done, time.perf_counter() - collector.start,
                                  done / total if total else None))
    return collector.finish(progress)


def _concat(parts: list, dtype) -> np.ndarray:
    parts = [p for p in parts if p is not None and len(p)]
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _bands(parts: list) -> np.ndarray:
    parts = [p for p in parts if p is not None and len(p)]
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.uint64)


def _finish(rep: _Report, cleaned: Cleaned, words_before: np.ndarray, words_after: np.ndarray, tokenizer: Any,
            start: float) -> None:
    from tuneui.data.stats import length_stats

    report = rep.report
    report.after = cleaned.count
    rep.stats["pii"].details = {"found": rep.pii, "action": rep.opts.pii, "in_code": rep.opts.pii_in_code}
    report.stats_before = {"examples": report.before, "words": length_stats(words_before, "words").to_dict()}
    after = words_after[cleaned.keep] if len(words_after) == len(cleaned.keep) else words_after
    report.stats_after = {"examples": report.after, "words": length_stats(after, "words").to_dict()}
    if tokenizer is not None and report.after:
        from tuneui.contract import defaults
        from tuneui.data.sequences import trained_conversations
        from tuneui.data.stats import token_stats

        sample = trained_conversations(cleaned.preview(TOKEN_SAMPLE))[0]
        report.stats_after["tokens"] = token_stats(sample, tokenizer, defaults.MAX_SEQ_LENGTH).to_dict()
    report.seconds = time.perf_counter() - start
    report.rows_per_s = report.before / report.seconds if report.seconds else 0.0


# -- in memory, for small data and tests ----------------------------------------------------------------
@dataclass
class MemoryClean:
    kept: list[Any]
    report: CleanReport
    kept_indices: list[int] = field(default_factory=list)  # position of each kept example in the input
    removed_indices: dict[str, list[int]] = field(default_factory=dict)  # filter -> input positions it removed

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict()


def clean(items: list[Conversation] | list[Example], options: CleanOptions | None = None, *,
          lines: list[int] | None = None, tokenizer: Any = None, max_seq_length: int | None = None,
          kind: str | None = None) -> MemoryClean:
    """Clean a list of conversations or Examples held in memory; `kept` has the input's type. `lines`
    (source line of each) makes the report name lines; with a `tokenizer`, lengths are in tokens."""
    from tuneui.data.spool import from_batch, to_batch

    examples = [x if isinstance(x, Example) else Example(messages=x) for x in items]
    lines = list(lines) if lines is not None else list(range(1, len(examples) + 1))
    if kind is None:
        kinds = {ex.kind for ex in examples}
        kind = kinds.pop() if len(kinds) == 1 else "sft"
    batches = [to_batch(examples[i:i + BATCH], lines[i:i + BATCH]) for i in range(0, len(examples), BATCH)]
    with tempfile.TemporaryDirectory(prefix="tuneui-clean-") as tmp:
        cleaned = clean_examples(batches, options, kind=kind, total=len(examples), workdir=tmp, tokenizer=tokenizer,
                                 workers=1)
        kept: list[Example] = []
        for batch, _ in cleaned.kept_batches():
            kept += from_batch(batch)[0]
        kept_index = cleaned.input_index[cleaned.keep].tolist()
        cleaned.stage.remove()
    wanted: list[Any] = kept if items and isinstance(items[0], Example) else [ex.messages for ex in kept]
    return MemoryClean(wanted, cleaned.report, kept_index, cleaned.removed)

