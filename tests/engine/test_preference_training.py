"""dpo and kto train through TRL's trainers on the tiny demo model (CPU, a few steps): finite losses with LoRA
and full fine-tuning, the preference accuracy on a repeated batch rises, LoRA builds no second model
for the reference, and a headless run writes the reward metrics, a checkpoint and the report."""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path

import pytest

from tuneui.contract.config import RunConfig
from tuneui.contract.events import read_events
from tuneui.data import load_examples
from tuneui.templates import RenderOptions
from tuneui.training.dataset import RunData

PAIRS = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"


def _kto_file(tmp_path: Path) -> Path:
    """The same real pairs as KTO data: each chosen reply desirable, each rejected one undesirable."""
    examples, _, _ = load_examples(PAIRS)
    rows = []
    for e in examples:
        rows.append({"prompt": e.messages, "completion": e.chosen, "label": True})
        rows.append({"prompt": e.messages, "completion": e.rejected, "label": False})
    path = tmp_path / "kto.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(dataset: Path, **kw) -> RunConfig:
    base = dict(model="demo-tiny", dataset=str(dataset), clean=False, technique="lora", lora_r=8, learning_rate=5e-3,
                micro_batch_size=4, max_steps=3, logging_steps=1, eval_steps=0, save_steps=0, warmup_ratio=0.0,
                eval_max_examples=8, max_seq_length=160, seed=7)
    return RunConfig(**(base | kw))


def _trainer(cfg: RunConfig, run_dir: Path, limit: int | None = None):
    from tuneui.modelload import load_tokenizer
    from tuneui.training.model_setup import build_model
    from tuneui.training.preference import build_trainer, encode_run_data, make_collator

    examples, _, _ = load_examples(cfg.dataset)
    tok = load_tokenizer(cfg)
    data = RunData([e.messages for e in examples], [], train_full=examples)
    rows, stats, _, _ = encode_run_data(cfg, tok, data, RenderOptions())
    assert rows and stats.kept == len(rows)
    rows = rows[:limit]
    model = build_model(cfg, tok)
    return build_trainer(cfg, run_dir, model, tok, rows, make_collator(cfg, tok), []), rows, tok


def _losses(trainer) -> list[float]:
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def _weights_alive() -> int:
    """Elements of every distinct parameter held by any live model in this process."""
    from transformers import PreTrainedModel

    gc.collect()
    seen = {id(p): p.numel() for o in gc.get_objects() if isinstance(o, PreTrainedModel) for p in o.parameters()}
    return sum(seen.values())


@pytest.mark.parametrize("technique", ["lora", "full"])
def test_dpo_trains_with_finite_losses_and_the_reference_is_the_base_under_lora(tmp_path, technique):
    before = _weights_alive()
    trainer, _, _ = _trainer(_cfg(PAIRS, objective="dpo", technique=technique), tmp_path)
    held = _weights_alive() - before
    policy = sum(p.numel() for p in trainer.model.parameters())
    if technique == "lora":
        # The reference pass runs with the adapter disabled: no reference model, no second copy, and not even a
        # copy of the adapter (TRL adds one, "ref"; build_trainer removes it while the adapter is fresh).
        assert trainer.ref_model is None and held == policy
        assert list(trainer.model.peft_config) == ["default"]
    else:  # full fine-tuning: a frozen copy of the base is the reference, by design
        ref = sum(p.numel() for p in trainer.ref_model.parameters())
        assert held == policy + ref and ref == policy
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert any("rewards/accuracies" in h for h in trainer.state.log_history)


@pytest.mark.parametrize("technique", ["lora", "full"])
def test_kto_trains_with_finite_losses(tmp_path, technique):
    trainer, rows, _ = _trainer(_cfg(_kto_file(tmp_path), objective="kto", technique=technique), tmp_path)
    assert {r["label"] for r in rows} == {True, False}
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert all("kl" in h for h in trainer.state.log_history if "loss" in h)


