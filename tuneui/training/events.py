"""The run's event stream: `events.jsonl` in the run directory, one JSON object per line.

Every event has `type`, `time` (unix seconds) and `step`; the rest depends on the type:
  started     run_dir, technique, model, total_steps, train_examples, val_examples, dropped_examples, resumed_from
  step        loss, lr, grad_norm, tokens_per_s, mem_bytes, epoch
  eval        eval_loss
  checkpoint  path
  warning     reason, advice
  finished    train_loss, eval_loss, report (report.json contents), adapter_path
  failed      reason, advice
  stopped     reason, checkpoint
The writer flushes per line so a follower (the UI, `tuneui monitor`) sees events as they happen;
a reader tolerates a partially written last line (the writer may be mid-write or killed).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
TERMINAL_TYPES = frozenset({"finished", "failed", "stopped"})


def _clean(value: Any) -> Any:
    # JSON has no NaN/inf; a NaN loss is exactly what a user must see, so say it as a string.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventWriter:
    def __init__(self, run_dir: str | Path, *, enabled: bool = True):
        self.path = Path(run_dir) / EVENTS_FILE
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, type: str, step: int = 0, **fields: Any) -> dict[str, Any]:
        event = {"type": type, "time": round(time.time(), 3), "step": int(step), **_clean(fields)}
        if self.enabled:
            line = json.dumps(event, ensure_ascii=False) + "\n"
            # O_APPEND + one write per event: lines from a killed writer are never interleaved.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return event


def parse_line(line: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) and "type" in obj else None


def read_events(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return []
    events = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.endswith("\n") and (ev := parse_line(line)):
                events.append(ev)
    return events


class EventFollower:
    """Incrementally reads new complete lines from events.jsonl (a `tail -f` for the UI)."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / EVENTS_FILE
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        return [ev for raw in lines if (ev := parse_line(raw.decode("utf-8", "replace")))]

    def follow(self, *, interval: float = 0.2, stop_when_terminal: bool = True,
               is_alive=None) -> Iterator[dict[str, Any]]:
        """Yield events as they arrive until a terminal event (or `is_alive()` turns false)."""
        while True:
            events = self.poll()
            yield from events
            if stop_when_terminal and any(e["type"] in TERMINAL_TYPES for e in events):
                return
            if is_alive is not None and not is_alive():
                yield from self.poll()
                return
            time.sleep(interval)


def run_status(run_dir: str | Path) -> str:
    """'finished', 'failed', 'stopped', 'running' (or died without a word: 'interrupted'), or 'new'."""
    events = read_events(run_dir)
    if not events:
        return "new"
    last = events[-1]["type"]
    if last in TERMINAL_TYPES:
        return last
    from tuneui.training.launch import run_is_alive

    return "running" if run_is_alive(run_dir) else "interrupted"
