"""orpo and simpo (the reference-free objectives, TRL's experimental ORPO and CPO trainers) on the tiny demo model:
finite losses with LoRA and full fine-tuning, no reference model at either, preference accuracy on a repeated batch
rises, ORPO's NLL term is SFT's masked loss of the chosen reply, and the metrics reach the Step events."""

from __future__ import annotations

import math

import pytest

from tests.engine.test_preference_training import PAIRS, _cfg, _losses, _trainer, _weights_alive
from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError


@pytest.mark.parametrize("technique", ["lora", "full"])
def test_orpo_trains_with_finite_losses_and_no_reference(tmp_path, technique):
    before = _weights_alive()
    trainer, _, _ = _trainer(_cfg(PAIRS, objective="orpo", technique=technique), tmp_path)
    assert _weights_alive() - before == sum(p.numel() for p in trainer.model.parameters())  # one model, any technique
    assert not hasattr(trainer, "ref_model")
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert all({"rewards/accuracies", "log_odds_ratio", "log_odds_chosen", "nll_loss"} <= h.keys() for h in logged)


@pytest.mark.parametrize("objective", ["orpo", "simpo"])
def test_reference_free_objectives_raise_the_preference_accuracy_of_a_repeated_batch(tmp_path, objective):
    cfg = _cfg(PAIRS, objective=objective, max_steps=4, max_seq_length=320)
    trainer, rows, _ = _trainer(cfg, tmp_path, limit=4)  # one batch of 4 pairs, seen 4 times
    assert len(rows) == 4
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert all(math.isfinite(h["loss"]) for h in logged)
    # their accuracy: the chosen reply's mean log-probability per token ahead of the rejected one's
    accuracies = [h["rewards/accuracies"] for h in logged]
    assert accuracies[0] < 1.0 == accuracies[-1]
    margins = [h["rewards/margins"] for h in logged]
    assert margins[-1] > margins[0] > -1.0
    if objective == "orpo":
        assert logged[-1]["log_odds_chosen"] > logged[0]["log_odds_chosen"]
    else:
        assert "nll_loss" not in logged[0]  # SimPO has no NLL term; TRL's constant 0 is not logged


def test_orpo_nll_term_is_the_sft_loss_of_the_chosen_reply_only(tmp_path):
    import torch

    from tuneui.training.preference import make_collator

    cfg = _cfg(PAIRS, objective="orpo")
    trainer, rows, tok = _trainer(cfg, tmp_path, limit=2)
    batch = make_collator(cfg, tok)(rows)
    out = trainer.concatenated_forward(trainer.model, batch)
    chosen, nll = out[0], out[4]
    with torch.no_grad():
        ids, labels = batch["chosen_input_ids"], batch["chosen_labels"]
        logits = trainer.model(ids, attention_mask=batch["chosen_attention_mask"]).logits
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())
    assert torch.allclose(nll, expected, atol=1e-5)
    # the labels are the masking's reply tokens: fewer than the sequence (the prompt is not trained)
    assert 0 < int((labels != -100).sum()) < int(batch["chosen_attention_mask"].sum())
    assert chosen.shape == (2,)


@pytest.mark.parametrize(("fields", "named"), [
    ({"objective": "orpo", "simpo_gamma": 1.0}, "simpo_gamma: applies to objective simpo, not 'orpo'"),
    ({"objective": "simpo", "dpo_loss_type": "ipo"}, "dpo_loss_type: applies to objective dpo, not 'simpo'"),
    ({"objective": "orpo", "packing": True}, "packing: objective orpo"),
])
def test_reference_free_settings_are_checked_naming_the_field(fields, named):
    with pytest.raises(ConfigError, match=named):
        RunConfig.from_dict(fields)
    RunConfig.from_dict({"objective": "simpo", "simpo_gamma": 1.0, "pref_beta": 2.0, "technique": "qlora"})