def test_dpo_raises_the_preference_accuracy_of_a_repeated_batch(tmp_path):
    from tuneui.training.preference import evaluate_preference, make_collator, reply_logps

    cfg = _cfg(PAIRS, objective="dpo", max_steps=8, pref_beta=0.5, max_seq_length=320)
    trainer, rows, tok = _trainer(cfg, tmp_path, limit=4)  # one batch of 4 pairs, seen 8 times
    assert len(rows) == 4
    batch = make_collator(cfg, tok)(rows)
    reference = reply_logps(trainer.model, batch)  # the model before training is DPO's reference
    before = evaluate_preference(trainer.model, rows, make_collator(cfg, tok))["preference"]
    trainer.train()
    rewards = [p - r for p, r in zip(reply_logps(trainer.model, batch), reference)]
    # DPO's preference accuracy: the chosen reply's implicit reward ahead of the rejected one's. All tied at 0 before.
    accuracy = sum(rewards[i] > rewards[i + 4] for i in range(4)) / 4
    assert accuracy == 1.0
    after = evaluate_preference(trainer.model, rows, make_collator(cfg, tok))["preference"]
    assert after["mean_logp_margin"] > before["mean_logp_margin"] + 1.0
    assert after["accuracy"] >= before["accuracy"]
    accuracies = [h["rewards/accuracies"] for h in trainer.state.log_history if "rewards/accuracies" in h]
    assert accuracies[0] == 0.0 < accuracies[-1]  # step 1: policy == reference, so no pair is ahead yet
    # exactly: the adapter disabled (the reference) and the fresh adapter (the policy) give the same log-probabilities
    assert [h["rewards/margins"] for h in trainer.state.log_history if "rewards/margins" in h][0] == 0.0


@pytest.mark.parametrize(("variant", "kept"), [({}, False), ({"lora_init": "gaussian"}, False),
                                               ({"lora_init": "pissa"}, True), ({"use_dora": True}, True)])
def test_trls_copy_of_the_adapter_is_kept_only_where_the_disabled_adapter_is_not_the_start(tmp_path, variant, kept):
    """PiSSA moves part of the base into the adapter (disabled, it is not the model DPO starts from) and DoRA's
    fresh output equals the base only up to rounding: there the reference must be TRL's copy of the adapter."""
    trainer, _, _ = _trainer(_cfg(PAIRS, objective="dpo", **variant), tmp_path, limit=4)
    assert ("ref" in trainer.model.peft_config) is kept
    assert trainer.model.active_adapter == "default"
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all(".default" in n for n in trainable)


def test_pairs_are_grouped_by_the_width_they_pad_to(tmp_path):
    """A pair's chosen and rejected rows sit in one padded batch, whose width is the longest row of either side."""
    from tuneui.modelload import load_tokenizer
    from tuneui.training.preference import encode_run_data

    cfg = _cfg(PAIRS, objective="dpo", max_seq_length=320)
    examples, _, _ = load_examples(PAIRS)
    rows, _, _, _ = encode_run_data(cfg, load_tokenizer(cfg), RunData([e.messages for e in examples], [],
                                                                      train_full=examples), RenderOptions())
    assert any(len(r["chosen_input_ids"]) != len(r["rejected_input_ids"]) for r in rows)
    assert all(r["length"] == max(len(r["chosen_input_ids"]), len(r["rejected_input_ids"])) for r in rows)


@pytest.mark.slow
def test_a_headless_dpo_run_writes_reward_events_a_checkpoint_and_the_report(tmp_path):
    from tuneui.training.runner import run_training

    run_dir = tmp_path / "run"
    assert run_training(_cfg(PAIRS, objective="dpo", max_steps=2), run_dir) == 0
    events = list(read_events(run_dir))
    steps = [e for e in events if e.type == "step"]
    assert len(steps) == 2 and all(e.reward_accuracy is not None and e.reward_margin is not None for e in steps)
    assert any(e.type == "checkpoint" for e in events) and events[-1].type == "finished"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["objective"] == "dpo" and report["preference"]["base"]["pairs"] >= 1
    assert 0.0 <= report["preference"]["tuned"]["accuracy"] <= 1.0
    assert (run_dir / "adapter" / "adapter_config.json").exists()


def test_a_full_dpo_run_measures_the_same_base_as_a_lora_run(tmp_path):
    """The base is measured after training (tuneui/training/base_eval.py): under LoRA with the adapter off,
    under a full fine-tune on TRL's reference copy; both are the untouched base, so they agree."""
    from tuneui.training.runner import run_training

    reports = {}
    for technique in ("lora", "full"):
        run_dir = tmp_path / technique
        assert run_training(_cfg(PAIRS, objective="dpo", technique=technique, max_steps=2), run_dir) == 0
        reports[technique] = json.loads((run_dir / "report.json").read_text())
        assert reports[technique]["base_measured"] is True
    base, full = reports["lora"]["preference"]["base"], reports["full"]["preference"]["base"]
    assert full["pairs"] == base["pairs"] >= 1
    assert full["mean_logp_margin"] == pytest.approx(base["mean_logp_margin"], rel=1e-4, abs=1e-5)
