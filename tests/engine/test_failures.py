"""Each way a run can go wrong ends as a `failed` (or `warning`) event with a reason and advice.

Runs happen in-process on the demo model; faults that cannot be produced on demand on a CPU
(NaN from fp16 overflow, a CUDA OOM, a full disk) are injected at the exact point where the real
ones surface, so the handling code under test is the real one.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from transformers import Trainer

from tests.engine.runs import tiny_config
from tuneui.contract.events import read_events
from tuneui.training import checkpoints
from tuneui.training.callbacks import TuneTrainer
from tuneui.training.runner import run_training


def _inject_loss(monkeypatch, fn):
    original = TuneTrainer.compute_loss
    calls = {"n": 0}

    def patched(self, model, inputs, *args, **kwargs):
        loss = original(self, model, inputs, *args, **kwargs)
        calls["n"] += 1
        return fn(calls["n"], loss)

    monkeypatch.setattr(TuneTrainer, "compute_loss", patched)


def _failed(run_dir):
    events = read_events(run_dir)
    assert events[-1].type == "failed", events[-3:]
    return events[-1]


def test_nan_loss_stops_with_advice(tmp_path, monkeypatch):
    _inject_loss(monkeypatch, lambda n, loss: loss * float("nan") if n >= 5 else loss)
    code = run_training(tiny_config(tmp_path / "d"), tmp_path / "run")
    assert code == 1
    ev = _failed(tmp_path / "run")
    assert "loss became nan at step 3" in ev.reason
    assert "learning_rate" in ev.advice


def test_divergence_is_caught(tmp_path, monkeypatch):
    _inject_loss(monkeypatch, lambda n, loss: loss * (50.0 if n > 24 else 1.0))
    cfg = tiny_config(tmp_path / "d", max_steps=40, divergence_patience=3)
    assert run_training(cfg, tmp_path / "run") == 1
    ev = _failed(tmp_path / "run")
    assert ev.reason.startswith("loss diverged") and ev.step == 15
    assert "learning_rate" in ev.advice


def test_out_of_memory_suggests_the_next_smaller_setup(tmp_path, monkeypatch):
    def oom(n, loss):
        if n == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return loss

    _inject_loss(monkeypatch, oom)
    assert run_training(tiny_config(tmp_path / "d"), tmp_path / "run") == 1
    ev = _failed(tmp_path / "run")
    assert ev.reason.startswith("out of memory")
    assert "micro_batch_size = 2" in ev.advice and "gradient_accumulation_steps = 4" in ev.advice


def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    original = Trainer._save_checkpoint
    calls = {"n": 0}

    def full_disk(self, model, trial):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device", str(tmp_path / "run"))
        return original(self, model, trial)

    monkeypatch.setattr(Trainer, "_save_checkpoint", full_disk)
    cfg = tiny_config(tmp_path / "d", save_steps=2, max_steps=6)
    assert run_training(cfg, tmp_path / "run") == 1
    ev = _failed(tmp_path / "run")
    assert ev.reason.startswith("disk full while saving the checkpoint at step 4") and "needs about" in ev.reason
    assert "step-2 is intact" in ev.reason
    assert "--resume" in ev.advice and "train.log" not in ev.advice
    kept = checkpoints.listed(tmp_path / "run")
    assert [c.step for c in kept] == [2] and checkpoints.verify(kept[0].path) is None


def test_zero_trainable_examples_is_bad_input(tmp_path):
    cfg = tiny_config(tmp_path / "d", max_seq_length=8)
    assert run_training(cfg, tmp_path / "run") == 2
    assert "no trainable examples" in _failed(tmp_path / "run").reason


def test_missing_pad_token_and_chat_template_are_handled_before_training(tmp_path, demo_model_dir):
    model = tmp_path / "model"
    shutil.copytree(demo_model_dir, model)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    tok_cfg = json.loads((model / "tokenizer_config.json").read_text())
    for key in ("pad_token", "chat_template"):
        tok_cfg.pop(key, None)
    (model / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    cfg = tiny_config(tmp_path / "d", model=str(model), max_steps=2)
    assert run_training(cfg, tmp_path / "run") == 0
    events = read_events(tmp_path / "run")
    first_step = next(i for i, e in enumerate(events) if e.type == "step")
    warnings = [e.reason for e in events[:first_step] if e.type == "warning"]
    assert any("no pad token" in w for w in warnings)
    assert any("no chat template" in w for w in warnings)


def test_hub_token_never_reaches_the_run_directory(tmp_path, monkeypatch):
    secret = "hf_tuneuiSECRETtoken0123456789"
    monkeypatch.setenv("HF_TOKEN", secret)
    assert run_training(tiny_config(tmp_path / "d", max_steps=2, save_steps=1), tmp_path / "run") == 0
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_pickle_weights_are_refused(tmp_path, demo_model_dir):
    from safetensors.torch import load_file

    from tuneui.contract.errors import ModelError
    from tuneui.training.model_setup import build_model

    model = tmp_path / "pickled"
    shutil.copytree(demo_model_dir, model)
    torch.save(load_file(model / "model.safetensors"), model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="cannot load"):
        build_model(tiny_config(tmp_path / "d", model=str(model)))
