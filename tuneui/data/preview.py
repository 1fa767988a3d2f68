"""A preview of exactly what will be trained: one example rendered through the chat template by
the training engine's own encoder (`tuneui.templates`), as segments the UI can colour (trained =
assistant replies and the end-of-turn token that closes each), with how its reasoning is handled.

An example the masking refuses never raises here: the preview shows the first example it accepts
and, when none is accepted, says why the first one was refused.
"""

from __future__ import annotations

from tuneui.contract import defaults
from tuneui.contract.datasets import Preview, Refusal
from tuneui.data.schema import Conversation
from tuneui.templates import MaskingRefused, RenderOptions, encode_conversation, reasoning_text, segments

# Looking further for an example the template accepts is pointless: the statistics count refusals.
TRIES = 50


def preview_example(tokenizer, conversation: Conversation, max_seq_length: int = defaults.MAX_SEQ_LENGTH, *,
                    options: RenderOptions | None = None, tools: list | None = None, row: int = 1) -> Preview:
    """Built on the training engine's encoder, so the trained/masked split is exactly training's."""
    options = options or RenderOptions()
    try:
        enc = encode_conversation(tokenizer, conversation, max_seq_length, tools=tools, options=options)
    except MaskingRefused as exc:
        return Preview(max_seq_length=max_seq_length, row=row, train_reasoning=options.train_reasoning,
                       refusal=Refusal(exc.reason, 1, row, exc.message))
    return Preview(segments(enc), len(enc.input_ids), enc.trained_tokens, enc.truncated, max_seq_length, row=row,
                   train_reasoning=options.train_reasoning,
                   reasoning=describe_reasoning(conversation, enc.reasoning_dropped, options))


def preview_first(tokenizer, conversations: list[Conversation], max_seq_length: int = defaults.MAX_SEQ_LENGTH, *,
                  options: RenderOptions | None = None,
                  tools: list[list[dict] | None] | None = None) -> Preview | None:
    """The first example the masking accepts (None for no data); if none of the first TRIES is
    accepted, the first one's refusal. `tools`: each example's function definitions, or None."""
    first = None
    for i, conv in enumerate(conversations[:TRIES]):
        preview = preview_example(tokenizer, conv, max_seq_length, options=options, row=i + 1,
                                  tools=tools[i] if tools else None)
        if preview.refusal is None:
            return preview
        first = first or preview
    return first


def describe_reasoning(conversation: Conversation, reasoning_dropped: int, options: RenderOptions) -> str:
    has = any(isinstance(m, dict) and m.get("role") == "assistant" and reasoning_text(m).strip()
              for m in conversation)
    if not has:
        return ""
    text = ("reasoning (<think>...</think>) is trained with each reply (train_reasoning = true)"
            if options.train_reasoning else
            "reasoning is shown to the model but not trained: only the answer and its end token are "
            "(train_reasoning = false)")
    if reasoning_dropped:
        replies = "reply" if reasoning_dropped == 1 else "replies"
        text += (f"; the chat template leaves out the reasoning of {reasoning_dropped} earlier {replies}, "
                 "as it does at inference")
    return text
