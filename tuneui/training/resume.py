"""Resuming a run from wherever it stopped, with the same result as if it had never stopped.

- Identity: a fresh run writes a random id to `run.id`; every checkpoint manifest carries it, and
  resume loads only checkpoints with the run's own id, so one copied in from another run is skipped
  with a warning (like a tampered one) instead of silently continuing someone else's weights.
- Where from: the newest complete checkpoint of this run. A run killed before its first checkpoint
  restarts in place from step 0 (its split, if written, is reused). Checkpoints that were written
  but none of which is usable any more are a refusal: restarting would silently throw work away.
- At or past the last step there is nothing left to train: the checkpoint's weights are loaded and
  the run goes straight to the final save, evaluation and report. Resuming a run killed after its
  final checkpoint (or resuming a finished run again) gives the uninterrupted run's step count,
  weights and report instead of training past `max_steps`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import Event, read_events
from tuneui.contract.fsutil import atomic_write_text
from tuneui.contract.rundir import RUN_ID_FILE
from tuneui.training import checkpoints


def new_run_id(run_dir: Path) -> str:
    run_id = uuid.uuid4().hex
    atomic_write_text(run_dir / RUN_ID_FILE, run_id + "\n")
    return run_id


def needs_run_id(run_dir: Path) -> bool:
    """A run killed before it wrote its id gets one now; one with checkpoints but no id (written
    before ids existed) keeps none, so its own checkpoints stay its own."""
    return not (run_dir / RUN_ID_FILE).exists() and not checkpoints.listed(run_dir)


@dataclass
class ResumePoint:
    checkpoint: checkpoints.Checkpoint | None  # None: restart in place from step 0

    @property
    def step(self) -> int:
        return self.checkpoint.step if self.checkpoint else 0


def find_resume_point(run_dir: Path, cfg: RunConfig, warn) -> ResumePoint:
    """The checkpoint to continue from, or a restart from step 0 when the run never wrote one."""
    ckpt = checkpoints.newest_complete(run_dir, warn=warn, check_owner=True)
    if ckpt is not None:
        checkpoints.check_compatible(ckpt.path, cfg)
        return ResumePoint(ckpt)
    written = checkpoints.listed(run_dir) or any(e.type == "checkpoint" for e in read_events(run_dir))
    if written:
        raise ConfigError(f"{run_dir}: no complete checkpoint of this run to resume from (the reasons are in "
                          f"the warnings of events.jsonl); start a new run with -o NEW_DIR instead")
    warn("no checkpoint was written before the run stopped: starting again from step 0 in the same directory")
    return ResumePoint(None)


def events_until(events: list[Event], step: int) -> list[Event]:
    """What the run wrote up to `step`, as its checkpoint at `step` knows it: a resumed session's `started`
    supersedes what an earlier session wrote past the step it resumed from (those steps were trained again), and
    nothing past `step` counts (the session resuming from it trains them again)."""
    kept: list[Event] = []
    for event in events:
        if event.type == "started":
            kept = [e for e in kept if e.step <= event.step]
        kept.append(event)
    return [e for e in kept if e.step <= step]


def trainer_state(ckpt: Path) -> dict[str, Any]:
    try:
        data = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read trainer_state.json: {exc}", source=str(ckpt)) from None
    if not isinstance(data, dict):
        raise ConfigError("trainer_state.json is not an object", source=str(ckpt))
    return data


def whole_run_loss(state: dict[str, Any]) -> float | None:
    """The run's mean training loss from the logged losses (each covers the steps since the one
    before), which is how the Trainer averages an uninterrupted run."""
    total = steps = 0.0
    last = 0
    for entry in state.get("log_history") or []:
        if isinstance(entry, dict) and "loss" in entry and isinstance(entry.get("step"), int):
            span = entry["step"] - last
            if span > 0:
                total += float(entry["loss"]) * span
                steps += span
                last = entry["step"]
    return total / steps if steps else None


def load_for_finish(trainer, ckpt: checkpoints.Checkpoint) -> float | None:
    """Put the checkpoint's weights and step counters into `trainer`; the run's training loss."""
    from transformers.trainer_callback import TrainerState

    state = trainer_state(ckpt.path)
    trainer._load_from_checkpoint(str(ckpt.path))
    trainer.state = TrainerState.load_from_json(str(ckpt.path / "trainer_state.json"))
    return whole_run_loss(state)
