"""Conversations -> token ids and labels: every token that overlaps a trained span is trained.

The text from `plan_spans` is tokenized once by the fast tokenizer (no special tokens added: the
template writes its own), and the character offsets decide the labels. A token counts as trained
when its characters overlap a span at all, so a token that straddles the header/reply boundary
(real vocabularies merge across it) or whose offsets include a leading space is kept in the loss.
This is the same test transformers applies for `return_assistant_tokens_mask`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuneui.templates.refusals import (
    NO_REPLY_AFTER_TRUNCATION,
    REPLY_NOT_FOUND,
    TOKENIZER_UNSUPPORTED,
    MaskingRefused,
)
from tuneui.templates.spans import DEFAULT_OPTIONS, RenderOptions, plan_spans

IGNORE_INDEX = -100


@dataclass
class EncodedExample:
    input_ids: list[int]
    labels: list[int]
    truncated: bool  # longer than max_seq_length before truncation
    text: str  # the rendered conversation (before truncation)
    offsets: list[tuple[int, int]]  # character span of each kept token in `text`
    spans: list[tuple[int, int]] = field(default_factory=list)  # trained character spans in `text`
    reasoning_dropped: int = 0  # replies whose reasoning the template does not render

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


def encode_conversation(tokenizer, messages, max_seq_length: int, *, tools=None,
                        options: RenderOptions = DEFAULT_OPTIONS) -> EncodedExample:
    plan = plan_spans(tokenizer, messages, tools=tools, options=options)
    try:
        enc = tokenizer(plan.text, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError:
        raise MaskingRefused(TOKENIZER_UNSUPPORTED, "the tokenizer gives no character offsets (a slow tokenizer); "
                                                    "loss masking needs a fast tokenizer") from None
    ids: list[int] = enc["input_ids"]
    offsets: list[tuple[int, int]] = enc["offset_mapping"]  # already (start, end) tuples
    labels = trained_labels(ids, offsets, plan.spans)
    first = next((t for t, x in enumerate(labels) if x != IGNORE_INDEX), None)
    if first is None:
        raise MaskingRefused(REPLY_NOT_FOUND, "the replies map to no token (the tokenizer's offsets leave them out)")
    truncated = len(ids) > max_seq_length
    if first >= max_seq_length:
        raise MaskingRefused(NO_REPLY_AFTER_TRUNCATION, f"no reply token is left within max_seq_length="
                             f"{max_seq_length}: the first reply starts at token {first + 1} of {len(ids)}")
    return EncodedExample(ids[:max_seq_length], labels[:max_seq_length], truncated, plan.text,
                          offsets[:max_seq_length], plan.spans, plan.reasoning_dropped)


def trained_labels(ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """ids where the token overlaps a span, IGNORE_INDEX elsewhere; spans sorted and disjoint."""
    labels = [IGNORE_INDEX] * len(ids)
    if not spans:
        return labels
    si, n = 0, len(spans)
    start, end = spans[0]
    for t, (a, b) in enumerate(offsets):
        if a >= end:
            while si < n and a >= spans[si][1]:
                si += 1
            if si == n:
                break
            start, end = spans[si]
        if b > start:
            labels[t] = ids[t]
    return labels


def segments(example: EncodedExample) -> list[dict]:
    """The kept text as runs of {"text", "trained"} for a coloured preview.

    Characters between token offsets (whitespace some tokenizers leave out of every token) join the
    following token, and tokens sharing characters (byte pieces of one character) count once, so
    the runs add up to the kept text exactly (the whole text when nothing was truncated).
    """
    out: list[dict] = []
    pos = 0

    def add(piece: str, trained: bool) -> None:
        if out and out[-1]["trained"] == trained:
            out[-1]["text"] += piece
        else:
            out.append({"text": piece, "trained": trained})

    for (_, b), label in zip(example.offsets, example.labels):
        if b <= pos:
            continue
        add(example.text[pos:b], label != IGNORE_INDEX)
        pos = b
    if not example.truncated and pos < len(example.text):
        add(example.text[pos:], False)
    return out
