"""Helpers for tests that run real (tiny) training runs on the demo model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.events import read_events
from tuneui.demo import sample_dataset_path


def write_data(folder: Path, n_train: int = 48, n_val: int = 8) -> tuple[Path, Path]:
    lines = sample_dataset_path().read_text().splitlines()
    folder.mkdir(parents=True, exist_ok=True)
    train, val = folder / "train.jsonl", folder / "val.jsonl"
    train.write_text("\n".join(lines[:n_train]) + "\n")
    val.write_text("\n".join(lines[n_train:n_train + n_val]) + "\n")
    return train, val


def tiny_config(data_dir: Path, **overrides) -> RunConfig:
    """A run of a few seconds: LoRA on the demo model, no cleaning, no generation-based metric."""
    train, val = write_data(data_dir)
    base = dict(name="t", model="demo-tiny", dataset=str(train), val_dataset=str(val), clean=False, technique="lora",
                lora_r=8, learning_rate=5e-3, micro_batch_size=4, gradient_accumulation_steps=2, max_steps=10,
                logging_steps=1, eval_steps=0, save_steps=0, eval_max_examples=0, warmup_ratio=0.0, seed=7)
    return RunConfig(**(base | overrides))


def start(cfg_or_dir, run_dir: Path, *extra: str) -> subprocess.Popen:
    """`python -m tuneui.training` in a subprocess, like the UI does."""
    if isinstance(cfg_or_dir, RunConfig):
        run_dir.mkdir(parents=True, exist_ok=True)
        target = cfg_or_dir.save(run_dir.parent / f"{run_dir.name}.toml")
        args = [str(target), "-o", str(run_dir)]
    else:
        args = [str(cfg_or_dir)]
    return subprocess.Popen([sys.executable, "-m", "tuneui.training", *args, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_event(run_dir: Path, proc: subprocess.Popen, pred, timeout: float = 300) -> dict:
    """Poll events.jsonl until an event satisfies pred (or fail if the process ends first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in read_events(run_dir):
            if pred(ev):
                return ev
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"process ended ({proc.returncode}) before the event:\n{out[-3000:]}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the event")


def kill_after_checkpoint_then_resume(cfg: RunConfig, run_dir: Path) -> list:
    """Start `cfg`, SIGKILL it once a checkpoint is written, resume with --resume; the resumed session's events."""
    proc = start(cfg, run_dir)
    wait_for_event(run_dir, proc, lambda e: e.type == "checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    resumed = start(run_dir, run_dir, "--resume")
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out[-3000:]
    return last_session(read_events(run_dir))


def step_losses(events: list[dict]) -> dict[int, float]:
    return {e.step: e.loss for e in events if e.type == "step"}


def last_session(events: list[dict]) -> list[dict]:
    """Events from the most recent `started` on (a resumed run appends to the same file)."""
    starts = [i for i, e in enumerate(events) if e.type == "started"]
    return events[starts[-1]:] if starts else events


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
