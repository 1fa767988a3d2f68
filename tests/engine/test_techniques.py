"""Every technique trains through the real runner on CPU: a few optimizer steps on a repeated
batch, loss finite and falling, and the saved result has the shape the technique promises."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from tests.engine.runs import step_losses, tiny_config
from tuneui.contract.events import read_events
from tuneui.training.runner import run_training

REPEATED = {"messages": [{"role": "user", "content": "What is the last word of: red cat sleeps"},
                         {"role": "assistant", "content": "sleeps"}]}

CASES = {
    "full": dict(technique="full", learning_rate=1e-3),
    "full-gradient-checkpointing": dict(technique="full", learning_rate=1e-3, gradient_checkpointing=True),
    "full-adamw-8bit": dict(technique="full", learning_rate=1e-3, optimizer="adamw_8bit"),
    "freeze-top-2": dict(technique="freeze", freeze_trainable_layers=2, learning_rate=1e-3),
    "lora-all-linear": dict(technique="lora"),
    "lora-q-v": dict(technique="lora", lora_target_modules=["q_proj", "v_proj"]),
    "lora-gradient-checkpointing": dict(technique="lora", gradient_checkpointing=True),
    "qlora-nf4-double-quant": dict(technique="qlora"),
    "qlora-gradient-checkpointing": dict(technique="qlora", gradient_checkpointing=True),
    "lora-on-8bit-base": dict(technique="lora_8bit"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_technique_learns_a_repeated_batch(case, tmp_path, demo_model_dir):
    data = tmp_path / "rep.jsonl"
    data.write_text((json.dumps(REPEATED) + "\n") * 8)
    cfg = tiny_config(tmp_path / "d", dataset=str(data), max_steps=5, gradient_accumulation_steps=1,
                      micro_batch_size=4, **CASES[case])
    run = tmp_path / "run"
    assert run_training(cfg, run) == 0
    losses = step_losses(read_events(run))
    assert len(losses) == 5 and all(isinstance(v, float) for v in losses.values())
    assert losses[5] < losses[1] * 0.9, losses

    adapter = run / "adapter"
    if cfg.uses_peft:
        saved = json.loads((adapter / "adapter_config.json").read_text())
        targets = cfg.lora_target_modules
        if targets == "all-linear":
            assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= set(saved["target_modules"])
        else:
            assert set(saved["target_modules"]) == set(targets)
        assert (adapter / "adapter_model.safetensors").exists() and not (adapter / "model.safetensors").exists()
    else:
        tuned = load_file(adapter / "model.safetensors")
        base = load_file(demo_model_dir / "model.safetensors")
        changed = {k for k in base if not (tuned[k] == base[k]).all()}
        if cfg.technique == "freeze":
            assert changed and all(k.startswith(("model.layers.2.", "model.layers.3.", "model.norm")) for k in changed)
        else:
            assert "model.layers.0.self_attn.q_proj.weight" in changed
