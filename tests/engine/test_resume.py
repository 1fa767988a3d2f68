"""A run killed with SIGKILL and resumed continues exactly where the uninterrupted run would be."""

from __future__ import annotations

import signal

import pytest
import torch
from safetensors.torch import load_file

from tests.engine.runs import (
    Reference,
    kill_after_checkpoint_then_resume,
    start,
    step_losses,
    tiny_config,
    wait_for_event,
)
from tuneui.contract.events import read_events
from tuneui.training import checkpoints

# 48 training examples, micro-batch 4, accumulation 2: an epoch is 6 optimizer steps.


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Started here, waited for by each test after its own kill and resume (the first one overlaps it)."""
    root = tmp_path_factory.mktemp("ref")
    ref = Reference(tiny_config(root / "data"), root / "run")
    yield ref
    ref.close()


def _adapter(run_dir):
    return load_file(run_dir / "adapter" / "adapter_model.safetensors")


@pytest.mark.parametrize("save_steps", [4, 6], ids=["mid-epoch", "epoch-boundary"])
def test_sigkill_then_resume_matches_uninterrupted_run(reference, tmp_path, save_steps):
    cfg = reference.cfg.model_copy(update={"save_steps": save_steps})
    run_dir = tmp_path / "run"
    session = kill_after_checkpoint_then_resume(cfg, run_dir)
    ref_dir = reference.finished(timeout=600)
    started = session[0]
    ckpt_step = int(started.resumed_from.rsplit("-", 1)[1])
    assert ckpt_step >= save_steps and ckpt_step % save_steps == 0
    ref = step_losses(read_events(ref_dir))
    got = step_losses(session)
    after = [s for s in ref if s > ckpt_step]
    assert after and sorted(got) == after  # every step after the checkpoint, no step repeated or skipped
    diffs = [abs(got[s] - ref[s]) for s in after]
    print(f"max per-step loss difference after resume from step {ckpt_step}: {max(diffs):.3g}")
    assert max(diffs) < 1e-5
    a, b = _adapter(ref_dir), _adapter(run_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert session[-1].type == "finished"


def test_graceful_stop_checkpoints_and_exits_130(tmp_path):
    cfg = tiny_config(tmp_path / "data", max_steps=400)
    run_dir = tmp_path / "run"
    proc = start(cfg, run_dir)
    wait_for_event(run_dir, proc, lambda e: e.type == "step" and e.step >= 2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    events = read_events(run_dir)
    assert events[-1].type == "stopped" and "SIGTERM" in events[-1].reason
    stopped_at = events[-1].step
    assert events[-2].type == "checkpoint" and events[-2].step == stopped_at
    newest = checkpoints.newest_complete(run_dir)
    assert newest.step == stopped_at and checkpoints.verify(newest.path) is None


def test_second_signal_stops_at_once_without_corrupting_checkpoints(tmp_path):
    cfg = tiny_config(tmp_path / "data", max_steps=400, save_steps=1)
    run_dir = tmp_path / "run"
    proc = start(cfg, run_dir)
    wait_for_event(run_dir, proc, lambda e: e.type == "checkpoint" and e.step >= 2)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    assert read_events(run_dir)[-1].type == "stopped"
    kept = checkpoints.listed(run_dir)
    assert kept and all(checkpoints.verify(c.path) is None for c in kept)
