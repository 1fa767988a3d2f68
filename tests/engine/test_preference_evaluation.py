"""A preference run's evaluation (issue 13, Evaluation): report.json gives base vs tuned preference accuracy
and the same forgetting probe as SFT, measured on the real base whichever way the run recovers it; the
console outcome, the finished banner and `tuneui evaluate RUN_DIR` say both; and `tuneui chat` answers with
the base beside the tuned model.

One tiny DPO run (demo-tiny, LoRA, 2 steps) is trained once for the module; the base-path test trains its own."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from tuneui.contract.config import RunConfig
from tuneui.contract.events import read_events

PAIRS = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"


def _cfg(**kw) -> RunConfig:
    base = dict(model="demo-tiny", dataset=str(PAIRS), clean=False, objective="dpo", technique="lora", lora_r=8,
                learning_rate=5e-3, micro_batch_size=4, max_steps=2, logging_steps=1, eval_steps=0, save_steps=0,
                warmup_ratio=0.0, eval_max_examples=8, max_seq_length=160, seed=7)
    return RunConfig(**(base | kw))


def _train(run_dir: Path, **kw) -> dict:
    from tuneui.training.runner import run_training

    assert run_training(_cfg(**kw), run_dir) == 0
    return json.loads((run_dir / "report.json").read_text())


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("pref-eval") / "dpo-lora"
    with pytest.MonkeyPatch.context() as mp:  # the per-test home fixture is function-scoped
        mp.setenv("TUNEUI_HOME", str(tmp_path_factory.mktemp("home")))
        _train(run_dir)
    return run_dir


def _probe_of_the_base() -> float:
    """The forgetting probe measured directly on a freshly loaded base: what every base path must reproduce."""
    from tuneui.evaluate_batched import forgetting_probe
    from tuneui.modelload import load_tokenizer
    from tuneui.training.model_setup import build_model
    from tuneui.training.run_eval import PROBE_WINDOW

    cfg = _cfg(technique="full")
    tok = load_tokenizer(cfg)
    return forgetting_probe(build_model(cfg, tok), tok, window=PROBE_WINDOW)["general_perplexity"]


def test_the_report_has_the_forgetting_probe_beside_the_preference_accuracy(dpo_run):
    report = json.loads((dpo_run / "report.json").read_text())
    fg = report["forgetting"]
    assert fg["base_perplexity"] > 1 and fg["tuned_perplexity"] > 1
    assert fg["ratio"] == pytest.approx(fg["tuned_perplexity"] / fg["base_perplexity"])
    assert fg["level"] in ("none", "mild", "noticeable", "severe") and "general-text perplexity" in fg["verdict"]
    assert fg["tuned_perplexity"] != fg["base_perplexity"]  # the tuned half is the trained adapter's, not the base's
    assert report["preference"]["base"]["pairs"] == report["preference"]["tuned"]["pairs"] >= 1
    assert report["base_measured"] is True
    # The base half (measured after training with the adapter off) is the real base's probe.
    assert fg["base_perplexity"] == pytest.approx(_probe_of_the_base(), rel=1e-5)
    kept = json.loads((dpo_run / "base_eval.json").read_text())  # what --resume reads back
    assert kept["general_perplexity"] == fg["base_perplexity"]
    finished = [e for e in read_events(dpo_run) if e.type == "finished"][-1]
    assert finished.report["forgetting"]["ratio"] == fg["ratio"]


def test_the_console_outcome_and_the_finished_banner_name_the_forgetting_verdict(dpo_run):
    from tuneui.screens.run_model import finished_figure
    from tuneui.training.headless import _print_outcome

    report = json.loads((dpo_run / "report.json").read_text())
    out = io.StringIO()
    _print_outcome(dpo_run, 0, out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("preference accuracy on ")
    assert f"forgetting probe: {report['forgetting']['verdict']}" in lines
    assert not any("exact_match" in ln or "eval loss" in ln for ln in lines)
    finished = [e for e in read_events(dpo_run) if e.type == "finished"][-1]
    figure = finished_figure(finished)
    assert figure.startswith("preference accuracy on ")
    assert figure.endswith(f", forgetting probe: {report['forgetting']['level']} "
                           f"({report['forgetting']['ratio']:.2f}x perplexity)")


def test_tuneui_evaluate_recomputes_the_preference_accuracy_and_the_probe(dpo_run, capsys):
    """`tuneui evaluate RUN_DIR` on a preference run measured SFT's exact match on prompts without replies
    (n=0) and dropped the probe; it now measures what the run measured, and the same numbers."""
    from tuneui.commands import evaluate as command

    trained = json.loads((dpo_run / "report.json").read_text())
    assert command.run(argparse.Namespace(compare=False, paths=[str(dpo_run)], limit=None, json=False)) == 0
    printed = capsys.readouterr().out
    again = json.loads((dpo_run / "report.json").read_text())
    for side in ("base", "tuned"):
        was, now = trained["preference"][side], again["preference"][side]
        assert now["pairs"] == was["pairs"] and now["accuracy"] == was["accuracy"]
        assert now["mean_logp_margin"] == pytest.approx(was["mean_logp_margin"], rel=1e-4, abs=1e-4)
        assert again["forgetting"][f"{side}_perplexity"] == pytest.approx(trained["forgetting"][f"{side}_perplexity"],
                                                                           rel=1e-4)
    assert again["forgetting"]["level"] == trained["forgetting"]["level"] and again["base_eval_cached"] is False
    assert again["steps"] == trained["steps"]  # what the runner wrote beside the figures is kept
    table = printed.splitlines()
    assert table[1].split()[:2] == ["preference", "accuracy"] and "general-text perplexity" in printed
    assert "exact_match" not in printed and "validation loss" not in printed
    assert f"forgetting: {again['forgetting']['verdict']}" in table


def test_chat_answers_with_the_base_beside_the_tuned_dpo_adapter(dpo_run):
    """The side-by-side chat of a DPO LoRA run: the base reply comes from the same weights with the adapter
    off, and is exactly what the untouched base model answers; the tuned model is not the base."""
    import torch

    from tuneui.chat import ChatSession
    from tuneui.contract.loop import GenerationSettings
    from tuneui.modelload import load_tokenizer
    from tuneui.training.model_setup import build_model

    session = ChatSession.load(dpo_run)
    assert session.kind == "peft" and session.has_base
    prompt = [{"role": "user", "content": "Name three primary colours."}]
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0)
    tuned, base = session.side_by_side(prompt, settings)
    assert tuned.tokens > 0 and base.tokens > 0
    cfg = _cfg(technique="full")
    plain = build_model(cfg, load_tokenizer(cfg)).eval()
    enc = session.prompt_ids(prompt)
    with torch.no_grad():
        expected = plain.generate(**enc, max_new_tokens=8, do_sample=False, temperature=None, top_p=None, top_k=None,
                                  eos_token_id=session.tokenizer.eos_token_id,
                                  pad_token_id=session.tokenizer.pad_token_id)
        new = expected[0, enc["input_ids"].shape[1]:]
        assert base.tokens == new.numel()  # the streamed text drops the reply's leading space: compare the words
        assert base.text.strip() == session.tokenizer.decode(new, skip_special_tokens=True).strip()
        with session.model.disable_adapter():
            off = session.model(**enc).logits
        on = session.model(**enc).logits
        assert torch.allclose(off, plain(**enc).logits, atol=1e-5) and not torch.allclose(on, off, atol=1e-6)


def test_chat_offers_the_held_out_prompts_of_a_preference_run_with_their_chosen_reply(dpo_run):
    """The chat's validation prompts were the SFT conversations' last replies: a pair's prompt has none, so a
    preference run offered no prompt at all."""
    from tuneui.chat import validation_prompts
    from tuneui.training.dataset import read_split

    held_out = read_split(dpo_run).val_full
    prompts = validation_prompts(dpo_run)
    assert len(prompts) == len(held_out) >= 1
    for prompt, pair in zip(prompts, held_out, strict=True):
        assert prompt.messages == pair.messages and prompt.messages[-1]["role"] == "user"
        assert prompt.reference == pair.chosen[-1]["content"] != pair.rejected[-1]["content"]


@pytest.mark.slow
def test_every_base_path_measures_the_probe_on_the_real_base(tmp_path):
    """The base's probe after training with the adapter off (LoRA), before training (PiSSA rewrites the base),
    on TRL's reference copy (full DPO) and on the base loaded again (full ORPO keeps no reference): one figure."""
    expected = _probe_of_the_base()
    paths = {"adapter off": {}, "before training": {"lora_init": "pissa"}, "reference copy": {"technique": "full"},
             "loaded again": {"technique": "full", "objective": "orpo"}}
    for name, kw in paths.items():
        fg = _train(tmp_path / name.replace(" ", "-"), **kw)["forgetting"]
        assert fg["base_perplexity"] == pytest.approx(expected, rel=1e-4), name
        assert fg["ratio"] is not None and fg["level"] != "unknown", name
