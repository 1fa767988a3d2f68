"""The layout of a run directory, and whether the process that owns it is alive.

    RUN_DIR/run.toml       the RunConfig, complete
    RUN_DIR/events.jsonl   the event stream (tuneui.contract.events)
    RUN_DIR/run.lock       the advisory lock and who holds it (tuneui.contract.runlock)
    RUN_DIR/run.pid        the training process's pid while it lives (for people: `kill $(cat run.pid)`)
    RUN_DIR/run.id         the run's identity, written when it starts; checkpoints carry it
    RUN_DIR/report.json    the final evaluation (tuneui.contract.evaluation)
    RUN_DIR/adapter/       the trained adapter, or the whole model for full fine-tunes
    RUN_DIR/adapter_init/  PiSSA/OLoRA only: the initial adapter, to convert adapter/ for the original base
    RUN_DIR/start_model/   start_from a LoRA-family run only: that run's adapter merged into its base, this
                           run's base model
    RUN_DIR/start_from.json  start_from only: the run it started from and the base folder it loads
    RUN_DIR/trackers/      experiment trackers' offline files (TensorBoard, MLflow, W&B, trackio)

Both the engine (which writes these) and the front ends (which follow them) read the names here.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuneui.contract.outputs import EXPORT_MANIFEST
from tuneui.contract.runlock import holder

RUN_TOML = "run.toml"
EVENTS_FILE = "events.jsonl"
PID_FILE = "run.pid"
RUN_ID_FILE = "run.id"
LOG_FILE = "train.log"
REPORT_FILE = "report.json"
ADAPTER_DIR = "adapter"
ADAPTER_INIT_DIR = "adapter_init"
START_MODEL_DIR = "start_model"
START_FROM_FILE = "start_from.json"
TRACKERS_DIR = "trackers"


def is_run_dir(path: str | Path) -> bool:
    """A folder tuneui trained in. An export folder carries a copy of its run's run.toml (to reproduce
    it) but is not a run: its export manifest says so, and it never shows up in a runs list."""
    path = Path(path)
    return (path / RUN_TOML).is_file() and not (path / EXPORT_MANIFEST).is_file()


def pid_of(run_dir: str | Path) -> int | None:
    try:
        return int((Path(run_dir) / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not a running run.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def run_is_alive(run_dir: str | Path) -> bool:
    """A live process holds the run's lock. run.pid is not asked: a second trainer (refused now, but
    older versions) or a reused pid could make it lie."""
    return holder(run_dir) is not None

