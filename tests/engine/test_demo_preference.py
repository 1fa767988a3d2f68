"""The preference demo's pairs: deterministic, training and held-out dates disjoint, every chosen reply the
ISO form of the date asked for (the date task's independent parser), every rejected reply a different
answer; `--demo --objective dpo` trains them; and DPO on them raises the preference accuracy."""

from __future__ import annotations

import json
import re
from collections import Counter

from tests.engine.test_demo_task import _date_in, _parse
from tuneui.contract.config import RunConfig
from tuneui.demo_preference import HELD_OUT_PAIRS, MISTAKES, TRAIN_PAIRS, ensure_files, generate, wrong_answer

ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _question(row: dict) -> str:
    [message] = row["prompt"]
    assert message["role"] == "user"
    return message["content"]


def test_the_pairs_are_deterministic_and_the_held_out_dates_are_new():
    train, held_out = generate()
    assert (train, held_out) == generate() and generate(8, 4, seed=1) != generate(8, 4, seed=2)
    assert (len(train), len(held_out)) == (TRAIN_PAIRS, HELD_OUT_PAIRS)
    dates = [_parse(_date_in(_question(r))).date() for r in train + held_out]
    assert len(set(dates)) == len(dates)  # no date twice, so none in both splits
    assert not {_question(r) for r in train} & {_question(r) for r in held_out}


def test_chosen_is_the_date_asked_for_and_rejected_is_another_answer():
    train, held_out = generate()
    for row in train + held_out:
        [chosen], [rejected] = row["chosen"], row["rejected"]
        assert chosen["role"] == rejected["role"] == "assistant"
        assert chosen["content"] == _parse(_date_in(_question(row))).date().isoformat()
        assert rejected["content"] != chosen["content"] and rejected["content"].strip()
        if row["mistake"] in ("swapped", "off_by_one", "wrong_year"):  # near misses: a valid date, same length
            assert ISO.fullmatch(rejected["content"]) and len(rejected["content"]) == len(chosen["content"])
    kinds = Counter(r["mistake"] for r in train)
    assert set(kinds) == set(MISTAKES) and min(Counter(r["mistake"] for r in held_out).values()) >= 1


def test_every_mistake_kind_differs_from_the_right_answer_at_month_ends_and_on_ambiguous_days():
    for year, month, day in [(2000, 2, 29), (1999, 12, 31), (2022, 1, 1), (2045, 3, 3), (1900, 5, 12)]:
        right = f"{year:04d}-{month:02d}-{day:02d}"
        for kind in MISTAKES:
            wrong = wrong_answer(kind, year, month, day, "a date")
            assert wrong != right, (kind, right)
            if kind in ("swapped", "off_by_one", "wrong_year"):
                assert _parse_iso(wrong), (kind, wrong)


def _parse_iso(text: str) -> bool:
    from datetime import date

    return bool(date.fromisoformat(text))


def test_the_files_are_what_the_generator_writes_and_load_as_preference_pairs(tmp_path):
    from tuneui.data import load_examples

    train_path, held_path = ensure_files(tmp_path)
    train, held_out = generate()
    assert [json.loads(line) for line in train_path.read_text().splitlines()] == train
    assert [json.loads(line) for line in held_path.read_text().splitlines()] == held_out
    train_path.write_text("stale\n")
    assert ensure_files(tmp_path)[0].read_text().splitlines()[0] == json.dumps(train[0], ensure_ascii=False)
    examples, _, load = load_examples(held_path)
    assert load.kind == "preference" and not load.errors and len(examples) == HELD_OUT_PAIRS
    assert examples[0].chosen == held_out[0]["chosen"] and examples[0].rejected == held_out[0]["rejected"]


def test_demo_with_a_preference_objective_trains_the_pairs_against_their_held_out_set():
    import argparse

    from tuneui.training.cli_args import add_train_arguments, resolve
    from tuneui.training.dataset import dataset_path

    p = argparse.ArgumentParser()
    add_train_arguments(p)
    for argv in (["--demo", "--objective", "dpo"], ["--demo", "--set", "objective=dpo"]):
        cfg, _ = resolve(p.parse_args([*argv, "-o", "unused", "--set", "max_steps=3"]))
        assert (cfg.objective, cfg.dataset, cfg.val_dataset, cfg.model) == (
            "dpo", "demo-preference", "demo-preference-val", "demo")
        assert cfg.max_steps == 3 and cfg.val_fraction == 0.0
    cfg, _ = resolve(p.parse_args(["--demo", "-o", "unused"]))
    assert (cfg.objective, cfg.dataset, cfg.val_dataset) == ("sft", "demo", None)
    train, held = generate()
    assert [json.loads(x) for x in open(dataset_path("demo-preference"), encoding="utf-8")] == train
    assert [json.loads(x) for x in open(dataset_path("demo-preference-val"), encoding="utf-8")] == held


def test_dpo_on_the_demo_pairs_raises_their_preference_accuracy(tmp_path, demo_model_dir):
    """The tiny random model (the real one takes minutes here): a few steps on the same 8 pairs."""
    from tuneui.data import load_examples
    from tuneui.modelload import load_tokenizer
    from tuneui.templates import RenderOptions
    from tuneui.training.dataset import RunData
    from tuneui.training.model_setup import build_model
    from tuneui.training.preference import build_trainer, encode_run_data, evaluate_preference, make_collator

    train_path, _ = ensure_files(tmp_path)
    cfg = RunConfig(model="demo-tiny", dataset=str(train_path), objective="dpo", clean=False, technique="lora",
                    lora_r=8, learning_rate=5e-3, pref_beta=0.5, micro_batch_size=8, max_steps=8, logging_steps=1,
                    eval_steps=0, save_steps=0, warmup_ratio=0.0, max_seq_length=96, seed=7)
    examples, _, _ = load_examples(train_path)
    examples = examples[:8]
    tok = load_tokenizer(cfg)
    rows, _, _, _ = encode_run_data(cfg, tok, RunData([e.messages for e in examples], [], train_full=examples),
                                    RenderOptions())
    trainer = build_trainer(cfg, tmp_path / "run", build_model(cfg, tok), tok, rows, make_collator(cfg, tok), [])
    before = evaluate_preference(trainer.model, rows, make_collator(cfg, tok))["preference"]
    trainer.train()
    after = evaluate_preference(trainer.model, rows, make_collator(cfg, tok))["preference"]
    assert after["pairs"] == 8 and after["accuracy"] > before["accuracy"]
    assert after["mean_logp_margin"] > before["mean_logp_margin"]
