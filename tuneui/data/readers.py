"""Raw records out of every kind of file people have: one dict per example, with its position.

Readers know nothing about chat formats; they yield `(position, record, problem)` where record is
a dict (a row) and problem is set instead when that one line cannot be read. Positions are
1-based lines for text files, rows for Parquet/`datasets`, items for JSON objects of arrays.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tuneui.contract.datasets import Problem
from tuneui.contract.errors import DataError
from tuneui.contract.fsutil import why_unreachable
from tuneui.data.encoding import (
    COMPRESSED,
    MAX_LINE_BYTES,
    binary_kind,
    inner_suffix,
    iter_lines,
    open_binary,
    read_head,
    read_text,
    sniff_encoding,
)

FILE_TYPES = ("jsonl", "json", "csv", "tsv", "parquet", "text", "hf_disk", "hf_hub")
_SUFFIX_TYPES = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".parquet": "parquet", ".pq": "parquet", ".txt": "text", ".text": "text", ".md": "text",
}
TOO_DEEP = "bad JSON: nested too deeply to read (more than about 1000 levels of [ or {)"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

Record = dict
RecordStream = Iterator[tuple[int, Record | None, Problem | None]]


@dataclass
class Source:
    path: str
    file_type: str
    unit: str = "line"
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)  # what the reader decided and why (shown as evidence)
    records: RecordStream | None = None
    size: int | None = None  # bytes (rows for Parquet) to read, when known: progress and time left
    meter: list[int] = field(default_factory=lambda: [0])  # how much of `size` is read

    def fraction(self) -> float | None:
        return min(1.0, self.meter[0] / self.size) if self.size else None


def open_source(path: str | Path, text_hint: bool = False) -> Source:
    """Work out what `path` is and return a Source whose `records` stream reads it."""
    p = Path(path)
    if p.is_dir():
        return _hf_disk(p)
    if not p.exists():
        if p.is_symlink():  # a broken link or a loop is a local file gone wrong, not a hub dataset
            raise DataError(why_unreachable(p), source=str(path))
        if _HUB_ID.match(str(path)) and p.suffix.lower() not in _SUFFIX_TYPES:
            return _hf_hub(str(path))
        raise DataError(why_unreachable(p), source=str(path))
    if p.stat().st_size == 0:
        raise DataError("the file is empty", source=str(p))
    file_type = _SUFFIX_TYPES.get(inner_suffix(p)) or _sniff(p, text_hint)
    src = Source(str(p), file_type)
    if p.suffix.lower() not in COMPRESSED:
        src.size = p.stat().st_size
    if file_type == "jsonl":
        src.encoding = sniff_encoding(read_head(p))
        src.records = _jsonl(p, src)
    elif file_type == "json":
        src.records = _json(p, src)
    elif file_type in ("csv", "tsv"):
        src.records = _csv(p, src, "\t" if file_type == "tsv" else ",")
    elif file_type == "parquet":
        src.unit, src.records = "row", _parquet(p, src)
    else:
        src.records = _text(p, src)
    return src


def _sniff(p: Path, text_hint: bool) -> str:
    head = read_head(p)
    what = binary_kind(head)
    if head.startswith(b"PAR1"):
        return "parquet"
    if what:
        raise DataError(f"not a dataset: the file looks like {what}", source=str(p))
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text_hint:
        return "text"
    first_line = text.split("\n", 1)[0].strip()
    if text.startswith("{"):
        try:
            json.loads(first_line)
            return "jsonl"
        except RecursionError:
            return "jsonl"  # one absurdly nested line: the JSONL reader reports it by line number
        except ValueError:
            return "json"
    if text.startswith("["):
        return "json"
    lines = [ln for ln in text.splitlines()[:6] if ln.strip()][:-1] or text.splitlines()[:1]
    for delim, kind in (("\t", "tsv"), (",", "csv")):
        counts = {ln.count(delim) for ln in lines}
        if len(lines) >= 2 and len(counts) == 1 and counts.pop() >= 1:
            return kind
    raise DataError(
        f"not a recognised dataset: unknown extension '{p.suffix or '(none)'}' and the content is not "
        "JSON, JSON Lines or CSV; use --format text to train on it as plain text",
        source=str(p),
    )


def _jsonl(p: Path, src: Source) -> RecordStream:
    bare_lists = False
    for lineno, line, problem in iter_lines(p, meter=src.meter):
        if problem:
            yield lineno, None, problem
            continue
        if line is None or not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            msg = str(exc).split(": line")[0]
            yield lineno, None, Problem(f"bad JSON: {msg}", lineno, kind="bad_json")
            continue
        except RecursionError:
            yield lineno, None, Problem(TOO_DEEP, lineno, kind="bad_json")
            continue
        if isinstance(value, str):
            yield lineno, {"text": value}, None  # a JSON string per line: a plain-text document
            continue
        if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
            if not bare_lists:  # xtuner writes a conversation per line as a bare list of messages
                bare_lists = True
                src.notes.append("each line is a bare list of messages: read as one conversation per line")
            yield lineno, {"messages": value}, None
            continue
        if not isinstance(value, dict):
            msg = f"expected a JSON object per line, got {_json_type(value)}"
            yield lineno, None, Problem(msg, lineno, kind="wrong_type")
            continue
        yield lineno, value, None


def _json_type(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _json(p: Path, src: Source) -> RecordStream:
    text, src.encoding = read_text(p)
    stripped = text.lstrip()
    if stripped.startswith("["):
        src.size = len(text)
        yield from _json_array(text, str(p), src.meter)
        return
    try:
        value = json.loads(text)
    except RecursionError:
        raise DataError(TOO_DEEP, source=str(p)) from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        # A .json file that is really JSON Lines is common enough to handle rather than reject.
        if isinstance(exc, json.JSONDecodeError) and exc.msg == "Extra data" and stripped.startswith("{"):
            src.file_type = "jsonl"
            src.notes.append("the .json file holds one JSON object per line: read as JSON Lines")
            yield from _jsonl(p, src)
            return
        raise DataError(f"bad JSON: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc}",
                        source=str(p), line=line) from None
    if not isinstance(value, dict):
        raise DataError(f"not a dataset: the JSON holds {_json_type(value)}, not examples", source=str(p))
    src.unit = "item"
    yield from _json_object(value, src)


def _json_array(text: str, source: str, meter: list[int] | None = None) -> RecordStream:
    """Elements of a top-level array with the line each starts on, so problems can name lines."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, counted = 1, 0
    ws = re.compile(r"[\s,]*")
    while True:
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]  # [\s,]* matches everywhere
        if meter is not None:
            meter[0] = pos
        if pos >= len(text):
            raise DataError("bad JSON: the array is not closed with ']'", source=source, line=line)
        if text[pos] == "]":
            return
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except RecursionError:
            yield line, None, Problem(TOO_DEEP + "; the rest of the array cannot be read", line, kind="bad_json")
            return
        except json.JSONDecodeError as exc:
            bad_line = text.count("\n", 0, exc.pos) + 1
            yield bad_line, None, Problem(f"bad JSON: {exc.msg}; the rest of the array cannot be read", bad_line,
                                          kind="bad_json")
            return
        if isinstance(value, dict):
            yield line, value, None
        elif isinstance(value, str):
            yield line, {"text": value}, None  # an array of strings: plain-text documents
        else:
            yield line, None, Problem(f"expected an object per array element, got {_json_type(value)}", line,
                                      kind="wrong_type")
        pos = end


