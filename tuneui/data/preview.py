"""A preview of exactly what will be trained: one example rendered through the chat template by
the training engine's own encoder, as segments the UI can colour (trained = assistant tokens)."""

from __future__ import annotations

from tuneui.contract import defaults
from tuneui.contract.datasets import Preview
from tuneui.data.schema import Conversation


def _segments(enc) -> list[dict]:
    """Runs of trained/masked text covering the kept text exactly. Characters between token
    offsets (whitespace that some tokenizers leave out of every token) join the following token,
    so the preview reads as the real rendered text."""
    from tuneui.data.tokenize import IGNORE_INDEX

    out: list[dict] = []
    pos = 0
    for (_a, b), label in zip(enc.offsets, enc.labels):
        if b <= pos:  # tokens sharing characters (byte-level pieces of one character)
            continue
        trained = label != IGNORE_INDEX
        piece = enc.text[pos:b]
        pos = b
        if out and out[-1]["trained"] == trained:
            out[-1]["text"] += piece
        else:
            out.append({"text": piece, "trained": trained})
    if not enc.truncated and pos < len(enc.text):
        tail = enc.text[pos:]
        if out and not out[-1]["trained"]:
            out[-1]["text"] += tail
        else:
            out.append({"text": tail, "trained": False})
    return out


def preview_example(tokenizer, conversation: Conversation, max_seq_length: int = defaults.MAX_SEQ_LENGTH, *,
                    tools=None) -> Preview:
    """Built on the training engine's encoder, so the trained/masked split is exactly training's (the
    example's tools rendered by the template, as they will be)."""
    from tuneui.data.tokenize import encode_conversation

    enc = encode_conversation(tokenizer, conversation, max_seq_length, **({"tools": tools} if tools else {}))
    return Preview(_segments(enc), len(enc.input_ids), enc.trained_tokens, enc.truncated, max_seq_length)
