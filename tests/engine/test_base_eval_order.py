"""The base model is measured after training (tuneui/training/base_eval.py), so the first optimizer step does
not wait for it; what it measures is still the untouched base, for LoRA (adapter off) and for a technique that
changes the weights themselves (freeze: the base loaded again); and a second run on the same base and data
takes the figures from the cache before training, so its curve starts at the base point as before."""

from __future__ import annotations

import pytest

from tests.engine.runs import read_json, start, tiny_config
from tuneui.contract.events import read_events


def _run(tmp_path, name: str, **overrides):
    run = tmp_path / name
    proc = start(tiny_config(tmp_path / f"data-{name}", eval_max_examples=2, eval_max_new_tokens=4, max_steps=3,
                             **overrides), run)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:]
    return run, read_events(run), read_json(run / "report.json")


def _index(events, pred) -> int:
    return next(i for i, e in enumerate(events) if pred(e))


def test_the_base_is_measured_after_training_and_is_the_same_base_for_lora_and_freeze(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache-lora"))
    run, events, report = _run(tmp_path, "lora")
    first_step = _index(events, lambda e: e.type == "step")
    base_point = _index(events, lambda e: e.type == "eval" and e.base)
    assert first_step < base_point and events[base_point].step == 0
    # Training is said to have begun before its first step ends (that step alone can take minutes on a CPU).
    began = _index(events, lambda e: e.type == "preparing" and e.message == "training: step 1 of 3 running")
    assert began < first_step
    progress = [e.message for e in events[first_step:] if e.type == "preparing"]
    assert any(m.startswith("base evaluation: ") and "prompts answered" in m for m in progress), progress
    assert any(m.startswith("final evaluation: ") for m in progress), progress
    assert report["base_measured"] is True and report["base_eval_cached"] is False
    assert report["eval_loss"]["base"] == events[base_point].eval_loss
    assert read_json(run / "base_eval.json")["eval_loss"] == report["eval_loss"]["base"]

    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache-freeze"))
    _, _, frozen = _run(tmp_path, "freeze", technique="freeze", freeze_trainable_layers=1)
    assert frozen["base_eval_cached"] is False and frozen["eval_loss"]["tuned"] != frozen["eval_loss"]["base"]
    # Same base model, same validation data: the adapter switched off and the reloaded base agree.
    assert frozen["eval_loss"]["base"] == pytest.approx(report["eval_loss"]["base"], rel=1e-5)
    assert frozen["forgetting"]["base_perplexity"] == pytest.approx(report["forgetting"]["base_perplexity"],
                                                                    rel=1e-5)

    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache-lora"))
    _, again, cached = _run(tmp_path, "lora-again")
    assert _index(again, lambda e: e.type == "eval" and e.base) < _index(again, lambda e: e.type == "step")
    assert not any(e.type == "preparing" and e.message.startswith("base evaluation") for e in again)
    assert cached["base_eval_cached"] is True and cached["eval_loss"]["base"] == report["eval_loss"]["base"]
