"""A real full disk during a checkpoint save (a small tmpfs, filled while the run trains): the run
ends with a `failed` event saying how much space is needed and where, no half-written folder is
left on the disk, the previous checkpoint still verifies, and the run resumes once there is room.

Mounting needs root (CI runs as root); elsewhere the test is skipped."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.engine.runs import last_session, start, tiny_config, wait_for_event
from tuneui.contract.events import read_events
from tuneui.training import checkpoints

SIZE_MIB = 48


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill(disk, leave: int):
    """Take all but `leave` bytes of the disk's free space."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(disk / "filler.bin", "wb") as fh:
        fh.truncate(0)
        chunk = b"\0" * (1 << 20)
        todo = max(free - leave, 0)
        while todo > 0:
            n = min(todo, len(chunk))
            fh.write(chunk[:n])
            todo -= n
    return free


def test_disk_full_during_a_save(small_disk, tmp_path):
    run = small_disk / "run"
    cfg = tiny_config(tmp_path / "d", max_steps=40, save_steps=4, save_total_limit=5)
    proc = start(cfg, run)
    try:
        wait_for_event(run, proc, lambda e: e.type == "checkpoint" and e.step == 4)
        size = sum(p.stat().st_size for p in (run / "checkpoints" / "step-4").rglob("*") if p.is_file())
        _fill(small_disk, leave=max(size // 4, 64 * 1024))  # room for event lines, not for a checkpoint
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out[-3000:]
    assert "Traceback" not in out
    failed = read_events(run)[-1]
    assert failed.type == "failed", failed
    assert failed.reason.startswith("disk full while saving the checkpoint at step 8")
    assert "needs about" in failed.reason and f"is free on {small_disk}" in failed.reason
    assert "step-4 is intact" in failed.reason
    assert f"on {small_disk}" in failed.advice and "--resume" in failed.advice and "train.log" not in failed.advice
    assert not list((run / "trainer").glob("checkpoint-*"))  # the half-written scratch folder is gone
    assert [c.step for c in checkpoints.listed(run)] == [4]
    assert checkpoints.verify(run / "checkpoints" / "step-4") is None

    (small_disk / "filler.bin").unlink()
    resumed = start(run, run, "--resume", "--set", "max_steps=6")
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out[-3000:]
    session = last_session(read_events(run))
    assert session[0].resumed_from.endswith("step-4") and session[-1].type == "finished"
