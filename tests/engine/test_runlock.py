"""One process at a time per run directory: the advisory lock, its stale detection, and what a second
trainer, a resume of a live run and the monitors see while a real training process holds it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.engine.runs import start, tiny_config, wait_for_event
from tuneui.contract import runlock
from tuneui.contract.events import read_events, run_status
from tuneui.contract.rundir import PID_FILE, run_is_alive
from tuneui.training.launch import attach, start_run
from tuneui.training.runner import run_training

HOLD = ("import sys, time; from tuneui.contract import runlock; lock = runlock.acquire(sys.argv[1], 'testing'); "
        "print('held', flush=True); time.sleep(60)")


def _holding_process(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_names_its_holder_and_dies_with_it(tmp_path):
    proc = _holding_process(tmp_path)
    try:
        owner = runlock.holder(tmp_path)
        assert owner is not None and owner.pid == proc.pid and owner.purpose == "testing"
        with pytest.raises(runlock.RunLocked, match=f"in use by testing process {proc.pid}"):
            runlock.acquire(tmp_path, "training")
    finally:
        proc.send_signal(signal.SIGKILL)  # no chance to clean up: the kernel drops the flock
        proc.wait()
    assert runlock.holder(tmp_path) is None  # the holder line is still there, but names a dead process
    with runlock.locked(tmp_path, "training") as lock:
        assert runlock.holder(tmp_path).pid == os.getpid()
        lock.set_phase("tokenising")
        assert runlock.holder(tmp_path).phase == "tokenising"
    assert runlock.holder(tmp_path) is None


def test_a_reused_pid_is_not_a_holder(tmp_path):
    me = runlock.process_start(os.getpid())
    line = {"pid": os.getpid(), "start": me + 1.0, "purpose": "training", "since": time.time()}
    (tmp_path / runlock.LOCK_FILE).write_text(json.dumps(line))
    assert runlock.holder(tmp_path) is None  # same pid, another process start time: stale
    (tmp_path / runlock.LOCK_FILE).write_text(json.dumps(line | {"start": me}))
    assert runlock.holder(tmp_path).pid == os.getpid()


def test_two_trainers_on_one_directory(tmp_path, run_cli):
    """A second trainer, a resume of the live run and the launch API all refuse while a run lives;
    the live run's files stay its own, and monitors call it running even without run.pid."""
    cfg = tiny_config(tmp_path / "d", max_steps=400, save_steps=1)
    run = tmp_path / "run"
    first = start(cfg, run)
    try:
        wait_for_event(run, first, lambda e: e.type == "checkpoint")
        toml_before = (run / "run.toml").read_bytes()
        resumed = run_cli("train", run, "--resume", timeout=120)
        assert resumed.returncode == 2 and "Traceback" not in resumed.stderr
        assert f"in use by training process {first.pid}" in resumed.stderr
        other = tiny_config(tmp_path / "d2", max_steps=3, seed=9)
        assert run_training(other, run) == 2  # the API refuses too, before writing anything
        with pytest.raises(runlock.RunLocked, match=str(first.pid)):
            start_run(other, run)
        assert (run / "run.toml").read_bytes() == toml_before
        assert {e.pid for e in read_events(run) if e.type == "started"} == {first.pid}
        (run / PID_FILE).unlink()  # what the first trainer to exit used to do to the survivor
        assert run_is_alive(run) and run_status(run) == "running" and attach(run).is_alive()
        assert attach(run).pid == first.pid
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=120) == 130
    finally:
        if first.poll() is None:
            first.kill()
    assert run_status(run) == "stopped" and not run_is_alive(run)
