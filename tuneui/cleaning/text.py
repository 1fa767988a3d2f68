"""Text views of a conversation shared by the filters: the words, a normalised key, a short excerpt."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from tuneui.data.schema import word_count  # noqa: F401 - the filters count words as the statistics do

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def joined(conv: list[dict]) -> str:
    return "\n".join(m["content"] for m in conv)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def exact_key(conv: list[dict]) -> bytes:
    """Equal for conversations that differ only in case, whitespace or Unicode compatibility forms."""
    parts = []
    for m in conv:
        text = m["content"]
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        parts.append(m["role"] + "\x1f" + " ".join(text.lower().split()))
    return hashlib.blake2b("\x1e".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def excerpt(conv: list[dict], limit: int = 160) -> str:
    """One line the report can show: `user: ... | assistant: ...`, shortened in the middle."""
    text = " | ".join(f"{m['role']}: {_WS.sub(' ', m['content']).strip()}" for m in conv)
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return text[:half] + " ... " + text[-half:]


class JoinedTexts(Sequence[str]):
    """The dedup view (`joined`) of each conversation, built on demand so no second copy of the data
    is held in memory."""

    def __init__(self, conversations: list[list[dict]]):
        self.conversations = conversations

    def __len__(self) -> int:
        return len(self.conversations)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # indexes only: no slices needed
        return joined(self.conversations[i])