# Keys that make a JSON object one example rather than a container of examples.
EXAMPLE_KEYS = frozenset({"messages", "conversations", "conversation", "input_ids", "instruction", "prompt", "chosen",
                          "rejected", "text", "query", "question"})
CONTAINER_KEYS = ("train", "data", "examples", "rows", "instances", "records", "dataset", "items")


def _json_object(value: dict, src: Source) -> RecordStream:
    lists = {k: v for k, v in value.items() if isinstance(v, list)}
    if EXAMPLE_KEYS & set(value) and not any(k in value for k in CONTAINER_KEYS) and not _columnar(value):
        # {"conversations": [...]} or {"tools": [...], "messages": [...]}: one example, not columns
        src.notes.append("the JSON object is one single example")
        yield 1, value, None
        return
    if not lists:
        # One single example ({"messages": [...]}) is still a dataset, if a tiny one.
        src.notes.append("the JSON object is one single example")
        yield 1, value, None
        return
    records = [(k, v) for k, v in lists.items() if v and all(isinstance(x, dict) for x in v)]
    lengths = {len(v) for v in lists.values()}
    columnar = len(lists) == len(value) and len(lengths) == 1 and not records
    if columnar:
        src.notes.append(f"object of column arrays: {', '.join(lists)}")
        keys = list(lists)
        for i in range(lengths.pop()):
            yield i + 1, {k: lists[k][i] for k in keys}, None
        return
    if not records:
        raise DataError("not a dataset: the JSON object holds no array of examples", source=src.path)
    chosen = next((kv for kv in records if kv[0] in ("train", "data", "examples", "rows")), records[0])
    if len(records) > 1:
        others = ", ".join(k for k, _ in records if k != chosen[0])
        src.notes.append(f"read the '{chosen[0]}' array; also present: {others}")
    else:
        src.notes.append(f"read the '{chosen[0]}' array")
    for i, item in enumerate(chosen[1], 1):
        yield i, item, None


