"""Reading a small LoadResult's examples in tests: a load carries a preview page, which holds every
example of a small file."""

from __future__ import annotations


def convs(res) -> list[list[dict]]:
    """The conversations of a small, fully previewed load."""
    assert res.complete, f"the preview holds {len(res.preview)} of {res.examples} examples"
    return [ex.messages for ex in res.preview]
