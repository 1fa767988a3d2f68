"""The exported model card says what a preference run optimised (without it a DPO model reads as SFT)."""
from types import SimpleNamespace

from tuneui.contract.config import RunConfig
from tuneui.contract.evaluation import EvaluationReport
from tuneui.model_card import model_card


def _card(cfg: RunConfig, report: EvaluationReport | None = None) -> str:
    art = SimpleNamespace(config=cfg, base_model="HuggingFaceTB/SmolLM2-135M-Instruct", name="dates-dpo")
    return model_card(art, "adapter", report, None)


def test_a_dpo_cards_training_table_names_the_objective_its_settings_and_where_it_started():
    cfg = RunConfig(model="demo", dataset="pairs.jsonl", objective="dpo", pref_beta=0.2, dpo_loss_type="ipo",
                    start_from="/runs/sft-1")
    card = _card(cfg)
    assert "- dpo\n---" in card  # the hub tag
    for row in ("| objective | dpo |", "| pref_beta | 0.2 |", "| dpo_loss_type | ipo |", "| start_from | /runs/sft-1 |"):
        assert row in card
    assert "simpo_gamma" not in card and "kto_loss_type" not in card


def test_a_simpo_card_names_its_margin_and_an_sft_card_no_objective():
    assert "| simpo_gamma | 0.8 |" in _card(RunConfig(model="demo", dataset="p.jsonl", objective="simpo",
                                                      simpo_gamma=0.8))
    sft = _card(RunConfig(model="demo", dataset="d.jsonl"))
    assert "objective" not in sft and "pref_beta" not in sft and "- sft" not in sft


def test_a_preference_cards_evaluation_gives_the_ranking_not_empty_sft_rows():
    report = EvaluationReport.model_validate({
        "objective": "dpo", "preference": {"base": {"pairs": 64, "accuracy": 0.797, "mean_logp_margin": 4.6},
                                           "tuned": {"pairs": 64, "accuracy": 1.0, "mean_logp_margin": 78.4}},
        "forgetting": {"base_perplexity": 20.0, "tuned_perplexity": 21.0, "ratio": 1.05, "level": "none",
                       "verdict": "no sign of forgetting"}})
    card = _card(RunConfig(model="demo", dataset="p.jsonl", objective="dpo"), report)
    assert "| preference accuracy (n=64 pairs) | 79.7% | 100.0% |" in card
    assert "exact_match" not in card
    assert "Forgetting probe: no sign of forgetting." in card
