"""Load any supported dataset, streaming: detect what it is from a sample, then normalise every
record, report every bad line, and write the usable examples to a spool in Arrow batches.

`load_dataset` is the rich entry point (the wizard, `tuneui data inspect/clean`, training): the kind
and format with their evidence, counts, problems with line numbers, word statistics over the whole
file and a preview page; the examples themselves go to `spool` when one is given. Memory stays flat
as files grow (a JSON array file is the exception: JSON has no way to read one element at a time).
`load_examples` and `load_conversations` are the strict in-memory helpers for small data.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tuneui.contract.config import OBJECTIVES
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
from tuneui.data.formats import detect_format
from tuneui.data.kinds import KindGuess, detect_kind, refusal_for
from tuneui.data.normalise import Plan
from tuneui.data.readers import Source, open_source

DETECT_SAMPLE = 200
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


CHUNK = 2048
PARALLEL_BYTES = 16 * 2**20  # files larger than this are read by worker processes
# (kind) -> ((factory, args) building a per-worker step on each chunk's examples, consumer of its results)
Hook = Callable[[str], tuple[tuple[Callable[..., Any], tuple], Callable[[Any], None]]]


def _items(src: Source, buffered: list[tuple[int, dict]], rest) -> Iterator[tuple[int, list]]:
    """(chunk number, [(position, record or raw line or problem)]) in order."""
    chunk: list = list(buffered)
    n = 0
    for item in rest:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield n, chunk
            n += 1
            chunk = []
    if chunk:
        yield n, chunk


def load_dataset(path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None, *,
                 spool: str | Path | None = None, progress: Progress | None = None, hook: Hook | None = None,
                 workers: int | None = None) -> LoadResult:
    """Read, detect, normalise and validate; raises DataError only when nothing sensible can be read.

    `spool` receives every usable example (Arrow); `hook(kind)` adds a step that runs on each chunk's
    examples in the same (worker) pass, e.g. cleaning; `workers` processes read large files (default:
    every core for files over 16 MiB)."""
    from tuneui.data.chunks import ChunkOut, make_reader
    from tuneui.data.parallel import default_workers, ordered_map

    start = time.perf_counter()
    src: Source = open_source(path, text_hint=(fmt == "text"))
    raw = src.file_type == "jsonl" and src.encoding is not None and src.encoding.startswith("utf-8")
    stream = _raw_lines(src) if raw else _problems_as_items(src)
    buffered = []
    sample: list[dict] = []
    early: list[Problem] = []
    for pos, item in stream:  # detection reads the first records in this process
        buffered.append((pos, item))
        if isinstance(item, dict):
            sample.append(item)
        elif isinstance(item, str):
            from tuneui.data.chunks import _json_record

            rec, problem = _json_record(pos, item, src.unit)
            if rec is not None:
                sample.append(rec)
            elif problem is not None:
                early.append(problem)
        else:
            early.append(item)
        if len(sample) >= DETECT_SAMPLE:
            break
    if not sample:
        bad = [p for p in early if p.severity == "error"]
        if bad:
            first = bad[0]
            first.unit = src.unit
            raise DataError(f"no readable examples: {first.located(src.path)}"
                            + (f" (and {len(bad) - 1} more bad {src.unit}s)" if len(bad) > 1 else ""))
        raise DataError("no examples in the file", source=src.path)
    kind, guess, plan = _decide(sample, src, fmt, columns)
    if plan is not None and plan.kind == "sft" and _all_documents(plan, sample):
        plan.kind = "text"  # every sampled example is one document: clean it as a text corpus
    result = LoadResult(src.path, src.file_type, src.unit, src.encoding, guess, ProblemLog(), notes=src.notes)
    if kind is not None:
        result.kind, result.kind_evidence = kind.kind, list(kind.evidence)
    kind_name = plan.kind if plan is not None else result.kind
    after, consume = hook(kind_name) if hook is not None and plan is not None else (None, None)
    if workers is None:
        # Starting workers costs a second or two: worth it for cleaning sooner than for reading alone.
        big = PARALLEL_BYTES if hook is not None else 4 * PARALLEL_BYTES
        rows = 50_000 if hook is not None else 200_000
        workers = default_workers() if (src.size or 0) >= big or (
            src.file_type == "parquet" and (src.size or 0) >= rows) else 1
    writer = None
    if spool is not None and plan is not None:
        from tuneui.data.spool import SpoolWriter

        writer = SpoolWriter(spool)
    log = result.problems
    words: list[Any] = []
    col_types: dict[str, dict[str, int]] = {}
    first_pos: dict[tuple[str, str], int] = {}
    totals = ChunkOut()
    to_arrow = writer is not None
    try:
        chunks = _items(src, buffered, stream)
        for out in ordered_map(make_reader, (plan, src.unit, after, to_arrow), chunks, workers):
            _merge(out, totals, col_types, first_pos, log)
            words.append(array("i", out.words))
            if writer is not None and out.batch is not None:
                writer.write(out.batch)
            if len(result.preview) < PREVIEW_ROWS:
                _preview(result, out)
            if consume is not None:
                consume(out.extra)
            if progress is not None:
                progress(LoadProgress("reading", totals.records, time.perf_counter() - start, src.fraction()))
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        result.spool = str(writer.path)
    result.records, result.examples = totals.records, totals.usable
    result.file_type, result.encoding = src.file_type, src.encoding or result.encoding or "utf-8"
    result.columns = col_types
    result.coerced = totals.coerced
    if plan is not None and result.kind in ("sft", "text") and result.examples:
        result.kind = "text" if totals.texts == result.examples else "sft"
    if totals.multimodal:
        result.kind = "multimodal"
        result.kind_evidence.append(f"{totals.multimodal} {src.unit}s carry images, audio or video (first at "
                                    f"{src.unit} {totals.first_multimodal})")
    result.refusal = kind.refusal if kind is not None and kind.refusal else refusal_for(result.kind)
    result.objectives = [o for o in OBJECTIVES if refusal_for(result.kind, o) is None]
    if not result.kind_evidence:
        result.kind_evidence = ([f"every example is one document: {KIND_NAMES['text']}"] if result.kind == "text"
                                else [f"{KIND_NAMES['sft']} ('{guess.name}' format): no chosen/rejected, label, "
                                      "media or token-id columns"])
    for key, field_n in result.coerced.items():
        result.notes.append(f"{field_n} number/true-false value(s) in '{key}' read as text")
    _mixed_types(col_types, first_pos, log, src.unit)
    from tuneui.data.stats import length_stats

    result.lengths = length_stats([n for part in words for n in part], "words")
    result.seconds = time.perf_counter() - start
    if progress is not None:
        progress(LoadProgress("reading", result.records, result.seconds, 1.0))
    return result


def _all_documents(plan: Plan, sample: list[dict]) -> bool:
    from tuneui.data.messages import RowError
    from tuneui.data.normalise import Normaliser

    norm = Normaliser(plan)
    kinds = set()
    for rec in sample:
        try:
            kinds.add(norm.example(rec).kind)
        except RowError:
            continue
    return kinds == {"text"}


def _raw_lines(src: Source) -> Iterator[tuple[int, Any]]:
    """JSON Lines as raw text (parsed in the workers), problems as they come."""
    from tuneui.data.encoding import iter_lines

    bare_noted = False
    for lineno, line, problem in iter_lines(Path(src.path), meter=src.meter):
        if problem is not None:
            yield lineno, problem
        elif line is not None and line.strip():
            if not bare_noted and line.lstrip().startswith("["):
                bare_noted = True
                src.notes.append("each line is a bare list of messages: read as one conversation per line")
            yield lineno, line


def _problems_as_items(src: Source) -> Iterator[tuple[int, Any]]:
    assert src.records is not None  # open_source always sets the stream
    for pos, rec, problem in src.records:
        yield pos, (problem if problem is not None else rec)


def _merge(out: Any, totals: Any, col_types: dict, first_pos: dict, log: ProblemLog) -> None:
    totals.records += out.records
    totals.usable += out.usable
    totals.texts += out.texts
    totals.multimodal += out.multimodal
    if totals.first_multimodal is None:
        totals.first_multimodal = out.first_multimodal
    for k, n in out.coerced.items():
        totals.coerced[k] = totals.coerced.get(k, 0) + n
    for key, types in out.col_types.items():
        per = col_types.setdefault(key, {})
        for t, n in types.items():
            per[t] = per.get(t, 0) + n
    for k, pos in out.first_pos.items():
        if k not in first_pos:
            first_pos[k] = pos
    log.merge(out.log)
    log.bad_lines += out.bad_lines


def _preview(result: LoadResult, out: Any) -> None:
    need = PREVIEW_ROWS - len(result.preview)
    if out.batch is not None:
        from tuneui.data.spool import from_batch

        examples, lines = from_batch(out.batch.slice(0, need))
    else:
        examples, lines = out.examples[:need], out.lines[:need]
        out.examples = []
    result.preview += examples
    result.preview_lines += lines


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
