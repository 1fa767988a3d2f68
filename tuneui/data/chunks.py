"""The per-record half of loading, one chunk of records at a time: parse (JSON Lines arrive as raw
text), note column types, normalise to Examples and validate. A chunk needs nothing from any other,
so large files are read by worker processes; everything here is plain data in and out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuneui.contract.datasets import Example, Problem, ProblemLog
from tuneui.data.formats import type_name
from tuneui.data.messages import RowError
from tuneui.data.normalise import Normaliser, Plan
from tuneui.data.readers import TOO_DEEP
from tuneui.data.schema import example_words

# A chunk item: (position, raw JSON text | a record dict | a Problem the reader found)
Item = tuple[int, Any]


@dataclass
class ChunkOut:
    batch: Any = None  # Arrow batch of the usable examples (None when the kind is only counted)
    examples: list[Example] = field(default_factory=list)  # kept in-process only (the preview)
    lines: list[int] = field(default_factory=list)
    records: int = 0
    usable: int = 0
    texts: int = 0  # usable examples that are one plain document
    log: ProblemLog = field(default_factory=ProblemLog)  # counts, and the first problems of each severity
    bad_lines: int = 0
    col_types: dict[str, dict[str, int]] = field(default_factory=dict)
    first_pos: dict[tuple[str, str], int] = field(default_factory=dict)
    coerced: dict[str, int] = field(default_factory=dict)
    words: list[int] = field(default_factory=list)
    multimodal: int = 0
    first_multimodal: int | None = None
    extra: Any = None  # what a follow-up step (cleaning) made of the chunk's examples


def _json_record(pos: int, text: str, unit: str) -> tuple[dict | None, Problem | None]:
    try:
        value = json.loads(text)
    except RecursionError:
        return None, Problem(TOO_DEEP, pos, kind="bad_json", unit=unit)
    except ValueError as exc:
        return None, Problem(f"bad JSON: {str(exc).split(': line')[0]}", pos, kind="bad_json", unit=unit)
    if isinstance(value, dict):
        return value, None
    if isinstance(value, str):
        return {"text": value}, None  # a JSON string per line: a plain-text document
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return {"messages": value}, None  # a bare list of messages (xtuner)
    what = {list: "an array", bool: "true/false", type(None): "null"}.get(type(value), "a number")
    return None, Problem(f"expected a JSON object per line, got {what}", pos, kind="wrong_type", unit=unit)


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


class ChunkReader:
    """Per process: (chunk number, items) -> ChunkOut; `after(examples, lines, chunk number)` runs on the
    usable examples (cleaning, when loading and cleaning are one pass)."""

    def __init__(self, plan: Plan | None, unit: str, after: Callable[..., Any] | None = None,
                 to_arrow: bool = True):
        self.norm = Normaliser(plan) if plan is not None else None
        self.unit, self.after, self.to_arrow = unit, after, to_arrow

    def _problem(self, out: ChunkOut, p: Problem, error: bool = True) -> None:
        out.log.add(p)  # kept per severity: no number of warnings may crowd out the error that breaks the file

    def __call__(self, task: tuple[int, list[Item]]) -> ChunkOut:
        chunk, items = task
        out = ChunkOut()
        unit, norm = self.unit, self.norm
        col_types, first_pos = out.col_types, out.first_pos
        for pos, raw in items:
            out.records += 1
            if isinstance(raw, Problem):
                raw.unit = unit
                self._problem(out, raw)
                out.bad_lines += raw.severity == "error"
                continue
            rec = raw
            if isinstance(raw, str):
                rec, problem = _json_record(pos, raw, unit)
                if problem is not None:
                    self._problem(out, problem)
                    out.bad_lines += 1
                    continue
            assert isinstance(rec, dict)
            if (bad := lone_surrogate(rec)) is not None:
                where, ch = bad
                self._problem(out, Problem(f"{where}: holds {ch!r}, half of a UTF-16 surrogate pair with no other "
                                           "half (a stray \\ud800-style escape); not valid Unicode text", pos,
                                           kind="bad_text", unit=unit))
                out.bad_lines += 1
                continue
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
            if norm is None:
                out.usable += 1  # a refused kind: counted, not normalised
                continue
            try:
                ex = norm.example(rec)
            except RowError as exc:
                if exc.kind == "multimodal":
                    out.multimodal += 1
                    out.first_multimodal = out.first_multimodal or pos
                self._problem(out, Problem(str(exc), pos, kind=exc.kind, unit=unit))
                out.bad_lines += 1
                continue
            errors, warnings = norm.check(ex)
            for k, msg in warnings:
                self._problem(out, Problem(msg, pos, severity="warning", kind=k, unit=unit))
            if errors:
                for k, msg in errors:
                    self._problem(out, Problem(msg, pos, kind=k, unit=unit))
                out.bad_lines += 1
                continue
            out.usable += 1
            out.texts += ex.kind == "text"
            out.words.append(example_words(ex))
            out.examples.append(ex)
            out.lines.append(pos)
        if norm is not None:
            out.coerced = dict(norm.coerce)
            norm.coerce.clear()
        if self.after is not None:
            out.extra = self.after(out.examples, out.lines, chunk)
        if self.to_arrow and norm is not None:
            from tuneui.data.spool import to_batch

            out.batch = to_batch(out.examples, out.lines)
            out.examples = []  # the batch carries them across processes
        elif chunk > 0:
            out.examples, out.lines = [], []  # only the first chunk's examples are previewed
        return out


def make_reader(plan: Plan | None, unit: str, after: tuple[Callable[..., Any], tuple] | None,
                to_arrow: bool) -> ChunkReader:
    """A worker's reader (`after` = (factory, args) builds the follow-up step in the worker)."""
    step = after[0](*after[1]) if after is not None else None
    return ChunkReader(plan, unit, step, to_arrow)
