"""Runs as the contract sees them: the rows of the runs list and of the comparison, and the handle
of a training process a front end supervises.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tuneui.contract.events import Event


@dataclass
class RunSummary:
    """One run of the runs folder, as Welcome's "recent runs" lists it."""

    name: str
    run_dir: Path
    status: str  # new, running, finished, failed, stopped, interrupted
    technique: str | None
    started: float | None
    last_loss: float | None
    step: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "run_dir": str(self.run_dir)}


class RunHandle(Protocol):
    """A training process started or attached to by the engine."""

    run_dir: Path

    def poll(self) -> int | None:
        """The exit code once the process has ended, else None."""

    def stop(self) -> bool:
        """Ask for a graceful stop: finish the step, checkpoint, exit 130."""


class EventSource(Protocol):
    """New events of a run since the last call (a `tail -F` of events.jsonl)."""

    def poll(self) -> list[Event]: ...


@dataclass
class RunRow:
    name: str
    run_dir: str
    status: str
    technique: str | None = None
    learning_rate: float | None = None
    lora_r: int | None = None
    epochs: float | None = None
    max_steps: int | None = None
    steps: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    metric_name: str | None = None
    metric_base: float | None = None
    metric_tuned: float | None = None
    forgetting_ratio: float | None = None
    forgetting_level: str | None = None
    seconds: float | None = None
    started: float | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)

    def to_dict(self, curve: bool = False) -> dict:
        d = asdict(self)
        if not curve:
            d.pop("curve")
        return d


def fmt(x: float | None, kind: str = "num") -> str:
    if x is None:
        return "—"
    if kind == "pct":
        return f"{100 * x:.1f}%"
    if kind == "sci":
        return f"{x:.1e}"
    if kind == "time":
        return f"{x / 60:.1f}m" if x >= 90 else f"{x:.0f}s"
    return f"{x:.3f}"


COLUMNS = ("run", "technique", "lr", "rank", "steps", "train loss", "val loss", "task base→tuned",
           "forgetting", "time")


def table_rows(rows: list[RunRow]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for r in rows:
        metric = "—" if r.metric_tuned is None else f"{fmt(r.metric_base, 'pct')}→{fmt(r.metric_tuned, 'pct')}"
        forgetting = "—" if r.forgetting_ratio is None else f"{r.forgetting_level} ({r.forgetting_ratio:.2f}x)"
        out.append((r.name, r.technique or "—", fmt(r.learning_rate, "sci"), str(r.lora_r or "—"),
                    str(r.steps if r.steps is not None else "—"), fmt(r.train_loss), fmt(r.val_loss), metric,
                    forgetting, fmt(r.seconds, "time")))
    return out
