"""The one conversation schema every dataset format is normalised to.

A conversation is a list of messages, each `{"role": ROLE, "content": str}`, in order. Plain-text
corpora (continued pre-training) become a single assistant message, so the whole text is trained.
"""

from __future__ import annotations

from typing import TypeAlias

ROLES = ("system", "user", "assistant", "tool")

Message: TypeAlias = dict[str, str]
Conversation: TypeAlias = list[Message]


def assistant_turns(conv: Conversation) -> int:
    return sum(1 for m in conv if m.get("role") == "assistant")


def word_count(conv: Conversation) -> int:
    """Whitespace-separated words: what length filters and word statistics count."""
    return sum(len(m["content"].split()) for m in conv)
