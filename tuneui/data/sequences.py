"""Each example as the conversation training encodes, for whatever measures lengths before training
(the Clean step's token statistics, the cleaning report, the recommender's sequence length).

An SFT example is its own conversation. A preference pair is encoded as two sequences, prompt +
chosen and prompt + rejected (tuneui.training.preference_data), padded together in one batch, so its
length is the longer side's; a KTO row is prompt + completion. Earlier replies in a prompt are
context, rendered but not trained (`prompt_only`). Measuring only `messages` measured a pair's
prompt alone: the wizard said "0 of 0" tokens for preference data and planned for a default length.
"""

from __future__ import annotations

from tuneui.contract.datasets import Conversation, Example


def prompt_only(messages: Conversation) -> Conversation:
    """The shared prompt, with any earlier replies rendered as context but not compared."""
    return [dict(m, train=False) if m.get("role") == "assistant" else m for m in messages]


def _chars(conv: Conversation) -> int:
    return sum(len(str(m.get("content") or "")) for m in conv)


def as_trained(ex: Example, *, side: str | None = None) -> Conversation:
    """`ex` as training encodes it: a pair's `side` ("chosen" or "rejected"), by default the longer one
    by characters (a tokenizer-free stand-in for the longer in tokens: it sets the padded width)."""
    if ex.chosen is not None and ex.rejected is not None:
        reply = getattr(ex, side) if side else max(ex.chosen, ex.rejected, key=_chars)
        return prompt_only(ex.messages) + list(reply)
    if ex.completion is not None:
        return prompt_only(ex.messages) + list(ex.completion)
    return ex.messages


def trained_conversations(examples: list[Example], *, side: str | None = None
                          ) -> tuple[list[Conversation], list[list[dict] | None]]:
    """(conversations, tools) of `examples` as training encodes them (`as_trained`), in order."""
    return [as_trained(ex, side=side) for ex in examples], [ex.tools for ex in examples]
