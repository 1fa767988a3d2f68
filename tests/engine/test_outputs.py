"""Outputs never clobber: `-o` onto a non-empty folder needs --overwrite, and even then tuneui never
replaces a folder holding the command's own inputs, files it did not write, or a run in use."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys

import pytest

from tests.engine.runs import tiny_config
from tuneui.contract.events import read_events
from tuneui.contract.outputs import EXPORT_MANIFEST
from tuneui.training.runner import run_training


def snapshot(folder):
    """Every file under `folder` with its hash: equal snapshots mean nothing was touched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("finished")
    cfg = tiny_config(root / "data", max_steps=2, save_steps=1)
    toml = cfg.save(root / "RUN.toml")
    assert run_training(cfg, root / "runs" / "done") == 0
    return root, toml


@pytest.fixture
def runs(finished, tmp_path):
    """A private copy of the finished run, inside a parent that also holds a sibling run and a user file."""
    root, toml = finished
    parent = tmp_path / "runs"
    shutil.copytree(root / "runs" / "done", parent / "done")
    shutil.copytree(root / "runs" / "done", parent / "sibling")
    (parent / "notes.txt").write_text("my notes\n")
    return parent, toml


def test_train_onto_a_finished_run_is_refused(runs, run_cli):
    parent, toml = runs
    before = snapshot(parent)
    out = run_cli("train", toml, "-o", parent / "done", timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "already exists and is not empty" in out.stderr and "--overwrite" in out.stderr
    assert snapshot(parent) == before


def test_overwrite_never_replaces_inputs_or_foreign_files(runs, run_cli, tmp_path):
    parent, toml = runs
    inside = parent / "done" / "RUN.toml"
    shutil.copy(toml, inside)
    before = snapshot(parent)
    out = run_cli("train", inside, "-o", parent / "done", "--overwrite", timeout=120)
    assert out.returncode == 2 and "contains" in out.stderr and "an input of this command" in out.stderr
    inside.unlink()
    (parent / "done" / "my-plot.png").write_bytes(b"\x89PNG")
    before = snapshot(parent)
    out = run_cli("train", toml, "-o", parent / "done", "--overwrite", timeout=120)
    assert out.returncode == 2 and "'my-plot.png'" in out.stderr and "tuneui did not write" in out.stderr
    assert snapshot(parent) == before
    out = run_cli("train", toml, "-o", parent, "--overwrite", timeout=120)  # the runs folder itself
    assert out.returncode == 2 and "and 2 more, which tuneui did not write" in out.stderr
    assert snapshot(parent) == before


def test_overwrite_replaces_an_earlier_run_whole(runs, run_cli):
    parent, toml = runs
    old_id = (parent / "done" / "run.id").read_text()
    sibling = snapshot(parent / "sibling")
    out = run_cli("train", toml, "-o", parent / "done", "--overwrite", "--set", "max_steps=1")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replaced the earlier run" in out.stderr
    events = read_events(parent / "done")
    assert [e.type for e in events if e.type in ("started", "finished")] == ["started", "finished"]
    assert (parent / "done" / "run.id").read_text() != old_id
    assert [p.name for p in (parent / "done" / "checkpoints").iterdir()] == ["step-1"]
    assert snapshot(parent / "sibling") == sibling and (parent / "notes.txt").read_text() == "my notes\n"
    assert not [p for p in parent.iterdir() if p.name.startswith(".")]  # no leftovers of the swap


def test_export_into_the_runs_parent_deletes_nothing(runs, run_cli):
    parent, _ = runs
    before = snapshot(parent)
    out = run_cli("export", parent / "done", "-o", parent, "--overwrite", timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "the folder contains" in out.stderr and "an input of this command" in out.stderr
    out = run_cli("export", parent / "done", "-o", parent / "done" / "adapter", "--overwrite", timeout=300)
    assert out.returncode == 2 and "inside" in out.stderr
    assert snapshot(parent) == before


def test_export_overwrite_replaces_only_its_own_export_and_never_a_live_run(runs, run_cli):
    parent, _ = runs
    dest = parent.parent / "export"
    first = run_cli("export", parent / "done", "-o", dest, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert (dest / EXPORT_MANIFEST).is_file()
    again = run_cli("export", parent / "done", "-o", dest, "--overwrite", timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    (dest / "my-eval.csv").write_text("a,b\n")
    refused = run_cli("export", parent / "done", "-o", dest, "--overwrite", timeout=300)
    assert refused.returncode == 2 and "'my-eval.csv'" in refused.stderr
    hold = ("import sys, time; from tuneui.contract import runlock; l = runlock.acquire(sys.argv[1], 'training'); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(parent / "sibling")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(parent / "sibling")
        out = run_cli("export", parent / "done", "-o", parent / "sibling", "--overwrite", timeout=300)
        assert out.returncode == 2 and f"in use by training process {holder.pid}" in out.stderr
        assert snapshot(parent / "sibling") == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_a_folder_left_holding_only_a_dead_runs_lock_counts_as_empty(tmp_path):
    """A run killed right after it locked its new folder leaves only run.lock: running the same
    command again must not demand --overwrite, but a live holder's folder is still not empty."""
    import json
    import os
    import time

    from tuneui.contract import runlock
    from tuneui.contract.errors import TuneuiError
    from tuneui.contract.outputs import check_output_dir

    me = runlock.process_start(os.getpid())
    line = {"pid": os.getpid(), "start": me + 1.0, "purpose": "training", "since": time.time()}
    (tmp_path / runlock.LOCK_FILE).write_text(json.dumps(line))  # same pid, other start time: a dead run
    assert check_output_dir(tmp_path, overwrite=False) is False
    (tmp_path / runlock.LOCK_FILE).write_text(json.dumps(line | {"start": me}))  # this process: alive
    with pytest.raises(TuneuiError, match="already exists and is not empty"):
        check_output_dir(tmp_path, overwrite=False)
    with pytest.raises(TuneuiError, match="in use by training process"):
        check_output_dir(tmp_path, overwrite=True)
