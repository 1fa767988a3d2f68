"""Examples as Arrow: the schema of tuneui's normalised copy of a dataset ("the spool"), the
conversions between Arrow batches and `Example`s, and the files that hold them.

Loading writes every usable example once, in batches, to an Arrow IPC file; cleaning, paging and the
split read it back a batch at a time, so no step needs the whole dataset in memory. Nothing of the
file is dropped on the way: function definitions (`tools`), the message fields chat templates read
(`tool_calls`, `tool_call_id`, `name`, `reasoning_content`), per-reply training flags, preference
pairs with their scores, and KTO labels all have columns. Tool definitions and calls vary in shape
from row to row, so they are stored as JSON text and parsed back on reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tuneui.contract.datasets import Conversation, Example

_MESSAGE_FIELDS = (("role", "string"), ("content", "string"), ("tool_calls", "string"), ("tool_call_id", "string"),
                   ("name", "string"), ("reasoning_content", "string"), ("train", "bool_"))
MESSAGE_KEYS = tuple(name for name, _ in _MESSAGE_FIELDS)
# Columns of the spool, in order. `line` is the example's position in the source file.
LIST_COLUMNS = ("messages", "chosen", "rejected", "completion")


def message_type():
    import pyarrow as pa

    return pa.struct([(name, getattr(pa, kind)()) for name, kind in _MESSAGE_FIELDS])


def schema(columns: Iterable[str] | None = None):
    """The spool schema, or the part of it naming `columns` (the split files keep what their kind uses)."""
    import pyarrow as pa

    conv = pa.list_(message_type())
    fields = [pa.field("messages", conv), pa.field("tools", pa.string()), pa.field("chosen", conv),
              pa.field("rejected", conv), pa.field("completion", conv), pa.field("label", pa.bool_()),
              pa.field("score_chosen", pa.float64()), pa.field("score_rejected", pa.float64()),
              pa.field("line", pa.int64())]
    if columns is not None:
        wanted = set(columns)
        fields = [f for f in fields if f.name in wanted]
    return pa.schema(fields)


def _arrow_message(m: dict) -> dict:
    calls = m.get("tool_calls")
    if calls is not None and not isinstance(calls, str):
        m = {**m, "tool_calls": json.dumps(calls, ensure_ascii=False)}
    return m


def _arrow_conv(conv: Conversation | None) -> list[dict] | None:
    if conv is None:
        return None
    return [_arrow_message(m) if "tool_calls" in m else m for m in conv]


def to_batch(examples: list[Example], lines: list[int]):
    """An Arrow record batch of `examples` (with their source positions)."""
    import pyarrow as pa

    sch = schema()
    cols: dict[str, list] = {f.name: [] for f in sch}
    for ex, line in zip(examples, lines):
        cols["messages"].append(_arrow_conv(ex.messages))
        cols["tools"].append(json.dumps(ex.tools, ensure_ascii=False) if ex.tools else None)
        cols["chosen"].append(_arrow_conv(ex.chosen))
        cols["rejected"].append(_arrow_conv(ex.rejected))
        cols["completion"].append(_arrow_conv(ex.completion))
        cols["label"].append(ex.label)
        cols["score_chosen"].append(ex.score_chosen)
        cols["score_rejected"].append(ex.score_rejected)
        cols["line"].append(line)
    return pa.record_batch([pa.array(cols[f.name], type=f.type) for f in sch], schema=sch)


def _py_message(m: dict) -> dict:
    out = {k: v for k, v in m.items() if v is not None}
    calls = out.get("tool_calls")
    if isinstance(calls, str):
        out["tool_calls"] = json.loads(calls)
    return out


def _py_conv(conv: list[dict] | None) -> Conversation | None:
    return None if conv is None else [_py_message(m) for m in conv]


def from_batch(batch) -> tuple[list[Example], list[int]]:
    """The examples of an Arrow batch (any subset of the spool's columns) and their source positions."""
    names = set(batch.schema.names)
    n = batch.num_rows

    def col(name: str) -> list:
        return batch.column(name).to_pylist() if name in names else [None] * n

    messages, tools, chosen, rejected = col("messages"), col("tools"), col("chosen"), col("rejected")
    completion, label, s_chosen, s_rejected = col("completion"), col("label"), col("score_chosen"), col("score_rejected")
    lines = col("line")
    out = []
    for i in range(n):
        out.append(Example(
            messages=_py_conv(messages[i]) or [], tools=json.loads(tools[i]) if tools[i] else None,
            chosen=_py_conv(chosen[i]), rejected=_py_conv(rejected[i]), completion=_py_conv(completion[i]),
            label=label[i], score_chosen=s_chosen[i], score_rejected=s_rejected[i]))
    return out, [x if x is not None else i + 1 for i, x in enumerate(lines)]


class SpoolWriter:
    """Appends example batches to an Arrow IPC file (LZ4-compressed: cheap to write, quick to read)."""

    def __init__(self, path: str | Path, columns: Iterable[str] | None = None):
        import pyarrow as pa

        self.path = Path(path)
        self.schema = schema(columns)
        self._sink = pa.OSFile(str(self.path), "wb")
        self._writer = pa.ipc.new_file(self._sink, self.schema,
                                       options=pa.ipc.IpcWriteOptions(compression="lz4"))
        self.rows = 0

    def write(self, batch) -> None:
        if batch.num_rows:
            if batch.schema != self.schema:
                batch = batch.select(self.schema.names)
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def write_examples(self, examples: list[Example], lines: list[int]) -> None:
        if examples:
            self.write(to_batch(examples, lines))

    def close(self) -> None:
        self._writer.close()
        self._sink.close()

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Spool:
    """A spool file opened for reading: batches in order, row counts, and rows by position."""

    def __init__(self, path: str | Path):
        import pyarrow as pa

        self.path = Path(path)
        # Plain reads, not a memory map: mapped pages would count in the process's resident memory.
        self._source = pa.OSFile(str(self.path), "rb")
        self._reader = pa.ipc.open_file(self._source)
        self._starts: list[int] | None = None

    @property
    def num_batches(self) -> int:
        return self._reader.num_record_batches

    def batch(self, i: int):
        return self._reader.get_batch(i)

    def batches(self) -> Iterator:
        for i in range(self.num_batches):
            yield self._reader.get_batch(i)

    def starts(self) -> list[int]:
        """The first row of every batch, and the total row count last."""
        if self._starts is None:
            starts, total = [], 0
            for i in range(self.num_batches):
                starts.append(total)
                total += self._reader.get_batch(i).num_rows
            self._starts = [*starts, total]
        return self._starts

    @property
    def rows(self) -> int:
        return self.starts()[-1]

    def take(self, rows: Iterable[int]) -> dict[int, tuple[Example, int]]:
        """{row: (example, source position)} for the given rows (read batch by batch)."""
        import bisect

        starts = self.starts()
        wanted: dict[int, list[int]] = {}
        for r in sorted(set(rows)):
            b = bisect.bisect_right(starts, r) - 1
            if 0 <= b < self.num_batches:
                wanted.setdefault(b, []).append(r)
        out: dict[int, tuple[Example, int]] = {}
        for b, rs in wanted.items():
            batch = self._reader.get_batch(b).take([r - starts[b] for r in rs])
            examples, lines = from_batch(batch)
            out.update(zip(rs, zip(examples, lines)))
        return out

    def page(self, start: int, count: int) -> tuple[list[Example], list[int]]:
        got = self.take(range(start, min(start + count, self.rows)))
        rows = sorted(got)
        return [got[r][0] for r in rows], [got[r][1] for r in rows]

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_examples(path: str | Path) -> tuple[list[Example], list[int]]:
    """Every example of a spool (for small data and tests; large data is read batch by batch)."""
    examples: list[Example] = []
    lines: list[int] = []
    with Spool(path) as sp:
        for batch in sp.batches():
            ex, ln = from_batch(batch)
            examples += ex
            lines += ln
    return examples, lines


def remove(path: str | Path | None) -> None:
    """Delete a spool file, quietly (it is a cache)."""
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
