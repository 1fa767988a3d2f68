"""The exact masking as training uses it: `encode_all` and the collators hand the model exactly the
labels of the independent reference (transformers' `return_assistant_tokens_mask` on the
`{% generation %}`-marked copy of each real template), and the tiny demo model trains through the
real runner on conversations rendered by Qwen3's template, which rewrites earlier turns (it drops
the reasoning of replies before the last user message), so the prefix property does not hold."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from tests.engine.chat_template_cases import (
    SOURCES,
    TEMPLATES,
    cases_for,
    fold_reasoning,
    template_text,
    tokenizer_for,
)
from tests.engine.runs import step_losses, tiny_config
from tuneui.contract.events import read_events
from tuneui.templates import IGNORE_INDEX, RenderOptions
from tuneui.training.dataset import PackingCollator, PaddingCollator, encode_all

READS_REASONING = {"qwen3"}


def reference_labels(tok, name: str, conv, tools, train_reasoning: bool = True) -> list[int]:
    ref_conv = conv if name in READS_REASONING else fold_reasoning(conv)
    marked = template_text(name, "generation" if train_reasoning else "generation-no-reasoning")
    ref = tok.apply_chat_template(ref_conv, chat_template=marked, tools=tools, tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True)
    return [t if m else IGNORE_INDEX for t, m in zip(ref["input_ids"], ref["assistant_masks"])]


def _variants():
    for name in SOURCES:
        yield pytest.param(name, True, id=name)
        if (TEMPLATES / f"{name}.generation-no-reasoning.jinja").exists():
            yield pytest.param(name, False, id=f"{name}-no-reasoning")


@pytest.mark.parametrize("name,train_reasoning", list(_variants()))
def test_encode_all_and_the_collators_give_the_reference_labels(name, train_reasoning):
    tok = tokenizer_for(name)
    cases = list(cases_for(name))
    convs = [conv for _, conv, _ in cases]
    tools = [t for _, _, t in cases]
    examples, stats = encode_all(tok, convs, 1 << 20, tools=tools,
                                 options=RenderOptions(train_reasoning=train_reasoning))
    assert stats.refused == {} and stats.kept == len(convs)
    expected = [reference_labels(tok, name, conv, t, train_reasoning) for conv, t in zip(convs, tools)]

    padded = PaddingCollator(tok.pad_token_id or 0)(examples)
    for i, (case, _, _) in enumerate(cases):
        n = len(expected[i])
        assert padded["labels"][i, :n].tolist() == expected[i], case
        assert (padded["labels"][i, n:] == IGNORE_INDEX).all(), case

    packed = PackingCollator()(examples)
    # The first token of each packed example is never predicted from the previous example.
    assert packed["labels"][0].tolist() == [x for ref in expected for x in [IGNORE_INDEX, *ref[1:]]]


QWEN3_ROWS = [
    [{"role": "user", "content": "What is 2 + 2?"},
     {"role": "assistant", "content": "<think>\nTwo plus two makes four.\n</think>\n\n4"},
     {"role": "user", "content": "And 3 + 3?"},
     {"role": "assistant", "content": "<think>\nThree plus three makes six.\n</think>\n\n6"}],
    [{"role": "system", "content": "Answer with one word."},
     {"role": "user", "content": "What is the last word of: red cat sleeps"},
     {"role": "assistant", "content": "sleeps"}],
    [{"role": "user", "content": "Reverse the order of these words: sun moon"},
     {"role": "assistant", "content": "moon sun"},
     {"role": "user", "content": "Thanks!"}],
]


@pytest.fixture(scope="module")
def qwen3_model_dir(demo_model_dir, tmp_path_factory):
    """The tiny demo model with Qwen3's real chat template (its <|im_start|>/<|im_end|> tokens are
    the demo vocabulary's own)."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("qwen3-demo")
    for f in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(demo_model_dir / f, out / f)
    tok = AutoTokenizer.from_pretrained(demo_model_dir)
    tok.chat_template = template_text("qwen3")
    tok.save_pretrained(out)
    return out


@pytest.mark.parametrize("packing", [False, True], ids=["padded", "packed"])
def test_the_demo_model_trains_on_a_template_that_rewrites_earlier_turns(qwen3_model_dir, tmp_path, packing):
    from tuneui.training.runner import TrainingRun

    data = tmp_path / "qwen3.jsonl"
    data.write_text("".join(json.dumps({"messages": r}) + "\n" for r in QWEN3_ROWS * 4), encoding="utf-8")
    cfg = tiny_config(tmp_path / "d", model=str(qwen3_model_dir), dataset=str(data), val_dataset=str(data),
                      max_steps=3, micro_batch_size=4, gradient_accumulation_steps=1, packing=packing)
    run = TrainingRun(cfg, tmp_path / "run")
    run.setup()
    assert run.train_stats.refused == {} and len(run.train_examples) == 12

    tok = run.tokenizer
    # Qwen3 renders the first reply of the first row without its reasoning: not a prefix of the
    # rendering that ends at that reply, which is what broke the old prefix method.
    full = tok.apply_chat_template(QWEN3_ROWS[0], tokenize=False)
    upto = tok.apply_chat_template(QWEN3_ROWS[0][:2], tokenize=False)
    assert not full.startswith(upto)

    batch = run.collator(run.train_examples[:3])
    expected = [reference_labels(tok, "qwen3", conv, None) for conv in QWEN3_ROWS]
    if packing:
        assert batch["labels"][0].tolist() == [x for ref in expected for x in [IGNORE_INDEX, *ref[1:]]]
    else:
        for i, ref in enumerate(expected):
            assert batch["labels"][i, :len(ref)].tolist() == ref
    trained = tok.decode([t for t in expected[0] if t != IGNORE_INDEX])
    assert "Three plus three makes six." in trained and "6<|im_end|>" in trained
    assert "Two plus two" not in trained and "4<|im_end|>" in trained  # the template dropped it; never trained

    run.train()
    losses = step_losses(read_events(tmp_path / "run"))
    assert sorted(losses) == [1, 2, 3] and all(math.isfinite(v) for v in losses.values())


def test_a_run_counts_refused_examples_by_reason_in_its_events_and_report(tmp_path):
    from tuneui.demo import sample_dataset_path
    from tuneui.training.runner import run_training

    lines = sample_dataset_path().read_text().splitlines()[:12]
    long_prompt = {"messages": [{"role": "user", "content": "Reverse the order of these words: " + "red " * 120},
                                {"role": "assistant", "content": "red"}]}
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(lines) + "\n" + json.dumps(long_prompt) + "\n")
    cfg = tiny_config(tmp_path / "d", dataset=str(data), max_seq_length=64, max_steps=1)
    run = tmp_path / "run"
    assert run_training(cfg, run) == 0
    events = read_events(run)
    (started,) = [e for e in events if e.type == "started"]
    assert started.refusals == {"no_reply_after_truncation": 1} and started.dropped_examples == 1
    assert started.train_examples == 12
    (warning,) = [e for e in events if e.type == "warning" and "loss masking" in e.reason]
    assert warning.reason.startswith("1 of 13 training examples dropped by the loss masking: "
                                     "1 no_reply_after_truncation (example 13: no reply token is left within "
                                     "max_seq_length=64")
    assert "raise max_seq_length (now 64)" in warning.advice
    encode = json.loads((run / "report.json").read_text())["encode"]["train"]
    assert encode["refused"] == {"no_reply_after_truncation": 1} and encode["dropped"] == 1 and encode["kept"] == 12
