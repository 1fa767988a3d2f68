"""The one conversation schema every dataset format is normalised to.

A conversation is a list of messages, each `{"role": ROLE, "content": str}` in order, plus the
fields chat templates read when the file has them (`tool_calls`, `tool_call_id`, `name`,
`reasoning_content`; see `tuneui.data.messages`). Plain-text corpora (continued pre-training)
become a single assistant message, so the whole text is trained. Whole examples (tools, preference
pairs, KTO labels) are `tuneui.contract.datasets.Example`.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from tuneui.contract.datasets import Example

ROLES = ("system", "user", "assistant", "tool")

Message: TypeAlias = dict[str, Any]
Conversation: TypeAlias = list[Message]


def assistant_turns(conv: Conversation) -> int:
    return sum(1 for m in conv if m.get("role") == "assistant")


def word_count(conv: Conversation) -> int:
    """Whitespace-separated words: what length filters and word statistics count."""
    return sum(len(m["content"].split()) for m in conv)


def example_words(ex: Example) -> int:
    """Words of every message list of an example (prompt and replies)."""
    n = len(ex.messages) and word_count(ex.messages)
    for conv in (ex.chosen, ex.rejected, ex.completion):
        if conv is not None:
            n += word_count(conv)
    return n
