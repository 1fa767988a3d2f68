"""Resume is idempotent at every point: after the final checkpoint it only finishes (no training past
max_steps), before the first checkpoint it restarts in place, and a checkpoint copied in from another
run is never resumed."""

from __future__ import annotations

import shutil
import signal

import pytest
import torch
from safetensors.torch import load_file

from tests.engine.runs import Reference, last_session, read_json, start, step_losses, tiny_config, wait_for_event
from tuneui.contract.events import read_events
from tuneui.training import checkpoints
from tuneui.training.runner import run_training

# 48 examples, micro-batch 4, accumulation 2: 6 optimizer steps an epoch, so max_steps=8 ends inside
# the second epoch, where the Trainer, resumed from the final checkpoint, used to train a 9th step.
# The task metric (8 generations) keeps the process busy after that checkpoint, where the kill lands.
SETUP = dict(max_steps=8, save_steps=4, eval_max_examples=8, eval_max_new_tokens=32)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Started here, waited for by each test after its own kill and resume (the first one overlaps it)."""
    root = tmp_path_factory.mktemp("ref")
    ref = Reference(tiny_config(root / "data", **SETUP), root / "run")
    yield ref
    ref.close()


def _same_weights(a, b):
    wa = load_file(a / "adapter" / "adapter_model.safetensors")
    wb = load_file(b / "adapter" / "adapter_model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)


def _kill_when(run_dir, proc, pred):
    wait_for_event(run_dir, proc, pred)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def test_kill_after_the_final_checkpoint_then_resume_finishes_like_the_uninterrupted_run(reference, tmp_path):
    cfg = reference.cfg
    run = tmp_path / "run"
    proc = start(cfg, run)
    _kill_when(run, proc, lambda e: e.type == "checkpoint" and e.step == cfg.max_steps)
    assert not any(e.type == "finished" for e in read_events(run)), "the kill landed too late to test anything"

    resumed = start(run, run, "--resume")
    out, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, out[-3000:]
    session = last_session(read_events(run))
    assert session[0].resumed_from.endswith(f"step-{cfg.max_steps}")
    assert not [e for e in session if e.type == "step"]  # nothing trained past max_steps
    assert session[-1].type == "finished" and session[-1].step == cfg.max_steps
    assert max(step_losses(read_events(run))) == cfg.max_steps
    ref = reference.finished(timeout=900)
    _same_weights(ref, run)
    got, want = read_json(run / "report.json"), read_json(ref / "report.json")
    assert got["steps"] == want["steps"] == cfg.max_steps
    assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-6)
    assert got["eval_loss"]["tuned"] == pytest.approx(want["eval_loss"]["tuned"], rel=1e-6)


def test_kill_before_the_first_checkpoint_restarts_in_place(reference, tmp_path):
    cfg = reference.cfg
    run = tmp_path / "run"
    proc = start(cfg, run)
    _kill_when(run, proc, lambda e: e.type == "step" and e.step >= 1)
    assert not any(e.type == "checkpoint" for e in read_events(run))

    resumed = start(run, run, "--resume")
    out, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, out[-3000:]
    session = last_session(read_events(run))
    assert session[0].resumed_from is None
    warnings = [e.reason for e in read_events(run) if e.type == "warning"]
    assert any("starting again from step 0" in w for w in warnings)
    ref = reference.finished(timeout=900)
    assert step_losses(session) == pytest.approx(step_losses(read_events(ref)), rel=1e-5)
    _same_weights(ref, run)


def test_a_checkpoint_from_another_run_is_skipped_then_refused(tmp_path, run_cli):
    setup = dict(max_steps=2, save_steps=1, save_total_limit=5)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    assert run_training(tiny_config(tmp_path / "d1", seed=1, **setup), theirs) == 0
    assert run_training(tiny_config(tmp_path / "d2", **setup), ours) == 0
    shutil.copytree(theirs / "checkpoints" / "step-2", ours / "checkpoints" / "step-5")  # verifies: a real one

    out = run_cli("train", ours, "--resume", "--set", "max_steps=3")
    assert out.returncode == 0, out.stderr[-3000:]
    events = read_events(ours)
    assert any("step-5" in e.reason and "belongs to another run" in e.reason for e in events if e.type == "warning")
    assert last_session(events)[0].resumed_from.endswith("step-2")

    for ckpt in checkpoints.listed(ours):
        if ckpt.path.name != "step-5":
            shutil.rmtree(ckpt.path)
    out = run_cli("train", ours, "--resume", "--set", "max_steps=8")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "no complete checkpoint of this run" in out.stderr


def test_a_run_killed_before_it_wrote_its_id_gets_one_on_resume(tmp_path):
    """Killed between run.toml and run.id, a run resumed in place must still get an identity, or its
    checkpoints would carry none and a foreign one could not be told apart."""
    import json

    from tuneui.contract.rundir import RUN_ID_FILE

    cfg = tiny_config(tmp_path / "d", max_steps=2, save_steps=2)
    run = tmp_path / "run"
    run.mkdir()
    cfg.save(run / "run.toml")
    assert run_training(cfg, run, resume=True) == 0
    run_id = (run / RUN_ID_FILE).read_text().strip()
    assert len(run_id) == 32
    [ckpt] = checkpoints.listed(run)
    assert json.loads((ckpt.path / checkpoints.MANIFEST).read_text())["run_id"] == run_id
