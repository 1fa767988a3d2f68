"""Batched evaluation: same replies as one prompt at a time, stops seen, case-sensitive exact match."""

from __future__ import annotations

import pytest

from tuneui.evaluate_batched import (
    Generation,
    end_token_ids,
    general_text_loss_batched,
    generate_batched,
    score_replies,
    split_reply,
    task_metric_batched,
)

PROMPTS = [
    [{"role": "user", "content": "What is the last word of: red cat"}],
    [{"role": "system", "content": "Answer with the result only."},
     {"role": "user", "content": "Which word comes last in: the big old dog runs and sleeps near the river"}],
    [{"role": "user", "content": "fire"}],
    [{"role": "user", "content": "Name the final word of this sentence: sun moon star"},
     {"role": "assistant", "content": "star"}, {"role": "user", "content": "And of: cold water"}],
]


@pytest.fixture(scope="module")
def tiny(demo_model_dir, demo_tokenizer):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(demo_model_dir), demo_tokenizer


def test_split_reply_cuts_at_the_first_end_token():
    assert split_reply([5, 6, 2, 7, 2], {2}) == ([5, 6], True)
    assert split_reply([5, 6, 7], {2}) == ([5, 6, 7], False)
    assert split_reply([9], {2, 9}) == ([], True)


def test_scores_are_case_sensitive_with_a_case_insensitive_figure_beside_and_count_stops():
    replies = [Generation("2021-03-05", True, 11), Generation("Paris", True, 2),
               Generation("the answer is  2021-03-05", False, 24), Generation(" 1999-01-01 ", True, 11)]
    refs = ["2021-03-05", "paris", "2021-03-05", "1999-01-01"]
    s = score_replies(replies, refs)
    assert s["exact_match"] == 0.5  # "Paris" != "paris"; the sentence is not the date
    assert s["exact_match_ci"] == 0.75
    assert s["stop_rate"] == 0.75
    assert s["mean_new_tokens"] == pytest.approx((11 + 2 + 24 + 11) / 4)
    assert score_replies([], [])["stop_rate"] is None


def test_batched_left_padded_generation_gives_the_replies_of_one_prompt_at_a_time(tiny):
    model, tok = tiny
    one = generate_batched(model, tok, PROMPTS, max_new_tokens=12, batch_size=1)
    batched = generate_batched(model, tok, PROMPTS, max_new_tokens=12, batch_size=4)
    assert [g.text for g in batched] == [g.text for g in one]
    assert [g.new_tokens for g in batched] == [g.new_tokens for g in one]
    assert model.training is False or model.training is True  # mode restored either way (no exception)


def test_padding_side_and_training_mode_are_left_as_they_were(tiny):
    model, tok = tiny
    model.train()
    side = tok.padding_side
    generate_batched(model, tok, PROMPTS[:2], max_new_tokens=2, batch_size=2)
    assert model.training and tok.padding_side == side
    model.eval()


def test_a_reply_that_emits_an_end_token_counts_as_stopped(tiny):
    """Declare the token the model greedily emits first as an extra EOS: generation must stop there."""
    import copy

    import torch

    model, tok = tiny
    free = generate_batched(model, tok, PROMPTS[:1], max_new_tokens=6)[0]
    assert not free.stopped and free.new_tokens == 6  # a random model never says <|im_end|> here
    text = tok.apply_chat_template(PROMPTS[0], tokenize=False, add_generation_prompt=True)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])).logits
    first = int(logits[0, -1].argmax())
    stopping = copy.copy(model)
    stopping.generation_config = copy.deepcopy(model.generation_config)
    stopping.generation_config.eos_token_id = [tok.eos_token_id, first]
    assert first in end_token_ids(stopping, tok)
    got = generate_batched(stopping, tok, PROMPTS[:1], max_new_tokens=6)[0]
    assert got.stopped and got.text == "" and got.new_tokens == 1


