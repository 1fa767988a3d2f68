"""Loss masking through the training encoder: each reply and the end-of-turn token that closes it are
trained (not the newline the template writes after it); refused examples are dropped and counted by reason."""

from __future__ import annotations

import pytest

from tuneui.templates import IGNORE_INDEX, encode_conversation, segments
from tuneui.training.dataset import encode_all


def _decode(tok, ids):
    return tok.decode(ids)


def test_known_example_trains_exactly_the_reply_and_its_end_token(demo_tokenizer):
    tok = demo_tokenizer
    conv = [{"role": "user", "content": "Translate to Zorbish: bread blue"},
            {"role": "assistant", "content": "mib mur"}]
    enc = encode_conversation(tok, conv, 256)
    trained = [i for i, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX]
    masked = [i for i, lab in zip(enc.input_ids, enc.labels) if lab == IGNORE_INDEX]
    assert _decode(tok, trained) == "mib mur<|im_end|>"
    assert _decode(tok, masked) == ("<|im_start|>user\nTranslate to Zorbish: bread blue<|im_end|>\n"
                                    "<|im_start|>assistant\n\n")
    assert enc.trained_tokens == len(tok("mib mur<|im_end|>", add_special_tokens=False)["input_ids"])
    assert all(lab == i for i, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX)


def test_multi_turn_trains_every_reply_and_masks_system_and_user(demo_tokenizer):
    tok = demo_tokenizer
    conv = [{"role": "system", "content": "Answer with the result only."},
            {"role": "user", "content": "What is the last word of: red cat"},
            {"role": "assistant", "content": "cat"},
            {"role": "user", "content": "Reverse the order of these words: sun moon"},
            {"role": "assistant", "content": "moon sun"}]
    enc = encode_conversation(tok, conv, 256)
    segs = segments(enc)
    assert [s["text"] for s in segs if s["trained"]] == ["cat<|im_end|>", "moon sun<|im_end|>"]
    assert "".join(s["text"] for s in segs) == enc.text
    assert "Answer with the result only." in segs[0]["text"] and not segs[0]["trained"]


def test_truncation_that_cuts_every_reply_is_a_counted_refusal(demo_tokenizer):
    long_prompt = {"role": "user", "content": "Reverse the order of these words: " + "red " * 80}
    convs = [[long_prompt, {"role": "assistant", "content": "red"}],
             [{"role": "user", "content": "What is the last word of: sun"}, {"role": "assistant", "content": "sun"}]]
    examples, stats = encode_all(demo_tokenizer, convs, max_seq_length=32)
    assert stats.total == 2 and stats.kept == 1 and stats.dropped == 1
    assert stats.refused == {"no_reply_after_truncation": 1}
    assert stats.refusal_messages["no_reply_after_truncation"].startswith("example 1: no reply token is left")
    assert stats.truncated == 0  # counted among the kept examples only; this one is not trained at all
    assert "raise max_seq_length (now 32)" in stats.advice(32)
    assert len(examples) == 1
    assert all(len(e["input_ids"]) <= 32 for e in examples)


def test_tokenizer_without_template_is_explained_before_training(demo_tokenizer):
    import copy

    from tuneui.contract.errors import DataError

    tok = copy.deepcopy(demo_tokenizer)
    tok.chat_template = None
    with pytest.raises(DataError, match="no chat template"):
        encode_conversation(tok, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], 32)
