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


def start(cfg_or_dir, run_dir: Path, *extra: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    """`python -m tuneui.training` in a subprocess, like the UI does."""
    if isinstance(cfg_or_dir, RunConfig):
        run_dir.mkdir(parents=True, exist_ok=True)
        target = cfg_or_dir.save(run_dir.parent / f"{run_dir.name}.toml")
        args = [str(target), "-o", str(run_dir)]
    else:
        args = [str(cfg_or_dir)]
    # One torch thread: the demo model's matrices are 192 wide, too small for a second thread to help, and
    # two processes of two threads each on CI's two cores (a resume test's reference next to its run, or
    # any other load) spin at every op's barrier: a DPO run took 31-44 s of CPU with torch's default of
    # two threads and 17 s with one, the same losses to 7 digits. An OMP_NUM_THREADS already set wins.
    return subprocess.Popen([sys.executable, "-m", "tuneui.training", *args, *extra],
                            stdout=stdout, stderr=subprocess.STDOUT, text=True,
                            env={"OMP_NUM_THREADS": "1", **os.environ, "PYTHONUNBUFFERED": "1"})


class Reference:
    """The uninterrupted run a resume test compares with, started at once and waited for only when needed.

    It runs in its own process while the test starts, kills and resumes its own run: two one-thread
    processes (see start) on CI's two cores, where the suite alone keeps 1.1 busy. The run itself is the
    same. Its output goes to a file, not a pipe nobody reads until the end (a full pipe would stall it).
    """

    def __init__(self, cfg: RunConfig, run_dir: Path):
        self.cfg, self.dir, self.log = cfg, run_dir, run_dir.parent / f"{run_dir.name}.log"
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as out:
            self._proc = start(cfg, run_dir, stdout=out)

    def finished(self, timeout: float = 900) -> Path:
        """The run directory, once the run has ended; fails the test if the run failed."""
        self._proc.wait(timeout=timeout)
        assert self._proc.returncode == 0, self.log.read_text()[-3000:]
        return self.dir

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


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
