"""Writing cleaned data: train/val Parquet files and the JSON report, each written atomically.

The files keep everything an example trains on, in the column names trainers read: SFT and plain
text as `messages` (OpenAI messages, with `tool_calls`/`tool_call_id`/`name`/`reasoning_content`/
`train` fields in each message) and `tools` (the example's function definitions as JSON text);
preference pairs as TRL's conversational `prompt`/`chosen`/`rejected` (plus their scores); KTO rows
as `prompt`/`completion`/`label`. `source_line` says where each example was in the input. tuneui's
loader reads all of them back as the same kind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tuneui.contract.datasets import Example
from tuneui.contract.errors import DataError
from tuneui.contract.fsutil import atomic_write_text

TRAIN_FILE, VAL_FILE, REPORT_FILE = "train.parquet", "val.parquet", "report.json"
COLUMNS = {
    "sft": ("messages", "tools", "line"),
    "text": ("messages", "tools", "line"),
    "preference": ("messages", "chosen", "rejected", "tools", "score_chosen", "score_rejected", "line"),
    "kto": ("messages", "completion", "label", "tools", "line"),
}


def _names(kind: str) -> list[str]:
    paired = kind in ("preference", "kto")
    return ["prompt" if (c == "messages" and paired) else "source_line" if c == "line" else c for c in COLUMNS[kind]]


def _table_batch(batch: Any, kind: str) -> Any:
    import pyarrow as pa

    cols = COLUMNS[kind]
    return pa.RecordBatch.from_arrays([batch.column(c) for c in cols], names=_names(kind))


class SplitWriter:
    """Streams kept example batches into train.parquet / val.parquet (temporary names until closed)."""

    def __init__(self, out_dir: Path, kind: str, with_val: bool):
        import pyarrow as pa
        import pyarrow.parquet as pq

        from tuneui.data.spool import schema

        self.out_dir, self.kind = Path(out_dir), kind
        self.out_dir.mkdir(parents=True, exist_ok=True)
        full = schema()
        self.schema = pa.schema([pa.field(n, full.field(c).type) for n, c in zip(_names(kind), COLUMNS[kind])])
        self.parts = {"train": TRAIN_FILE} | ({"val": VAL_FILE} if with_val else {})
        self.tmp = {k: self.out_dir / f".{v}.tmp" for k, v in self.parts.items()}
        self.writers = {k: pq.ParquetWriter(str(p), self.schema, compression="zstd") for k, p in self.tmp.items()}
        self.rows = dict.fromkeys(self.parts, 0)

    def write(self, batch: Any, val: np.ndarray | None) -> None:
        out = _table_batch(batch, self.kind)
        if val is None or "val" not in self.writers:
            self._put("train", out)
            return
        if val.any():
            self._put("val", out.filter(val))
        if (~val).any():
            self._put("train", out.filter(~val))

    def _put(self, part: str, batch: Any) -> None:
        if batch.num_rows:
            self.writers[part].write_batch(batch)
            self.rows[part] += batch.num_rows

    def close(self) -> dict[str, str]:
        paths = {}
        for part, writer in self.writers.items():
            writer.close()
            final = self.out_dir / self.parts[part]
            os.replace(self.tmp[part], final)
            paths[part] = str(final)
        if "val" not in self.writers and (self.out_dir / VAL_FILE).exists():
            (self.out_dir / VAL_FILE).unlink()  # a stale split from an earlier run would be mistaken for this one's
        return paths

    def abort(self) -> None:
        for part, writer in self.writers.items():
            writer.close()
            self.tmp[part].unlink(missing_ok=True)


def write_split(batches: Iterable[tuple[Any, np.ndarray]], val: np.ndarray | None, out_dir: Path, kind: str
                ) -> dict[str, str]:
    """Write kept example batches (with their ordinal numbers among kept examples) to train/val files;
    `val` is the validation mask over the kept examples (None: everything is training data)."""
    writer = SplitWriter(out_dir, kind, val is not None and bool(val.any()))
    try:
        for batch, ordinals in batches:
            writer.write(batch, val[ordinals] if val is not None else None)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def write_examples(out_dir: Path, train: list[Example], val: list[Example], kind: str,
                   train_lines: list[int] | None = None, val_lines: list[int] | None = None) -> dict[str, str]:
    """The in-memory form of `write_split` (small data, tests)."""
    from tuneui.data.spool import to_batch

    examples = train + val
    lines = (train_lines or list(range(1, len(train) + 1))) + (val_lines or list(range(1, len(val) + 1)))
    mask = np.array([False] * len(train) + [True] * len(val), dtype=bool)
    batch = to_batch(examples, lines)
    return write_split([(batch, np.arange(len(examples)))], mask if val else None, out_dir, kind)


def read_split_file(path: Path) -> list[Example]:
    """The examples of a train/val file written here."""
    return read_split_lines(path)[0]


def read_split_lines(path: Path) -> tuple[list[Example], list[int]]:
    """The examples of a train/val file written here, and each one's position in its source file."""
    import pyarrow.parquet as pq

    from tuneui.data.spool import from_batch

    table = pq.read_table(path)
    renames = {"prompt": "messages", "source_line": "line"}
    table = table.rename_columns([renames.get(n, n) for n in table.column_names])
    out: list[Example] = []
    lines: list[int] = []
    for batch in table.to_batches():
        examples, batch_lines = from_batch(batch)
        out += examples
        lines += batch_lines
    return out, lines


def check_output_dir(out: Path, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite the input: the user's file is never modified."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError("the output must be a directory, and this is a file", source=str(out))
    targets = {out.resolve()} | {(out / name).resolve() for name in (TRAIN_FILE, VAL_FILE, REPORT_FILE)}
    for src in inputs:
        if Path(src).resolve() in targets:
            raise DataError("the output would overwrite the input; choose another -o directory", source=str(out))


def write_report(out_dir: Path, report: dict) -> str:
    path = Path(out_dir) / REPORT_FILE
    atomic_write_text(path, json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    return str(path)
