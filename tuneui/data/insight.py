"""Token insight for the wizard's Clean step: length statistics with the run's own tokenizer and one
example exactly as it will be trained, from the same encoder training uses."""

from __future__ import annotations

from tuneui.contract.datasets import TokenInsight
from tuneui.data.preview import preview_example
from tuneui.data.schema import Conversation
from tuneui.data.stats import token_stats

# Tokenizing every example of a large file would take longer than the user waits on this screen; a
# seeded sample of this many gives percentiles within a token or two.
SAMPLE = 5000


def token_insight(conversations: list[Conversation], tokenizer, max_seq_length: int, *, tools=None) -> TokenInsight:
    """`tools`: the first example's function definitions, rendered in its preview as training will."""
    stats = token_stats(conversations, tokenizer, max_seq_length, sample=SAMPLE)
    preview = (preview_example(tokenizer, conversations[0], max_seq_length, **({"tools": tools} if tools else {}))
               if conversations else None)
    return TokenInsight(stats=stats, preview=preview, max_seq_length=max_seq_length)
