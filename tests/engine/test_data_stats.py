"""Token statistics and the preview of what will be trained, with a tiny tokenizer built here."""

from __future__ import annotations

import pytest

from tuneui.data.preview import preview_example
from tuneui.data.stats import length_stats, token_stats, word_stats

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}"
    "{% if m['role'] == 'assistant' %} </s>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
CORPUS = ["the cat sat on the mat", "a dog ran in the park", "what is two plus two", "four", "hello there friend"]


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["[UNK]", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=special))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="</s>", pad_token="</s>",
                                   additional_special_tokens=special[2:])
    fast.chat_template = TEMPLATE
    return fast


def chat(user: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def test_length_stats_percentiles_and_histogram():
    s = length_stats(list(range(1, 101)), "words")
    assert (s.count, s.min, s.max, s.total) == (100, 1, 100, 5050)
    assert s.percentiles == {"p50": 50, "p90": 90, "p95": 95, "p99": 99}
    assert sum(s.histogram["counts"]) == 100 and s.histogram["edges"][0] == 0
    assert s.histogram["edges"][-1] >= 100
    assert length_stats([], "tokens").count == 0
    assert word_stats([chat("a b", "c")]).max == 3


def test_token_stats_say_what_truncation_cuts(tokenizer):
    short = chat("what is two plus two", "four")
    long_answer = chat("hello", "the cat sat on the mat " * 4)
    long_prompt = chat("a dog ran in the park " * 5, "four")
    st = token_stats([short, long_answer, long_prompt], tokenizer, max_seq_length=16)
    assert st.measured == 3 and st.lengths.count == 3
    assert st.lengths.min <= 16 < st.lengths.max
    assert st.over_max == 2 and st.answer_cut == 1 and st.answer_lost == 1 and st.prompt_only_cut == 0
    assert st.trained_tokens_cut > 0 and st.tokens_cut >= st.trained_tokens_cut
    d = st.to_dict()
    assert d["over_max_fraction"] == round(2 / 3, 4) and d["lengths"]["unit"] == "tokens"


def test_token_stats_sample_is_seeded(tokenizer):
    data = [chat("hello", "four")] * 30
    st = token_stats(data, tokenizer, 64, sample=10)
    assert (st.measured, st.total) == (10, 30)


def test_preview_marks_only_assistant_tokens_as_trained(tokenizer):
    conv = chat("what is two plus two", "four")
    p = preview_example(tokenizer, conv, 64)
    segs = p.to_dict()["segments"]
    assert "".join(s["text"] for s in segs) == tokenizer.apply_chat_template(conv, tokenize=False)
    trained = "".join(s["text"] for s in segs if s["trained"])
    masked = "".join(s["text"] for s in segs if not s["trained"])
    assert "four" in trained and "two plus two" in masked and "two" not in trained
    assert p.trained_tokens >= 1 and p.tokens > p.trained_tokens and not p.truncated
    assert all(set(s) == {"text", "trained"} for s in segs)


def test_cli_token_stats_and_preview_with_a_model_dir(tokenizer, tmp_path, capsys):
    import json

    from tuneui.cli import main

    model = tmp_path / "model"
    tokenizer.save_pretrained(model)
    (model / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 32, "hidden_size": 8,
                                                   "num_hidden_layers": 1, "num_attention_heads": 1,
                                                   "intermediate_size": 8}))
    rows = [{"messages": chat(f"what is two plus two {i}", "the cat sat on the mat " * (1 + i % 4))} for i in range(12)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["data", "inspect", str(data), "--model", str(model), "--seq-len", "24", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tokens"]["over_max"] > 0 and out["tokens"]["answer_cut"] == out["tokens"]["over_max"]
    assert any(s["trained"] for s in out["preview"]["segments"])
    assert main(["data", "clean", str(data), "-o", str(tmp_path / "o"), "--model", str(model), "--set",
                 "max_length=20", "--json"]) == 0
    c = json.loads(capsys.readouterr().out)["cleaning"]
    assert c["length_unit"] == "tokens" and c["removed"]["too_long"] > 0
    assert c["stats_after"]["tokens"]["lengths"]["max"] < c["stats_before"]["tokens"]["lengths"]["max"]
