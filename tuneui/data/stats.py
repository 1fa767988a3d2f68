"""Length statistics: percentiles and a histogram, in words (no tokenizer needed) or in tokens of
the chosen tokenizer, with what truncation at max_seq_length would cut.

Token counts come from `tuneui.templates.encode_conversation`, the exact encoding training
uses (chat template, masking), so "answer cut" here means trained tokens really lost. Examples the
masking refuses are counted by reason (with the first one's row and message), never raised.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuneui.contract import defaults
from tuneui.contract.datasets import LengthStats, Refusal, TokenStats
from tuneui.data.schema import Conversation, word_count
from tuneui.templates import RenderOptions

if TYPE_CHECKING:
    import numpy as np

PERCENTILES = (50, 90, 95, 99)
HIST_BINS = 20


def length_stats(lengths: Sequence[int] | np.ndarray, unit: str, bins: int = HIST_BINS) -> LengthStats:
    if len(lengths) == 0:
        return LengthStats(unit, 0)
    import numpy as np

    arr = np.asarray(lengths)
    top = int(arr.max())
    width = max(1, -(-top // bins))  # integer-width bins so edges read as whole lengths
    edges = [i * width for i in range(bins + 1)]
    counts = np.histogram(arr, bins=edges)[0].tolist()
    return LengthStats(
        unit=unit, count=len(lengths), min=int(arr.min()), mean=round(float(arr.mean()), 2), max=top,
        total=int(arr.sum()),
        percentiles={f"p{p}": int(np.percentile(arr, p, method="inverted_cdf")) for p in PERCENTILES},
        histogram={"edges": edges, "counts": counts},
    )


def word_stats(conversations: list[Conversation]) -> LengthStats:
    return length_stats([word_count(c) for c in conversations], "words")


def token_stats(
    conversations: list[Conversation], tokenizer, max_seq_length: int = defaults.MAX_SEQ_LENGTH, sample: int | None = 5000,
    seed: int = 0, options: RenderOptions | None = None, tools: list[list[dict] | None] | None = None,
) -> TokenStats:
    """Token lengths of every example (or of a seeded sample of `sample` examples: percentiles need
    no more, and rendering the chat template costs about a millisecond per example) and what
    truncation to `max_seq_length` would cut: prompt tokens only, part of the answer, or all of it.
    `options` are the run's RenderOptions (fold_system changes the rendering); `tools`, parallel to
    `conversations`, each example's function definitions (they count: training renders them)."""
    from tuneui.templates import IGNORE_INDEX, MaskingRefused, encode_conversation

    idx = list(range(len(conversations)))
    if sample is not None and len(idx) > sample:
        idx = sorted(random.Random(seed).sample(idx, sample))
    lengths: list[int] = []
    st = TokenStats(LengthStats("tokens", 0), max_seq_length, measured=len(idx), total=len(conversations))
    refusals: dict[str, Refusal] = {}
    for i in idx:
        try:
            enc = encode_conversation(tokenizer, conversations[i], max_seq_length=2**31 - 1,
                                      options=options or RenderOptions(), tools=tools[i] if tools else None)
        except MaskingRefused as exc:
            refusal = refusals.setdefault(exc.reason, Refusal(exc.reason, 0, i + 1, exc.message))
            refusal.count += 1
            continue
        n = len(enc.input_ids)
        lengths.append(n)
        trained = [t for t, lab in enumerate(enc.labels) if lab != IGNORE_INDEX]
        st.trained_tokens += len(trained)
        if n <= max_seq_length:
            continue
        st.over_max += 1
        st.tokens_cut += n - max_seq_length
        cut = sum(1 for t in trained if t >= max_seq_length)
        st.trained_tokens_cut += cut
        if trained and cut == len(trained):
            st.answer_lost += 1
        elif cut:
            st.answer_cut += 1
        else:
            st.prompt_only_cut += 1
    st.lengths = length_stats(lengths, "tokens")
    st.refusals = list(refusals.values())
    return st
