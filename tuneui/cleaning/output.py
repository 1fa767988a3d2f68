"""Writing cleaned data: train/val Parquet files (a `messages` column, read back by the loader as
the OpenAI messages format) and the JSON report, each written atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tuneui.contract.errors import DataError
from tuneui.contract.fsutil import atomic_write_bytes, atomic_write_text
from tuneui.data.schema import Conversation

TRAIN_FILE, VAL_FILE, REPORT_FILE = "train.parquet", "val.parquet", "report.json"


def parquet_bytes(conversations: list[Conversation], source_lines: list[int] | None = None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    msg = pa.struct([("role", pa.string()), ("content", pa.string())])
    columns = {"messages": pa.array(conversations, type=pa.list_(msg))}
    if source_lines is not None:
        columns["source_line"] = pa.array(source_lines, type=pa.int64())
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf, compression="zstd")
    return buf.getvalue()


def check_output_dir(out: Path, inputs: list[Path]) -> None:
    """Refuse an output that would overwrite the input: the user's file is never modified."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError("the output must be a directory, and this is a file", source=str(out))
    targets = {out.resolve()} | {(out / name).resolve() for name in (TRAIN_FILE, VAL_FILE, REPORT_FILE)}
    for src in inputs:
        if Path(src).resolve() in targets:
            raise DataError("the output would overwrite the input; choose another -o directory", source=str(out))


def write_cleaned(out: Path, train: list[Conversation], val: list[Conversation], report: dict,
                  train_lines: list[int] | None = None, val_lines: list[int] | None = None) -> dict[str, str]:
    out = Path(out)
    paths = {"train": out / TRAIN_FILE, "report": out / REPORT_FILE}
    atomic_write_bytes(paths["train"], parquet_bytes(train, train_lines))
    if val:
        paths["val"] = out / VAL_FILE
        atomic_write_bytes(paths["val"], parquet_bytes(val, val_lines))
    elif (out / VAL_FILE).exists():
        (out / VAL_FILE).unlink()  # a stale split from an earlier run would be mistaken for this one's
    atomic_write_text(paths["report"], json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return {k: str(v) for k, v in paths.items()}
