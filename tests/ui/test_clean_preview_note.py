"""The Clean step's "exactly as it will be trained" example, measured by the real engine with real chat
templates: it says which example it shows, how that example's reasoning is trained (train_reasoning),
and which examples the template refuses, with the remedy."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.chat_template_cases import tokenizer_for
from tuneui.contract.config import RunConfig
from tuneui.contract.datasets import Example
from tuneui.data.template_check import FOLD_SYSTEM
from tuneui.engine import LocalEngine
from tuneui.screens.clean import example_note

CONFIG = {"model_type": "llama", "vocab_size": 49152, "hidden_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 1, "intermediate_size": 8}
REASONING = [{"role": "user", "content": "What is 2 + 2?"},
             {"role": "assistant", "content": "<think>\nTwo plus two makes four.\n</think>\n\n4"}]
SYSTEM = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Name a fruit."},
          {"role": "assistant", "content": "Apple."}]


def model_dir(root: Path, template: str) -> Path:
    out = root / template
    tokenizer_for(template).save_pretrained(out)
    (out / "config.json").write_text(json.dumps(CONFIG))
    return out


def test_the_preview_says_how_reasoning_is_trained(tmp_path):
    model = str(model_dir(tmp_path, "qwen3"))
    engine = LocalEngine()
    trained = engine.token_insight([Example(REASONING)], RunConfig(model=model))
    assert trained.preview is not None and trained.preview.train_reasoning
    assert "Two plus two makes four." in "".join(s["text"] for s in trained.preview.segments if s["trained"])
    assert example_note(trained) == ("Example 1. Reasoning (<think>...</think>) is trained with each reply "
                                     "(train_reasoning = true).")

    masked = engine.token_insight([Example(REASONING)], RunConfig(model=model, train_reasoning=False))
    assert masked.preview is not None
    assert "Two plus two" not in "".join(s["text"] for s in masked.preview.segments if s["trained"])
    assert "not trained: only the answer and its end token are (train_reasoning = false)" in example_note(masked)

    plain = engine.token_insight([Example(SYSTEM)], RunConfig(model=model))
    assert example_note(plain) == ("Example 1. No reasoning in it; <think> blocks in replies are trained "
                                   "(train_reasoning = true, in Settings).")


def test_the_preview_skips_to_an_example_the_template_accepts_and_names_the_refused_ones(tmp_path):
    model = str(model_dir(tmp_path, "gemma-2"))
    user_only = SYSTEM[1:]
    insight = LocalEngine().token_insight([Example(SYSTEM), Example(user_only), Example(SYSTEM)], RunConfig(model=model))
    assert insight.preview is not None and insight.preview.row == 2 and insight.preview.refusal is None
    (refusal,) = insight.stats.refusals
    assert (refusal.reason, refusal.count, refusal.row, refusal.remedy) == ("template_rejected", 2, 1, FOLD_SYSTEM)
    note = example_note(insight).splitlines()
    assert note[0].startswith("Example 2. ")
    assert note[1].startswith("2 of 3 examples cannot be trained [template_rejected], e.g. example 1: the chat "
                              "template rejected this conversation: System role not supported; remedy: this chat")

    folded = LocalEngine().token_insight([Example(SYSTEM)], RunConfig(model=model, fold_system=True))
    assert folded.stats.refusals == [] and folded.preview is not None and folded.preview.row == 1
    assert "Answer in one word.\n\nName a fruit." in "".join(s["text"] for s in folded.preview.segments)

    none = LocalEngine().token_insight([Example(SYSTEM)], RunConfig(model=model))
    assert none.preview is not None and none.preview.refusal is not None
    assert example_note(none).startswith("No example to show: example 1: the chat template rejected this "
                                         "conversation: System role not supported [template_rejected]")
