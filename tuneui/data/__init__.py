"""Loading, kind and format detection, validation and statistics for training data (headless)."""

from tuneui.data.schema import ROLES, Conversation, Message

__all__ = ["ROLES", "Conversation", "Message", "load_conversations", "load_dataset", "load_examples"]


def load_conversations(path, fmt: str = "auto", columns: dict | None = None, skip_bad: bool = False
                       ) -> list[Conversation]:
    """Read a small SFT/plain-text dataset and return its conversations; strict unless `skip_bad` (raises
    DataError naming the first bad line and how many others there are); other kinds are refused."""
    from tuneui.data.loaders import load_conversations as _load

    return _load(path, fmt=fmt, columns=columns, skip_bad=skip_bad)


def load_examples(path, fmt: str = "auto", columns: dict | None = None, skip_bad: bool = False, **kwargs):
    """(examples, source positions, LoadResult) of a small dataset of any kind, in memory."""
    from tuneui.data.loaders import load_examples as _load

    return _load(path, fmt=fmt, columns=columns, skip_bad=skip_bad, **kwargs)


def load_dataset(path, fmt: str = "auto", columns: dict | None = None, **kwargs):
    """Rich, streaming load for the wizard, `tuneui data` and training: a LoadResult (kind and format
    with evidence, counts, problems with line numbers, a preview page); `spool=PATH` also writes every
    usable example there, `progress=callable` reports rows/s and time left."""
    from tuneui.data.loaders import load_dataset as _load

    return _load(path, fmt=fmt, columns=columns, **kwargs)
