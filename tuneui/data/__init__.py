"""Loading, format detection, validation and statistics for training data (headless)."""

from tuneui.data.schema import ROLES, Conversation, Message

__all__ = ["ROLES", "Conversation", "Message", "load_conversations", "load_dataset"]


def load_conversations(path, fmt: str = "auto", columns: dict | None = None, skip_bad: bool = False
                       ) -> list[Conversation]:
    """Read a dataset and return its conversations; strict unless `skip_bad` (raises DataError naming
    the first bad line and how many others there are)."""
    from tuneui.data.loaders import load_conversations as _load

    return _load(path, fmt=fmt, columns=columns, skip_bad=skip_bad)


def load_dataset(path, fmt: str = "auto", columns: dict | None = None):
    """Rich load for the UI and `tuneui data inspect`: a LoadResult (conversations, source lines,
    detected format with confidence and evidence, problems with line numbers)."""
    from tuneui.data.loaders import load_dataset as _load

    return _load(path, fmt=fmt, columns=columns)
