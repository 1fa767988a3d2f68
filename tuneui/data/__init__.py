"""Loading, format detection, validation and statistics for training data (headless)."""

from tuneui.data.schema import ROLES, Conversation, Message

__all__ = ["ROLES", "Conversation", "Message", "load_conversations"]


def load_conversations(path, fmt: str = "auto", columns: dict | None = None) -> list[Conversation]:
    """Read a dataset file and return its conversations (raises DataError naming file and line)."""
    from tuneui.data.loaders import load_conversations as _load

    return _load(path, fmt=fmt, columns=columns)