def _columnar(value: dict) -> bool:
    """An object of equally long column arrays ({"instruction": [...], "output": [...]})."""
    lengths = {len(v) for v in value.values() if isinstance(v, list)}
    firsts = [v[0] for v in value.values() if isinstance(v, list) and v]
    # token ids ({"input_ids": [...], "labels": [...]}) are one example, not columns of numbers
    return (all(isinstance(v, list) for v in value.values()) and len(lengths) == 1 and len(value) > 1
            and any(isinstance(x, str) for x in firsts) and not any(isinstance(x, dict) for x in firsts))


class _Tell:
    """`meter[0]` read from a file's position."""

    def __init__(self, fh):
        self.fh = fh

    def __getitem__(self, _i: int) -> int:
        try:
            return self.fh.tell()
        except (OSError, ValueError):
            return 0


def _text_stream(p: Path, src: Source) -> io.TextIOBase:
    """The file as text, decoded as it is read (bounded memory)."""
    head = read_head(p)
    what = binary_kind(head)
    if what:
        raise DataError(f"not a dataset: the file looks like {what}", source=str(p))
    src.encoding = sniff_encoding(head)
    raw = open_binary(p)
    stream = io.TextIOWrapper(raw, encoding=src.encoding, newline="")
    src.meter = _Tell(raw)  # type: ignore[assignment]  # reads like [bytes] for progress
    return stream


def _csv(p: Path, src: Source, delim: str) -> RecordStream:
    try:
        yield from _csv_rows(p, src, delim)
    except UnicodeDecodeError:
        read_text(p)  # raises the DataError naming the line and column of the first bad byte
        raise


def _csv_rows(p: Path, src: Source, delim: str) -> RecordStream:
    csv.field_size_limit(min(sys.maxsize, MAX_LINE_BYTES * 4))
    stream = _text_stream(p, src)
    header_line = stream.readline()
    if delim == ",":
        # Spreadsheets in many locales save "CSV" with semicolons; the header line says which.
        counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
        best = max(counts, key=lambda d: counts[d])
        if best != "," and counts[best] > counts[","]:
            delim = best
            src.notes.append(f"CSV separated by {'tab' if best == chr(9) else repr(best)} (read from the header)")
    reader = csv.reader(itertools.chain([header_line], stream), delimiter=delim)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataError(f"bad CSV header: {exc}", source=str(p), line=1) from None
    names = [h.strip() for h in header]
    if len(set(names)) != len(names) or not all(names):
        raise DataError(f"bad CSV header: column names must be unique and non-empty, got {names}",
                        source=str(p), line=1)
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, Problem(f"bad CSV: {exc}", start, kind="bad_csv")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(names):
            yield line, None, Problem(f"row has {len(row)} fields, the header has {len(names)}", line,
                                      kind="bad_csv")
            continue
        yield line, dict(zip(names, row)), None


