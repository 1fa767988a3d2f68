"""Length statistics: percentiles and a histogram, in words (no tokenizer needed) or in tokens of
the chosen tokenizer, with what truncation at max_seq_length would cut.

Token counts come from `tuneui.training.tokenize.encode_conversation`, the exact encoding training
uses (chat template, masking), so "answer cut" here means trained tokens really lost.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from tuneui.data.schema import Conversation

PERCENTILES = (50, 90, 95, 99)
HIST_BINS = 20


@dataclass
class LengthStats:
    unit: str  # "words" | "tokens"
    count: int
    min: int = 0
    mean: float = 0.0
    max: int = 0
    total: int = 0
    percentiles: dict[str, int] = field(default_factory=dict)  # "p50" -> length
    histogram: dict[str, list] = field(default_factory=lambda: {"edges": [], "counts": []})

    def to_dict(self) -> dict:
        return asdict(self)


def length_stats(lengths: list[int], unit: str, bins: int = HIST_BINS) -> LengthStats:
    if not lengths:
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
    from tuneui.cleaning.text import word_count

    return length_stats([word_count(c) for c in conversations], "words")


@dataclass
class TokenStats:
    lengths: LengthStats
    max_seq_length: int
    over_max: int = 0  # examples longer than max_seq_length
    answer_cut: int = 0  # over-long examples that lose some trained (assistant) tokens
    answer_lost: int = 0  # ... that lose all of them: the prompt alone fills the window
    prompt_only_cut: int = 0  # ... that lose only untrained tokens (a trailing user turn)
    tokens_cut: int = 0
    trained_tokens: int = 0
    trained_tokens_cut: int = 0
    measured: int = 0  # examples tokenized (a seeded sample of large datasets)
    total: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lengths"] = self.lengths.to_dict()
        d["over_max_fraction"] = round(self.over_max / self.measured, 4) if self.measured else 0.0
        return d


def token_stats(
    conversations: list[Conversation], tokenizer, max_seq_length: int = 1024, sample: int | None = 5000,
    seed: int = 0,
) -> TokenStats:
    """Token lengths of every example (or of a seeded sample of `sample` examples: percentiles need
    no more, and rendering the chat template costs about a millisecond per example) and what
    truncation to `max_seq_length` would cut: prompt tokens only, part of the answer, or all of it."""
    from tuneui.training.tokenize import IGNORE_INDEX, encode_conversation

    idx = list(range(len(conversations)))
    if sample is not None and len(idx) > sample:
        idx = sorted(random.Random(seed).sample(idx, sample))
    lengths: list[int] = []
    st = TokenStats(LengthStats("tokens", 0), max_seq_length, measured=len(idx), total=len(conversations))
    for i in idx:
        enc = encode_conversation(tokenizer, conversations[i], max_seq_length=2**31 - 1)
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
    return st
