"""Minimal JSONL reader (messages / alpaca). The full loader of the data issue replaces this
module, keeping `load_conversations(path, fmt, columns) -> list[Conversation]`."""

from __future__ import annotations

import json
from pathlib import Path

from tuneui.data.schema import Conversation
from tuneui.errors import DataError


def _to_conversation(row: dict) -> Conversation:
    if "messages" in row:
        return [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    if "instruction" in row and "output" in row:
        prompt = row["instruction"] + (("\n\n" + row["input"]) if row.get("input") else "")
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
    raise KeyError("no 'messages' or 'instruction'/'output' fields")


def load_conversations(path, fmt: str = "auto", columns: dict | None = None) -> list[Conversation]:
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", source=str(path))
    out: list[Conversation] = []
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(_to_conversation(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(f"cannot read example: {exc}", source=str(path), line=lineno) from None
    return out