def test_task_metric_batched_reports_stop_rate_and_both_exact_matches(tiny):
    model, tok = tiny
    convs = [p + [{"role": "assistant", "content": "x"}] for p in PROMPTS]
    m = task_metric_batched(model, tok, convs, limit=3, max_new_tokens=4)
    assert m["n"] == 3 and m["name"] == "exact_match" and m["max_new_tokens"] == 4
    assert m["stop_rate"] == 0.0 and m["mean_new_tokens"] == 4
    assert {"exact_match", "exact_match_ci", "f1", "rouge_l"} <= m.keys()
    assert [s["prompt"] for s in m["samples"]] == [p[-1]["content"] for p in PROMPTS[:3]]
    assert all(s["stopped"] is False for s in m["samples"])


def _one_window_at_a_time(model, tok, text: str, window: int) -> float:
    """The probe's loss the plain way: each window alone, no padding."""
    import torch

    ids = tok(text, add_special_tokens=False)["input_ids"]
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(ids), window):
            chunk = torch.tensor([ids[i : i + window]])
            if chunk.shape[1] < 2:
                continue
            logits = model(input_ids=chunk).logits.float()
            total += float(torch.nn.functional.cross_entropy(logits[0, :-1], chunk[0, 1:], reduction="sum"))
            count += chunk.shape[1] - 1
    return total / count


def test_batched_probe_loss_equals_the_one_window_at_a_time_loss(tiny):
    model, tok = tiny
    model.eval()
    text = "The river carries sand to the sea, and the wind carries it back. " * 12
    expected = _one_window_at_a_time(model, tok, text, window=64)
    assert general_text_loss_batched(model, tok, text, window=64, batch_size=3) == pytest.approx(expected, rel=1e-4)
    assert general_text_loss_batched(model, tok, "") is None


def test_the_probe_text_is_the_recorded_public_file_byte_for_byte():
    import hashlib

    from tuneui.evaluate_batched import probe_text

    data = probe_text().encode("utf-8")
    assert len(data) == 3038
    assert hashlib.sha256(data).hexdigest() == "c9d3929d1dc3761f901fb93507686ca3b33c086012498db71bf4f10911c151ce"


def test_evaluate_model_batched_gives_loss_task_probe_and_stops_for_the_report(tiny):
    from tuneui.evaluate import build_report, eval_loss
    from tuneui.evaluate_batched import evaluate_model_batched
    from tuneui.templates import encode_conversation
    from tuneui.training.dataset import PaddingCollator

    model, tok = tiny
    convs = [p + [{"role": "assistant", "content": "river"}] for p in PROMPTS]
    examples = [{"input_ids": e.input_ids, "labels": e.labels}
                for e in (encode_conversation(tok, c, 256) for c in convs)]
    collator = PaddingCollator(tok.pad_token_id)
    got = evaluate_model_batched(model, tok, examples, convs, collator, limit=4, max_new_tokens=3, probe="a b c d e f")
    assert got["eval_loss"] == pytest.approx(eval_loss(model, examples, collator))
    assert got["task"]["n"] == 4 and got["task"]["stop_rate"] == 0.0
    assert got["general_loss"] is not None and got["vocab_size"] == len(tok)
    report = build_report(got, got | {"task": got["task"] | {"stop_rate": 1.0}})
    assert report["stop_rate"] == {"base": 0.0, "tuned": 1.0} and report["max_new_tokens"] == 3
    assert set(report["exact_match_ci"]) == {"base", "tuned"}
    assert evaluate_model_batched(model, tok, examples, convs, collator, limit=0, max_new_tokens=3,
                                  probe="a b c")["task"] is None


def test_the_default_probe_is_the_public_prose_and_the_verdict_names_it(tiny):
    from tuneui.evaluate import build_report
    from tuneui.evaluate_batched import PROBE_NAME, evaluate_model_batched
    from tuneui.training.dataset import PaddingCollator

    model, tok = tiny
    got = evaluate_model_batched(model, tok, [], [], PaddingCollator(tok.pad_token_id), limit=0, max_new_tokens=1)
    assert got["probe"] == PROBE_NAME
    fg = build_report(got, got)["forgetting"]
    assert fg["probe"] == PROBE_NAME and PROBE_NAME in fg["verdict"] and fg["ratio"] == 1.0
