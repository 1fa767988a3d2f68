"""Conversations -> token ids and labels, with the loss on assistant tokens only.

The text is rendered once with the tokenizer's own chat template, so training sees exactly the
format generation will use. Which characters belong to assistant replies is found by rendering the
conversation prefix before each assistant turn (with the generation prompt) and the prefix that
includes it: the difference is what the model must learn to produce, end-of-turn token included.
Offsets from the fast tokenizer map those character spans to tokens; everything else is -100.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuneui.contract.errors import DataError
from tuneui.data.schema import Conversation

IGNORE_INDEX = -100


@dataclass
class EncodedExample:
    input_ids: list[int]
    labels: list[int]
    truncated: bool  # longer than max_seq_length before truncation
    text: str  # the rendered conversation (before truncation)
    offsets: list[tuple[int, int]]  # character span of each kept token in `text`

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


def _render(tokenizer, messages: Conversation, add_generation_prompt: bool, tools=None) -> str:
    # tools go through the template's own tools support, so training sees what inference will
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, **({"tools": tools} if tools else {})
    )


def trained_char_spans(tokenizer, messages: Conversation, tools=None) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the [start, end) character spans of every assistant turn (a reply the
    data marks `train: False` is rendered but not trained)."""
    full = _render(tokenizer, messages, add_generation_prompt=False, tools=tools)
    spans: list[tuple[int, int]] = []
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant" or msg.get("train") is False:
            continue
        before = _render(tokenizer, messages[:i], add_generation_prompt=True, tools=tools) if i else ""
        upto = _render(tokenizer, messages[: i + 1], add_generation_prompt=False, tools=tools)
        if full.startswith(upto) and upto.startswith(before):
            spans.append((len(before), len(upto)))
            continue
        # Templates that rewrite earlier turns (e.g. strip reasoning) break the prefix property;
        # fall back to locating the reply text itself after the previous span.
        start = full.find(msg["content"], spans[-1][1] if spans else 0)
        if start >= 0:
            spans.append((start, start + len(msg["content"])))
    return full, spans


def encode_conversation(tokenizer, messages: Conversation, max_seq_length: int, *, tools=None) -> EncodedExample:
    if not getattr(tokenizer, "chat_template", None):
        raise DataError(
            "the tokenizer has no chat template; choose a chat/instruct model or set one on the tokenizer"
        )
    text, spans = trained_char_spans(tokenizer, messages, tools)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    labels = [IGNORE_INDEX] * len(ids)
    si = 0
    for t, (a, b) in enumerate(offsets):
        while si < len(spans) and spans[si][1] <= a:
            si += 1
        if si < len(spans) and a >= spans[si][0] and b <= spans[si][1] and b > a:
            labels[t] = ids[t]
    truncated = len(ids) > max_seq_length
    return EncodedExample(
        input_ids=ids[:max_seq_length],
        labels=labels[:max_seq_length],
        truncated=truncated,
        text=text,
        offsets=offsets[:max_seq_length],
    )


def segments(example: EncodedExample) -> list[dict]:
    """The kept text as runs of {"text", "trained"} for a coloured preview.

    Text between two tokens' offsets (whitespace some pre-tokenizers leave out of every token)
    goes with the following token, so the runs add up to the rendered text exactly.
    """
    out: list[dict] = []
    pos = 0
    for (_a, b), label in zip(example.offsets, example.labels):
        trained = label != IGNORE_INDEX
        piece = example.text[pos:b] if b > pos else ""
        pos = max(pos, b)
        if not piece:
            continue
        if out and out[-1]["trained"] == trained:
            out[-1]["text"] += piece
        else:
            out.append({"text": piece, "trained": trained})
    return out
