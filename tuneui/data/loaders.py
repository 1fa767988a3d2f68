"""Load any supported dataset, streaming: detect what it is from a sample, then normalise every
record, report every bad line, and write the usable examples to a spool in Arrow batches.

`load_dataset` is the rich entry point (the wizard, `tuneui data inspect/clean`, training): the kind
and format with their evidence, counts, problems with line numbers, word statistics over the whole
file and a preview page; the examples themselves go to `spool` when one is given. Memory stays flat
as files grow (a JSON array file is the exception: JSON has no way to read one element at a time).
`load_examples` and `load_conversations` are the strict in-memory helpers for small data.
"""

from __future__ import annotations

import itertools
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.datasets import (
    KIND_NAMES,
    PREVIEW_ROWS,
    Conversation,
    Example,
    FormatGuess,
    LoadProgress,
    LoadResult,
    Problem,
    ProblemLog,
)
from tuneui.contract.errors import DataError
from tuneui.data.formats import detect_format, type_name
from tuneui.data.kinds import KindGuess, detect_kind, refusal_for
from tuneui.data.messages import RowError
from tuneui.data.normalise import Normaliser, Plan
from tuneui.data.readers import Source, open_source
from tuneui.data.schema import example_words

DETECT_SAMPLE = 200
BATCH = 2048
Progress = Callable[[LoadProgress], None]


def _decide(sample: list[dict], src: Source, fmt: str, columns: dict[str, str] | None
            ) -> tuple[KindGuess | None, FormatGuess, Plan | None]:
    """(kind guess, format guess, plan) from the sampled records; plan None = count only (refused kind)."""
    kind = None if src.file_type == "text" else detect_kind(sample)
    if kind is not None and kind.kind == "unlabelled_pairs":
        if not columns:
            raise DataError(kind.refusal or "two answers per row and no preference", source=src.path)
        kind = None  # the user mapped the columns: read it as they say
    if kind is not None and kind.refusal is not None:
        return kind, FormatGuess(kind.kind, 1.0, list(kind.evidence), {}), None
    if kind is not None:
        shape = kind.shape or kind.kind
        return kind, FormatGuess(f"{kind.kind}:{shape}", 1.0, list(kind.evidence), dict(kind.columns)), Plan(
            kind.kind, shape, dict(kind.columns))
    if src.file_type == "text":
        guess = FormatGuess("text", 1.0, ["plain text file", *src.notes], {"text": "text"})
    else:
        try:
            guess = detect_format(sample, fmt, columns)
        except DataError as exc:
            raise DataError(str(exc), source=src.path) from None
    return None, guess, Plan("sft", guess.name, dict(guess.columns))


