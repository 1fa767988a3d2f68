"""Text views of an example shared by the filters: the words, normalised keys, a short excerpt.

Keys cover everything an example trains on: every message list (prompt and replies), function calls,
the tool definitions and a KTO label, so two rows that differ only in their tools are different
examples, and a preference pair is deduplicated as a pair.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence

from tuneui.contract.datasets import Example
from tuneui.data.schema import word_count  # noqa: F401 - the filters count words as the statistics do

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def joined(conv: list[dict]) -> str:
    return "\n".join(m["content"] if not m.get("tool_calls") else f"{m['content']}\n{_calls(m)}" for m in conv)


def _calls(m: dict) -> str:
    return json.dumps(m["tool_calls"], ensure_ascii=False, sort_keys=True)


def example_text(ex: Example) -> str:
    """All the text of an example (prompt, replies, calls), as near-duplicate detection compares it."""
    return features(ex)[0]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _norm(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.lower().split())


def _conv_key(conv: list[dict], out: list[str]) -> None:
    for m in conv:
        out.append(m["role"] + "\x1f" + _norm(m["content"]))
        if m.get("tool_calls"):
            out.append("\x1d" + _calls(m))
        if m.get("train") is False:
            out.append("\x1c")


def _digest(parts: list[str]) -> bytes:
    return hashlib.blake2b("\x1e".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()


def exact_key(conv: list[dict]) -> bytes:
    """Equal for conversations that differ only in case, whitespace or Unicode compatibility forms."""
    parts: list[str] = []
    _conv_key(conv, parts)
    return _digest(parts)


def tools_key(ex: Example) -> bytes:
    return _digest([json.dumps(ex.tools, sort_keys=True, ensure_ascii=False)]) if ex.tools else b"\0" * 8


def features(ex: Example) -> tuple[str, int, bytes]:
    """(text for the near-duplicate search, words, exact key) of an example, in one pass over its text.

    The key is equal for examples that differ only in case, whitespace or Unicode compatibility forms,
    and covers every part (the whole pair for preferences), function calls, tools and a KTO label."""
    key: list[str] = []
    texts: list[str] = []
    n = 0
    for name, conv in ex.parts():
        if name != "messages":
            key.append("\x1b" + name)
        for m in conv:
            c = m["content"]
            w = (c if c.isascii() else unicodedata.normalize("NFKC", c)).split()
            n += len(w)
            key.append(m["role"])
            key.append(" ".join(w))
            texts.append(c)
            if m.get("tool_calls"):
                calls = _calls(m)
                key.append(calls)
                texts.append(calls)
            if m.get("train") is False:
                key.append("\x1c")
    if ex.tools:
        key.append(json.dumps(ex.tools, sort_keys=True, ensure_ascii=False))
    if ex.label is not None:
        key.append(f"label={ex.label}")
    digest = hashlib.blake2b("\x1f".join(key).lower().encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return "\n".join(texts), n, digest


def example_key(ex: Example) -> bytes:
    """The exact-duplicate key of `features`."""
    return features(ex)[2]


def prompt_key(ex: Example) -> bytes:
    """The prompt (with its tools): the split keeps every example of one prompt on one side."""
    parts: list[str] = []
    _conv_key(ex.messages, parts)
    if ex.tools:
        parts.append(json.dumps(ex.tools, sort_keys=True, ensure_ascii=False))
    return _digest(parts)


def excerpt(conv: list[dict], limit: int = 160) -> str:
    """One line the report can show: `user: ... | assistant: ...`, shortened in the middle."""
    text = " | ".join(f"{m['role']}: {_WS.sub(' ', m['content'] or (_calls(m) if m.get('tool_calls') else '')).strip()}"
                      for m in conv)
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return text[:half] + " ... " + text[-half:]


def example_excerpt(ex: Example, limit: int = 160) -> str:
    if ex.chosen is not None:
        return excerpt([*ex.messages, *[{**m, "role": "chosen"} for m in ex.chosen],
                        *[{**m, "role": "rejected"} for m in ex.rejected or []]], limit)
    if ex.completion is not None:
        label = "desirable" if ex.label else "undesirable"
        return excerpt([*ex.messages, *[{**m, "role": f"{m['role']} ({label})"} for m in ex.completion]], limit)
    tools = f"[tools: {len(ex.tools)}] " if ex.tools else ""
    return tools + excerpt(ex.messages, limit - len(tools))


class JoinedTexts(Sequence[str]):
    """The dedup view (`joined`) of each conversation, built on demand so no second copy of the data
    is held in memory."""

    def __init__(self, conversations: list[list[dict]]):
        self.conversations = conversations

    def __len__(self) -> int:
        return len(self.conversations)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # indexes only: no slices needed
        return joined(self.conversations[i])
