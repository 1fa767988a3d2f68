"""The LoRA variants and NEFTune through tuneui's own runner on the demo model: the RunConfig fields
reach peft and the Trainer, a few steps train, and adapter/ is what chat, evaluation and export load."""

from __future__ import annotations

import json
import math

import pytest

from tests.engine.runs import step_losses, tiny_config
from tuneui.contract.evaluation import read_report
from tuneui.contract.events import read_events
from tuneui.training.runner import TrainingRun, run_training


def test_dora_rslora_loraplus_and_neftune_reach_peft_and_the_trainer(tmp_path):
    cfg = tiny_config(tmp_path / "d", max_steps=3, use_dora=True, use_rslora=True, loraplus_lr_ratio=16.0,
                      neftune_noise_alpha=5.0, lora_dropout=0.05)
    run = TrainingRun(cfg, tmp_path / "run")
    run.setup()
    run.train()
    trainer = run.trainer
    assert trainer.args.neftune_noise_alpha == 5.0
    # LoRA+: the B matrices start at 16x the learning rate, everything else at 1x (the scheduler decays both)
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    lrs = {}
    for group in trainer.optimizer.param_groups:
        for p in group["params"]:
            lrs[names[id(p)]] = group["initial_lr"]
    assert {lr for n, lr in lrs.items() if "lora_B" in n} == {cfg.learning_rate * 16}
    assert {lr for n, lr in lrs.items() if "lora_A" in n} == {cfg.learning_rate}
    assert any("lora_magnitude_vector" in n for n in lrs)  # DoRA's magnitudes are trained
    q = trainer.model.base_model.model.model.layers[0].self_attn.q_proj
    assert q.scaling["default"] == pytest.approx(cfg.lora_alpha / math.sqrt(cfg.lora_r))  # rsLoRA
    run.save_final()
    saved = json.loads((tmp_path / "run" / "adapter" / "adapter_config.json").read_text())
    assert saved["use_dora"] is True and saved["use_rslora"] is True
    # the plain LoRA fields still arrive beside the variants
    assert saved["lora_dropout"] == 0.05 and saved["r"] == cfg.lora_r and saved["lora_alpha"] == cfg.lora_alpha
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} == set(saved["target_modules"])
    assert not (tmp_path / "run" / "adapter_init").exists()  # only PiSSA/OLoRA need the initial adapter


@pytest.mark.parametrize("init", ["pissa_fast", "olora"])
def test_pissa_and_olora_runs_save_an_adapter_for_the_untouched_base(init, tmp_path):
    from tuneui.evaluate_run import evaluate_run

    cfg = tiny_config(tmp_path / "d", max_steps=4, lora_init=init)
    run = tmp_path / "run"
    assert run_training(cfg, run) == 0
    losses = step_losses(read_events(run))
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses.values())
    saved = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert saved["r"] == 2 * cfg.lora_r and saved["init_lora_weights"] is True  # converted to plain LoRA
    assert (run / "adapter_init" / "adapter_model.safetensors").exists()
    # adapter/ loaded on a fresh copy of the original base gives the loss the trained model had
    written = read_report(run)
    again = evaluate_run(run, write=False)
    assert written is not None
    assert again.eval_loss.tuned == pytest.approx(written.eval_loss.tuned, rel=1e-4)
    assert again.eval_loss.base == pytest.approx(written.eval_loss.base, rel=1e-4)
    assert written.eval_loss.tuned != pytest.approx(written.eval_loss.base, rel=1e-3)
    # the export ships the converted adapter, and its model card names the initialisation
    from tuneui.export import export_run

    out = export_run(run, tmp_path / "export").out_dir
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 2 * cfg.lora_r
    assert f"| lora_init | {init} |" in (out / "README.md").read_text()
