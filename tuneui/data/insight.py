"""Token insight for the wizard's Clean step: length statistics with the run's own tokenizer, the
examples the chat template refuses (with the documented remedy), and one example exactly as it will
be trained, from the same encoder training uses."""

from __future__ import annotations

from tuneui.contract.datasets import TokenInsight
from tuneui.data.preview import preview_first
from tuneui.data.schema import Conversation
from tuneui.data.stats import token_stats
from tuneui.data.template_check import remedy_for
from tuneui.templates import RenderOptions

# Tokenizing every example of a large file would take longer than the user waits on this screen; a
# seeded sample of this many gives percentiles within a token or two.
SAMPLE = 5000


def token_insight(conversations: list[Conversation], tokenizer, max_seq_length: int, *,
                  options: RenderOptions | None = None,
                  tools: list[list[dict] | None] | None = None,
                  shown: list[Conversation] | None = None) -> TokenInsight:
    """`tools` (parallel to `conversations`): each example's function definitions, rendered in the
    preview as training will render them. `shown`: what the preview renders instead, when it is not
    what the lengths are measured on (a pair's chosen side, where the lengths take the longer side)."""
    options = options or RenderOptions()
    stats = token_stats(conversations, tokenizer, max_seq_length, sample=SAMPLE, options=options, tools=tools)
    for refusal in stats.refusals:
        row_tools = tools[refusal.row - 1] if tools else None
        refusal.remedy = remedy_for(tokenizer, conversations[refusal.row - 1], refusal.reason, options, row_tools)
    preview = preview_first(tokenizer, shown or conversations, max_seq_length, options=options, tools=tools)
    return TokenInsight(stats=stats, preview=preview, max_seq_length=max_seq_length)
