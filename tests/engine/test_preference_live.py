"""A preference run's periodic validation, end to end on the tiny demo model: every eval_steps an `eval` event
carries the validation pairs' preference figures against TRL's reference, and a run pushed hard (large
learning rate) makes its chosen replies less likely and its margin grow on one held-out pair it keeps ranking wrong,
which the run says as two warnings while it trains."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tuneui.contract.config import RunConfig
from tuneui.contract.events import read_events

PAIRS = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"


@pytest.mark.slow
def test_a_dpo_run_validates_periodically_and_warns_when_the_chosen_replies_fall(tmp_path):
    from tuneui.training.runner import run_training

    cfg = RunConfig(model="demo-tiny", dataset=str(PAIRS), clean=False, technique="lora", lora_r=8,
                    learning_rate=5e-3, pref_beta=0.1, objective="dpo", micro_batch_size=4, max_steps=6,
                    logging_steps=1, eval_steps=1, save_steps=0, warmup_ratio=0.0, eval_max_examples=8,
                    max_seq_length=160, seed=7, val_fraction=0.3)
    run_dir = tmp_path / "run"
    assert run_training(cfg, run_dir) == 0
    events = read_events(run_dir)
    evals = [e for e in events if e.type == "eval" and not e.base]
    assert [e.step for e in evals] == [1, 2, 3, 4, 5]  # every step but the last (the final evaluation covers it)
    for e in evals:
        assert e.pref_pairs and e.pref_pairs >= 1 and 0.0 <= e.pref_accuracy <= 1.0
        assert all(math.isfinite(x) for x in (e.pref_margin, e.logp_chosen, e.logp_rejected, e.logp_drift))
    # The reference is the base under the adapter: it moves away from it step by step.
    drifts = [e.logp_drift for e in evals]
    assert drifts[-1] < drifts[0] < 0.0
    warnings = [e for e in events if e.type == "warning" and "chosen replies are becoming less likely" in e.reason]
    assert len(warnings) == 1 and warnings[0].step == 4 and warnings[0].advice
    # The training margin climbs (0 -> 4.4) while the held-out pair stays ranked wrong: the reward-hacking sign.
    hacking = [e for e in events if e.type == "warning" and e.reason.startswith("possible reward hacking")]
    assert [e.step for e in hacking] == [5]
    assert events[-1].type == "finished"


@pytest.mark.parametrize("technique", ["lora", "full"])
def test_before_training_the_policy_is_its_reference_and_after_one_step_it_is_not(tmp_path, technique):
    """The reference is TRL's: the base under the adapter (LoRA) or TRL's frozen copy (full); at step 0 the
    drift and every reward are exactly 0, so no pair is ahead (TRL's strict comparison)."""
    from tests.engine.test_preference_training import PAIRS as TRAIN_PAIRS
    from tests.engine.test_preference_training import _cfg, _trainer
    from tuneui.training.preference import make_collator
    from tuneui.training.preference_validation import PreferenceValidation

    cfg = _cfg(TRAIN_PAIRS, objective="dpo", technique=technique, max_steps=1, max_seq_length=320)
    trainer, rows, tok = _trainer(cfg, tmp_path, limit=4)
    validate = PreferenceValidation(rows, make_collator(cfg, tok), beta=cfg.pref_beta, trainer=lambda: trainer)
    before = validate(trainer.model)
    assert before["pref_pairs"] == 4 and before["logp_drift"] == 0.0
    assert before["pref_accuracy"] == 0.0 and before["pref_margin"] == 0.0
    trainer.train()
    after = validate(trainer.model)
    assert after["logp_drift"] != 0.0 and after["logp_chosen"] != before["logp_chosen"]


def test_kto_validation_has_a_margin_between_the_groups_and_no_pair_accuracy(tmp_path):
    from tests.engine.test_preference_training import _cfg, _kto_file, _trainer
    from tuneui.training.preference import make_collator
    from tuneui.training.preference_validation import PreferenceValidation

    cfg = _cfg(_kto_file(tmp_path), objective="kto", max_seq_length=320)
    trainer, rows, tok = _trainer(cfg, tmp_path, limit=8)
    figures = PreferenceValidation(rows, make_collator(cfg, tok), beta=cfg.pref_beta, trainer=lambda: trainer)(
        trainer.model)
    labels = [r["label"] for r in rows]
    assert figures["pref_pairs"] == 8 and "pref_accuracy" not in figures
    assert figures["pref_margin"] == 0.0 and figures["logp_drift"] == 0.0  # policy == reference before training
    assert True in labels and False in labels and figures["logp_chosen"] < 0


def test_a_reference_free_objective_reports_no_drift_even_with_lora(tmp_path):
    """ORPO trains against no reference; with LoRA the adapter-disabled base is there to measure, but a
    "drift" from it would name a reference the run does not have."""
    from tests.engine.test_preference_training import PAIRS as TRAIN_PAIRS
    from tests.engine.test_preference_training import _cfg, _trainer
    from tuneui.training.preference import make_collator
    from tuneui.training.preference_validation import PreferenceValidation

    cfg = _cfg(TRAIN_PAIRS, objective="orpo", technique="lora", max_steps=1, max_seq_length=320)
    trainer, rows, tok = _trainer(cfg, tmp_path, limit=4)
    figures = PreferenceValidation(rows, make_collator(cfg, tok), beta=cfg.pref_beta, trainer=lambda: trainer,
                                   reference_free=True)(trainer.model)
    assert figures["pref_pairs"] == 4 and figures.get("logp_drift") is None
    assert figures["logp_chosen"] < 0 and 0.0 <= figures["pref_accuracy"] <= 1.0
