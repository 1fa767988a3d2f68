"""The memory model and the recommender know what a preference objective costs: two sequences per pair, a frozen
reference copy only for dpo/kto with full or freeze fine-tuning, the loss buffers of each trainer; and
`tuneui recommend --objective` passes the objective through to the run config it proposes."""

from __future__ import annotations

import json

import pytest

from tests.engine.test_recommend_cli import model_dir  # noqa: F401  (fixture)
from tuneui.cli import main
from tuneui.models import info_from_config
from tuneui.recommend.memory import Setup, activation_bytes, estimate
from tuneui.recommend.shapes import REFERENCE_CONFIGS

QWEN_05B = info_from_config(REFERENCE_CONFIGS["0.5B"], name="qwen2.5-0.5b")


def _est(**kw):
    return estimate(QWEN_05B, Setup(seq_len=1024, micro_batch_size=2, padded=True, **kw))


@pytest.mark.parametrize("objective", ["dpo", "orpo", "simpo"])
def test_pairs_save_the_activations_of_two_sequences_each(objective):
    sft, pref = _est(technique="lora"), _est(technique="lora", objective=objective)
    doubled = activation_bytes(QWEN_05B, Setup(seq_len=1024, micro_batch_size=4, padded=True, technique="lora"))[0]
    assert pref.sizes["activations"] == doubled > sft.sizes["activations"]
    assert pref.tensor_bytes > sft.tensor_bytes


@pytest.mark.parametrize("technique", ["lora", "qlora", "lora_8bit"])
def test_no_reference_copy_with_an_adapter(technique):
    assert _est(technique=technique, objective="dpo").sizes["weights"] == _est(technique=technique).sizes["weights"]


@pytest.mark.parametrize("technique", ["full", "freeze"])
def test_dpo_and_kto_keep_a_frozen_copy_with_full_weights_orpo_and_simpo_do_not(technique):
    own = _est(technique=technique).sizes["weights"]
    for objective in ("dpo", "kto"):
        e = _est(technique=technique, objective=objective)
        assert e.sizes["weights"] == own + QWEN_05B.total_params * 2  # bf16 copy
        assert any("reference" in n for n in e.notes)
    for objective in ("orpo", "simpo"):
        assert _est(technique=technique, objective=objective).sizes["weights"] == own


def test_loss_buffers_follow_the_trainer_dpo_and_kto_their_fused_head_the_others_sfts_for_both_sides():
    sft = _est(technique="lora")
    assert _est(technique="lora", objective="dpo").sizes["logits"] == 2 * sft.sizes["logits"] * 56 // 12
    assert _est(technique="lora", objective="kto").sizes["logits"] == sft.sizes["logits"] * 56 // 12
    assert _est(technique="lora", objective="orpo").sizes["logits"] == 2 * sft.sizes["logits"]


def test_recommend_cli_passes_the_objective_through(model_dir, capsys):  # noqa: F811
    def run(*extra):
        assert main(["recommend", "--model", str(model_dir), "--gpus", "1x24GiB", "--seq-len", "1024", "--json",
                     *extra]) == 0
        return json.loads(capsys.readouterr().out)

    sft, dpo, kto = run(), run("--objective", "dpo"), run("--objective", "kto")
    assert "objective" not in sft["run_config"] and dpo["run_config"]["objective"] == "dpo"
    full = {o: next(a for a in out["alternatives"] if a["label"] == f"{p}full adamw")
            for o, out, p in (("sft", sft, ""), ("dpo", dpo, "dpo "))}
    assert full["dpo"]["peak_bytes"] > full["sft"]["peak_bytes"]
    assert kto["run_config"]["micro_batch_size"] >= 2  # its KL estimate needs two rows per micro-batch
    with pytest.raises(SystemExit):
        main(["recommend", "--model", str(model_dir), "--objective", "ppo"])