def load_dataset(path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None, *,
                 spool: str | Path | None = None, progress: Progress | None = None) -> LoadResult:
    """Read, detect, normalise and validate; raises DataError only when nothing sensible can be read."""
    start = time.perf_counter()
    src: Source = open_source(path, text_hint=(fmt == "text"))
    log = ProblemLog()
    col_types: dict[str, dict[str, int]] = {}
    first_pos: dict[tuple[str, str], int] = {}
    records = 0

    def good_records():
        """The readable records, noting column types; unreadable lines go to the problem log."""
        nonlocal records
        assert src.records is not None  # open_source always sets the stream
        for pos, rec, problem in src.records:
            records += 1
            if problem:
                problem.unit = src.unit
                log.add(problem)
                log.bad_lines += problem.severity == "error"
                continue
            assert rec is not None  # a reader yields either a record or a problem
            for key, value in rec.items():
                t = type_name(value)
                per = col_types.get(key)
                if per is None:
                    per = col_types[key] = {}
                if t in per:
                    per[t] += 1
                else:
                    per[t] = 1
                    first_pos[(key, t)] = pos
            yield pos, rec

    stream = good_records()
    buffered = list(itertools.islice(stream, DETECT_SAMPLE))
    if not buffered:
        if log.kept:
            raise DataError(f"no readable examples: {log.kept[0].located(src.path)}"
                            + (f" (and {log.bad_lines - 1} more bad {src.unit}s)" if log.bad_lines > 1 else ""))
        raise DataError("no examples in the file", source=src.path)
    kind, guess, plan = _decide([r for _, r in buffered], src, fmt, columns)
    result = LoadResult(src.path, src.file_type, src.unit, src.encoding, guess, log, notes=src.notes)
    if kind is not None:
        result.kind, result.kind_evidence = kind.kind, list(kind.evidence)

    writer = None
    if spool is not None and plan is not None:
        from tuneui.data.spool import SpoolWriter

        writer = SpoolWriter(spool)
    norm = Normaliser(plan) if plan is not None else None
    words = array("i")
    batch: list[Example] = []
    batch_lines: list[int] = []
    texts = multimodal = 0
    first_multimodal: int | None = None
    next_tick = 0
    try:
        for pos, rec in itertools.chain(buffered, stream):
            if progress is not None and records >= next_tick:
                next_tick = records + 5000
                progress(LoadProgress("reading", records, time.perf_counter() - start, src.fraction()))
            if norm is None:
                result.examples += 1  # a refused kind: counted, not normalised
                continue
            try:
                ex = norm.example(rec)
            except RowError as exc:
                if exc.kind == "multimodal":
                    multimodal += 1
                    first_multimodal = first_multimodal or pos
                log.add(Problem(str(exc), pos, kind=exc.kind, unit=src.unit))
                log.bad_lines += 1
                continue
            errors, warnings = norm.check(ex)
            for k, msg in warnings:
                log.add(Problem(msg, pos, severity="warning", kind=k, unit=src.unit))
            if errors:
                for k, msg in errors:
                    log.add(Problem(msg, pos, kind=k, unit=src.unit))
                log.bad_lines += 1
                continue
            result.examples += 1
            texts += ex.kind == "text"
            words.append(example_words(ex))
            if len(result.preview) < PREVIEW_ROWS:
                result.preview.append(ex)
                result.preview_lines.append(pos)
            if writer is not None:
                batch.append(ex)
                batch_lines.append(pos)
                if len(batch) >= BATCH:
                    writer.write_examples(batch, batch_lines)
                    batch, batch_lines = [], []
        if writer is not None:
            writer.write_examples(batch, batch_lines)
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        result.spool = str(writer.path)
    result.records = records
    result.file_type, result.encoding = src.file_type, src.encoding or result.encoding or "utf-8"
    result.columns = col_types
    result.coerced = dict(norm.coerce) if norm is not None else {}
    if norm is not None and result.kind == "sft" and result.examples and texts == result.examples:
        result.kind = "text"
    if multimodal:
        result.kind = "multimodal"
        result.kind_evidence.append(f"{multimodal} {src.unit}s carry images, audio or video (first at {src.unit} "
                                    f"{first_multimodal})")
    result.refusal = kind.refusal if kind is not None and kind.refusal else refusal_for(result.kind)
    if not result.kind_evidence:
        result.kind_evidence = ([f"every example is one document: {KIND_NAMES['text']}"] if result.kind == "text"
                                else [f"{KIND_NAMES['sft']} ('{guess.name}' format): no chosen/rejected, label, "
                                      "media or token-id columns"])
    for key, field_n in result.coerced.items():
        result.notes.append(f"{field_n} number/true-false value(s) in '{key}' read as text")
    _mixed_types(col_types, first_pos, log, src.unit)
    from tuneui.data.stats import length_stats

    result.lengths = length_stats(words, "words")
    result.seconds = time.perf_counter() - start
    if progress is not None:
        progress(LoadProgress("reading", records, result.seconds, 1.0))
    return result


def _mixed_types(col_types: dict[str, dict[str, int]], first_pos: dict[tuple[str, str], int], log: ProblemLog,
                 unit: str) -> None:
    for key, types in col_types.items():
        real = {t: n for t, n in types.items() if t != "null"}
        if len(real) > 1:
            minority = min(real, key=lambda t: (real[t], -first_pos[(key, t)]))
            parts = ", ".join(f"{t} in {n}" for t, n in sorted(real.items(), key=lambda kv: -kv[1]))
            msg = (f"column '{key}' has mixed types: {parts} rows (first {minority} at {unit} "
                   f"{first_pos[(key, minority)]})")
            log.add(Problem(msg, None, severity="warning", kind="mixed_types", unit=unit))


SKIP_HINT = "fix them or skip them (--skip-bad)"


def load_examples(path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None,
                  skip_bad: bool = False, *, hint: str = SKIP_HINT) -> tuple[list[Example], list[int], LoadResult]:
    """Every example of a small dataset, in memory, with its source position. Strict by default: any
    bad line raises a DataError naming the first one and how many others there are (`hint` says how
    the caller's user skips them); with `skip_bad=True` they are skipped."""
    import tempfile

    from tuneui.data.spool import read_examples

    with tempfile.TemporaryDirectory(prefix="tuneui-") as tmp:
        result = load_dataset(path, fmt=fmt, columns=columns, spool=Path(tmp) / "examples.arrow")
        if result.errors and not skip_bad:
            raise DataError(f"{result.first_error_message()}; {hint}")
        if not result.examples:
            raise DataError("no usable examples", source=result.path)
        if result.spool is None:
            return [], [], result
        examples, lines = read_examples(result.spool)
    return examples, lines, result


def load_conversations(path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None,
                       skip_bad: bool = False) -> list[Conversation]:
    """The conversations of a small SFT or plain-text dataset; other kinds are refused by name."""
    examples, _, result = load_examples(path, fmt=fmt, columns=columns, skip_bad=skip_bad)
    if result.refusal:
        raise DataError(result.refusal, source=result.path)
    return [ex.messages for ex in examples]