def _parquet(p: Path, src: Source) -> RecordStream:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file: {exc}", source=str(p)) from None
    row = 0
    src.size = pf.metadata.num_rows
    try:
        for batch in pf.iter_batches(batch_size=4096):
            for rec in batch.to_pylist():
                row += 1
                src.meter[0] = row
                yield row, rec, None
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file: {exc}", source=str(p), line=None) from None


_TEXT_BLOCKS = re.compile(r"\n[ \t]*\n")


def _text(p: Path, src: Source) -> RecordStream:
    head = read_head(p).decode("utf-8", errors="replace").replace("\r\n", "\n")
    blocks = _TEXT_BLOCKS.split(head)
    if len(blocks) > 1 and any("\n" in b.strip() for b in blocks[:-1]):
        src.notes.append("plain text with blank lines between documents: one example per paragraph block")
        yield from _text_blocks(p, src)
        return
    src.notes.append("plain text, one document per line")
    for number, row, problem in _text_lines(p, src):
        if problem is not None:
            yield number, None, problem
        elif row.strip():
            yield number, {"text": row.strip()}, None


def _text_lines(p: Path, src: Source):
    for number, row, problem in iter_lines(p, meter=src.meter):
        if src.encoding is None:
            src.encoding = sniff_encoding(read_head(p))
        yield number, (row or "").rstrip("\r\n"), problem


def _text_blocks(p: Path, src: Source) -> RecordStream:
    block: list[str] = []
    start = 0
    for number, row, problem in _text_lines(p, src):
        if problem is not None:
            yield number, None, problem
            continue
        if row.strip():
            if not block:
                start = number
            block.append(row)
        elif block:
            yield start, {"text": "\n".join(block).strip()}, None
            block = []
    if block:
        yield start, {"text": "\n".join(block).strip()}, None


def _rows_of(ds, src: Source) -> RecordStream:
    for i, rec in enumerate(ds, 1):
        yield i, dict(rec), None


def _pick_split(obj, src: Source):
    import datasets

    if isinstance(obj, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        splits = list(obj.keys())
        if not splits:
            raise DataError("the dataset has no splits", source=src.path)
        name = "train" if "train" in splits else splits[0]
        src.notes.append(f"split '{name}' of {', '.join(splits)}")
        return obj[name]
    return obj


def _hf_disk(p: Path) -> Source:
    if not any((p / f).exists() for f in ("dataset_info.json", "dataset_dict.json", "state.json")):
        raise DataError("a directory that is not a `datasets.save_to_disk` folder (no dataset_info.json, "
                        "dataset_dict.json or state.json); pass a data file", source=str(p))
    import datasets

    src = Source(str(p), "hf_disk", unit="row")
    try:
        ds = datasets.load_from_disk(str(p))
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise DataError(f"cannot read the saved dataset: {exc}", source=str(p)) from None
    src.records = _rows_of(_pick_split(ds, src), src)
    return src


def _hf_hub(name: str) -> Source:
    import datasets

    src = Source(name, "hf_hub", unit="row")
    if not datasets.config.HF_HUB_OFFLINE and not _hub_reachable():
        # Without this the hub client retries for half a minute before saying the same thing.
        raise DataError("no such local file, and the Hugging Face hub cannot be reached (no network?); "
                        "check the path, or set HF_HUB_OFFLINE=1 to use a dataset already in your cache",
                        source=name)
    try:
        ds = datasets.load_dataset(name)
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; all mean "cannot get it"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"no such local file, and the Hugging Face hub dataset could not be loaded ({first[:200]}); "
            "check the name and your connection",
            source=name,
        ) from None
    src.records = _rows_of(_pick_split(ds, src), src)
    return src


def _hub_reachable() -> bool:
    import os
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True
