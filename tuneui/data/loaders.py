"""Load any supported dataset into conversations, reporting every bad line instead of stopping at one.

`load_dataset` is the rich entry point (for the UI and `tuneui data inspect`): conversations,
their source lines, the detected format with confidence and evidence, and all problems.
`load_conversations` is the strict one the training engine calls.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from tuneui.contract.datasets import LoadResult, Problem, ProblemLog
from tuneui.contract.errors import DataError
from tuneui.data.formats import (
    FormatGuess,
    RowError,
    check_conversation,
    detect_format,
    to_conversation,
    type_name,
)
from tuneui.data.readers import Source, open_source
from tuneui.data.schema import Conversation

DETECT_SAMPLE = 200


def load_dataset(path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None) -> LoadResult:
    """Read, detect, normalise and validate; raises DataError only when nothing sensible can be read."""
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
            if (bad := lone_surrogate(rec)) is not None:
                where, ch = bad
                log.add(Problem(f"{where}: holds {ch!r}, half of a UTF-16 surrogate pair with no other half (a "
                                "stray \\ud800-style escape); not valid Unicode text", pos, kind="bad_text",
                                unit=src.unit))
                log.bad_lines += 1
                continue
            for key, value in rec.items():
                t = type_name(value)
                per = col_types.setdefault(key, {})
                per[t] = per.get(t, 0) + 1
                first_pos.setdefault((key, t), pos)
            yield pos, rec

    stream = good_records()
    buffered = list(itertools.islice(stream, DETECT_SAMPLE))
    if not buffered:
        if log.kept:
            raise DataError(f"no readable examples: {log.kept[0].located(src.path)}"
                            + (f" (and {log.bad_lines - 1} more bad {src.unit}s)" if log.bad_lines > 1 else ""))
        raise DataError("no examples in the file", source=src.path)
    try:
        guess = detect_format([r for _, r in buffered], fmt, columns)
    except DataError as exc:
        raise DataError(str(exc), source=src.path) from None
    if src.file_type == "text":
        guess = FormatGuess("text", 1.0, ["plain text file", *src.notes], {"text": "text"})

    result = LoadResult(src.path, src.file_type, src.unit, src.encoding, guess, [], [], log, notes=src.notes)

    def take(pos: int, rec: dict) -> None:
        try:
            conv = to_conversation(rec, guess.name, guess.columns)
        except RowError as exc:
            log.add(Problem(str(exc), pos, kind=exc.kind, unit=src.unit))
            log.bad_lines += 1
            return
        errors, warnings = check_conversation(conv)
        for kind, msg in warnings:
            log.add(Problem(msg, pos, severity="warning", kind=kind, unit=src.unit))
        if errors:
            for kind, msg in errors:
                log.add(Problem(msg, pos, kind=kind, unit=src.unit))
            log.bad_lines += 1
            return
        result.conversations.append(conv)
        result.lines.append(pos)

    for pos, rec in itertools.chain(buffered, stream):
        take(pos, rec)
    result.records = records
    result.file_type, result.encoding = src.file_type, src.encoding or result.encoding or "utf-8"
    result.columns = col_types
    for key, types in col_types.items():
        real = {t: n for t, n in types.items() if t != "null"}
        if len(real) > 1:
            minority = min(real, key=lambda t: (real[t], -first_pos[(key, t)]))
            parts = ", ".join(f"{t} in {n}" for t, n in sorted(real.items(), key=lambda kv: -kv[1]))
            msg = (f"column '{key}' has mixed types: {parts} rows (first {minority} at {src.unit} "
                   f"{first_pos[(key, minority)]})")
            log.add(Problem(msg, None, severity="warning", kind="mixed_types", unit=src.unit))
    return result


def lone_surrogate(record: dict) -> tuple[str, str] | None:
    """(field path, the character) of the first lone surrogate in a record's text, else None.

    JSON escapes such as "\\ud800" decode to such characters, which no tokenizer, Parquet file or
    terminal accepts; found here, they are one bad line instead of a crash far downstream."""
    stack: list[tuple[str, object]] = [(str(k), v) for k, v in record.items()]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"field {where}", value[exc.start]
        elif isinstance(value, dict):
            stack += [(f"{where}.{k}", v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    return None


def load_conversations(
    path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None, skip_bad: bool = False
) -> list[Conversation]:
    """The conversations of a dataset. Strict by default: any bad line raises a DataError naming the
    first one and how many others there are; with `skip_bad=True` they are skipped (the caller can
    use `load_dataset` to report them)."""
    result = load_dataset(path, fmt=fmt, columns=columns)
    if result.problems.has_errors and not skip_bad:
        raise DataError(f"{result.first_error_message()}; fix them or skip them (--skip-bad)")
    if not result.conversations:
        raise DataError("no usable examples", source=result.path)
    return result.conversations
