"""Evaluation: ROUGE-L, the forgetting probe and its verdict, and `tuneui evaluate RUN_DIR`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from loop_fixtures import tiny_full_run, tiny_run  # noqa: E402,F401 - session fixtures

from tuneui.contract.errors import TuneuiError
from tuneui.evaluate import forgetting_verdict, metric_name, rouge_l, token_f1
from tuneui.evaluate_batched import general_text_loss_batched as general_text_loss


def test_rouge_l_rewards_order_and_partial_overlap():
    assert rouge_l("the cat sat", "the cat sat") == 1.0
    assert rouge_l("sat cat the", "the cat sat") == pytest.approx(1 / 3)
    assert rouge_l("the cat", "the cat sat on the mat") == pytest.approx(2 * (1 * 2 / 6) / (1 + 2 / 6))
    assert rouge_l("", "") == 1.0 and rouge_l("x", "") == 0.0
    assert token_f1("sat cat the", "the cat sat") == 1.0  # F1 ignores order; ROUGE-L does not


def test_metric_is_exact_match_for_short_answers_and_rouge_for_free_text():
    assert metric_name(["42", "cat dog", "mib mur"]) == "exact_match"
    assert metric_name(["a long free text answer that goes on for quite a few words here"] * 3) == "rouge_l"


@pytest.mark.parametrize("base,tuned,level", [(100, 90, "none"), (100, 105, "none"), (100, 140, "mild"),
                                              (100, 250, "noticeable"), (100, 900, "severe"), (None, 5, "unknown")])
def test_forgetting_verdict_bands(base, tuned, level):
    v = forgetting_verdict(base, tuned)
    assert v["level"] == level
    if base:
        assert v["ratio"] == pytest.approx(tuned / base)
        assert f"{base:.1f} -> {tuned:.1f}" in v["verdict"]


def test_general_text_loss_is_lower_for_a_model_that_learned_the_text(demo_model_dir, demo_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(demo_model_dir)
    text = "The river carries sand to the sea. " * 3
    before = general_text_loss(model, demo_tokenizer, text)
    ids = torch.tensor([demo_tokenizer(text)["input_ids"]])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(3):
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
    after = general_text_loss(model, demo_tokenizer, text)
    assert after < before
    assert general_text_loss(model, demo_tokenizer, "") is None


def test_evaluate_writes_the_full_report_keeps_the_runner_fields_and_prints_it(tiny_run, tmp_path, capsys):
    import shutil

    from tuneui.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert main(["evaluate", str(run), "--limit", "6"]) == 0
    out = capsys.readouterr().out
    assert "general-text perplexity" in out and "forgetting:" in out and "validation loss" in out
    report = json.loads((run / "report.json").read_text())
    tm = report["task_metric"]
    assert set(tm) >= {"name", "base", "tuned", "n"} and tm["n"] == 6
    for key in ("eval_loss", "perplexity", "token_f1", "rouge_l", "exact_match", "exact_match_ci", "stop_rate"):
        assert set(report[key]) == {"base", "tuned"}, key
    assert report["eval_loss"]["base"] != report["eval_loss"]["tuned"]
    fg = report["forgetting"]
    assert fg["base_perplexity"] > 1 and fg["tuned_perplexity"] > 1 and fg["verdict"]
    assert report["steps"] == 2 and "train_loss" in report  # the runner's fields survive
    assert len(report["examples"]) >= 1  # base and tuned answers differ somewhere


def test_full_runs_use_the_original_model_as_base(tiny_run, tiny_full_run, tmp_path, monkeypatch):
    from tuneui.evaluate_run import evaluate_run

    # A fresh base-figures cache for each, so both bases are really measured.
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache-peft"))
    peft = evaluate_run(tiny_run, limit=0, write=False)
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache-full"))
    full = evaluate_run(tiny_full_run, limit=0, write=False)
    assert peft.base_eval_cached is False and full.base_eval_cached is False
    # Same base model, same validation split: the base numbers agree whichever way the base was made.
    assert full.eval_loss.base == pytest.approx(peft.eval_loss.base, rel=1e-5)
    assert full.forgetting.base_perplexity == pytest.approx(peft.forgetting.base_perplexity, rel=1e-5)


def test_a_second_evaluation_takes_the_base_figures_from_the_cache(tiny_run, tmp_path, monkeypatch):
    from tuneui.evaluate_run import evaluate_run

    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache"))
    first = evaluate_run(tiny_run, limit=2, write=False)
    again = evaluate_run(tiny_run, limit=2, write=False)
    assert (first.base_eval_cached, again.base_eval_cached) == (False, True)
    assert again.task_metric.base == first.task_metric.base and again.eval_loss.base == first.eval_loss.base
    other = evaluate_run(tiny_run, limit=3, write=False)  # other settings: measured again
    assert other.base_eval_cached is False and other.task_metric.n == 3


def test_cli_evaluate_errors_are_one_line(tiny_run, tmp_path, capsys):
    from tuneui.cli import main

    assert main(["evaluate", str(tiny_run / "adapter" / "nope")]) == 2
    assert main(["evaluate", str(tiny_run), str(tiny_run)]) == 2
    err = capsys.readouterr().err
    assert "no such run" in err and "exactly one RUN_DIR" in err and "Traceback" not in err
    bare = tmp_path / "bare"
    import shutil

    shutil.copytree(tiny_run / "adapter", bare)
    from tuneui.evaluate_run import evaluate_run

    with pytest.raises(TuneuiError, match="needs a run directory"):
        evaluate_run(bare)


def test_a_base_at_chance_gets_the_specialisation_caveat():
    v = forgetting_verdict(1000.0, 2500.0, vocab_size=1024)
    assert v["level"] == "noticeable" and v["base_at_chance"]
    assert "no better than chance" in v["verdict"] and "specialised" in v["verdict"]
    assert "chance" not in forgetting_verdict(20.0, 100.0, vocab_size=32000)["verdict"]
