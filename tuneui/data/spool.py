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


def _conv_array(convs: list[Conversation | None]):
    """A list<struct> Arrow array of message lists, built from flat per-field columns (much faster
    than converting nested Python dicts)."""
    import pyarrow as pa

    offsets = [0]
    fields: dict[str, list] = {k: [] for k in MESSAGE_KEYS}
    valid = []
    extra = ("tool_calls", "tool_call_id", "name", "reasoning_content", "train")
    for conv in convs:
        if conv is None:
            valid.append(False)
            offsets.append(offsets[-1])
            continue
        valid.append(True)
        for m in conv:
            fields["role"].append(m["role"])
            fields["content"].append(m["content"])
            if len(m) == 2:
                for k in extra:
                    fields[k].append(None)
                continue
            calls = m.get("tool_calls")
            fields["tool_calls"].append(calls if calls is None or isinstance(calls, str)
                                        else json.dumps(calls, ensure_ascii=False))
            for k in extra[1:]:
                fields[k].append(m.get(k))
        offsets.append(offsets[-1] + len(conv))
    mtype = message_type()
    values = pa.StructArray.from_arrays([pa.array(fields[f.name], type=f.type) for f in mtype],
                                        fields=list(mtype))
    mask = None if all(valid) else pa.array([not v for v in valid])
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values, type=pa.list_(mtype), mask=mask)


def to_batch(examples: list[Example], lines: list[int]):
    """An Arrow record batch of `examples` (with their source positions)."""
    import pyarrow as pa

    sch = schema()
    arrays = {
        "messages": _conv_array([ex.messages for ex in examples]),
        "tools": pa.array([json.dumps(ex.tools, ensure_ascii=False) if ex.tools else None for ex in examples],
                          type=pa.string()),
    }
    for name in ("chosen", "rejected", "completion"):
        values = [getattr(ex, name) for ex in examples]
        arrays[name] = (_conv_array(values) if any(v is not None for v in values)
                        else pa.nulls(len(examples), type=sch.field(name).type))
    for name in ("label", "score_chosen", "score_rejected"):
        arrays[name] = pa.array([getattr(ex, name) for ex in examples], type=sch.field(name).type)
    arrays["line"] = pa.array(lines, type=pa.int64())
    return pa.record_batch([arrays[f.name] for f in sch], schema=sch)


def _convs(array) -> list[Conversation | None]:
    """A list<struct> Arrow array back to message lists, field by field (no nested to_pylist)."""
    n = len(array)
    if n == 0:
        return []
    valid = array.is_valid().to_pylist() if array.null_count else None
    offsets = array.offsets.to_pylist()
    values = array.values
    cols = {f.name: values.field(f.name).to_pylist() for f in values.type}
    roles, contents = cols.pop("role"), cols.pop("content")
    extra = [(k, v) for k, v in cols.items() if any(x is not None for x in v)]
    out: list[Conversation | None] = []
    for i in range(n):
        if valid is not None and not valid[i]:
            out.append(None)
            continue
        conv = []
        for j in range(offsets[i], offsets[i + 1]):
            m = {"role": roles[j], "content": contents[j]}
            for k, v in extra:
                if v[j] is not None:
                    m[k] = json.loads(v[j]) if k == "tool_calls" else v[j]
            conv.append(m)
        out.append(conv)
    return out


def from_batch(batch) -> tuple[list[Example], list[int]]:
    """The examples of an Arrow batch (any subset of the spool's columns) and their source positions."""
    names = set(batch.schema.names)
    n = batch.num_rows
    none: list = [None] * n

    def col(name: str) -> list:
        return batch.column(name).to_pylist() if name in names else none

    def convs(name: str) -> list:
        if name not in names or batch.column(name).null_count == n:
            return none
        return _convs(batch.column(name))

    messages, chosen, rejected, completion = convs("messages"), convs("chosen"), convs("rejected"), convs("completion")
    tools, label, s_chosen, s_rejected = col("tools"), col("label"), col("score_chosen"), col("score_rejected")
    lines = col("line")
    out = []
    for i in range(n):
        out.append(Example(
            messages=messages[i] or [], tools=json.loads(tools[i]) if tools[i] else None,
            chosen=chosen[i], rejected=rejected[i], completion=completion[i],
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
