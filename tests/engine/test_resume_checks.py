"""Resume only loads checkpoints tuneui wrote, intact, and for the same model shape."""

from __future__ import annotations

from tests.engine.runs import last_session, tiny_config
from tuneui.contract.config import RunConfig
from tuneui.contract.events import read_events
from tuneui.training import checkpoints
from tuneui.training.runner import run_training


def _run_with_checkpoints(tmp_path):
    run = tmp_path / "run"
    assert run_training(tiny_config(tmp_path / "d", max_steps=4, save_steps=2, save_total_limit=5), run) == 0
    assert [c.step for c in checkpoints.listed(run)] == [2, 4]
    return run


def test_tampered_and_foreign_checkpoints_are_skipped_with_a_warning(tmp_path, run_cli):
    run = _run_with_checkpoints(tmp_path)
    weights = run / "checkpoints" / "step-4" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    foreign = run / "checkpoints" / "step-9"  # no manifest: never loaded
    foreign.mkdir()
    (foreign / "optimizer.pt").write_bytes(b"not ours")
    out = run_cli("train", run, "--resume", "--set", "max_steps=5")
    assert out.returncode == 0, out.stderr[-3000:]
    events = read_events(run)
    warnings = [e.reason for e in events if e.type == "warning"]
    assert any("step-9" in w and "no manifest" in w for w in warnings)
    assert any("step-4" in w and "does not match its manifest hash" in w for w in warnings)
    assert last_session(events)[0].resumed_from.endswith("step-2")


def test_incompatible_config_is_refused(tmp_path, run_cli):
    run = _run_with_checkpoints(tmp_path)
    cfg = RunConfig.load(run)
    cfg.model_copy(update={"lora_r": 4}).save(run / "run.toml")
    out = run_cli("train", run, "--resume")
    assert out.returncode == 2
    assert "cannot resume" in out.stderr and "lora_r: checkpoint has 8, config has 4" in out.stderr
    assert "Traceback" not in out.stderr


def test_resume_without_checkpoint_says_so(tmp_path, run_cli):
    run = tmp_path / "run"
    assert run_training(tiny_config(tmp_path / "d", max_steps=1), run) == 0
    for c in checkpoints.listed(run):
        import shutil

        shutil.rmtree(c.path)
    out = run_cli("train", run, "--resume")
    assert out.returncode == 2 and "no complete checkpoint" in out.stderr


def test_rotation_keeps_at_most_k_and_never_the_newest(tmp_path):
    run = tmp_path / "run"
    assert run_training(tiny_config(tmp_path / "d", max_steps=6, save_steps=1, save_total_limit=2), run) == 0
    assert [c.step for c in checkpoints.listed(run)] == [5, 6]
