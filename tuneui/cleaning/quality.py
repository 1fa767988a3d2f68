"""Gopher quality and repetition rules for plain-text documents, with the thresholds published in
Rae et al. 2021 ("Scaling Language Models: Methods, Analysis & Insights from Training Gopher",
appendix A.1.1). `gopher_reason` returns why a document fails, or None when it passes.
"""

from __future__ import annotations

import re
from collections import Counter

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "●", "○", "▪", "◦", "‣", "-", "*")
TOP_NGRAM_MAX = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAM_MAX = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
_PARAGRAPHS = re.compile(r"\n\s*\n")


def _dup_fraction(items: list[str]) -> tuple[float, float]:
    """Fraction of items that repeat an earlier one, and of the characters they hold."""
    seen: set[str] = set()
    dup_n = dup_chars = 0
    total_chars = sum(len(x) for x in items) or 1
    for x in items:
        if x in seen:
            dup_n += 1
            dup_chars += len(x)
        else:
            seen.add(x)
    return dup_n / max(len(items), 1), dup_chars / total_chars


def _top_ngram_fraction(words: list[str], n: int, total_chars: int) -> float:
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0.0
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    return sum(len(w) for w in gram) * count / total_chars


def _dup_ngram_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters of words covered by an n-gram that already occurred earlier in the document."""
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        if gram in seen:
            for k in range(i, i + n):
                covered[k] = True
        else:
            seen.add(gram)
    return sum(len(w) for w, c in zip(words, covered) if c) / total_chars


def gopher_reason(text: str, min_words: int = 50, max_words: int = 100_000) -> str | None:
    words = text.split()
    n = len(words)
    if n < min_words or n > max_words:
        return f"{n} words (keeps {min_words}-{max_words})"
    mean_len = sum(len(w) for w in words) / n
    if not 3 <= mean_len <= 10:
        return f"mean word length {mean_len:.1f} (keeps 3-10)"
    symbols = text.count("#") + text.count("...") + text.count("…")
    if symbols / n > 0.1:
        return f"symbol-to-word ratio {symbols / n:.2f} (max 0.1)"
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if lines:
        if sum(ln.startswith(BULLETS) for ln in lines) / len(lines) > 0.9:
            return "over 90% of lines start with a bullet"
        if sum(ln.endswith(("...", "…")) for ln in lines) / len(lines) > 0.3:
            return "over 30% of lines end with an ellipsis"
    alpha = sum(1 for w in words if any(c.isalpha() for c in w)) / n
    if alpha < 0.8:
        return f"only {alpha:.0%} of words contain a letter (min 80%)"
    lower = [w.lower() for w in words]
    if len(STOP_WORDS.intersection(lower)) < 2:
        return "fewer than 2 common English stop words"
    frac_lines, frac_line_chars = _dup_fraction(lines)
    if frac_lines > 0.3 or frac_line_chars > 0.2:
        return f"repeated lines ({frac_lines:.0%} of lines, {frac_line_chars:.0%} of characters)"
    paras = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
    frac_paras, frac_para_chars = _dup_fraction(paras)
    if frac_paras > 0.3 or frac_para_chars > 0.2:
        return f"repeated paragraphs ({frac_paras:.0%} of paragraphs, {frac_para_chars:.0%} of characters)"
    total_chars = sum(len(w) for w in lower) or 1
    for k, limit in TOP_NGRAM_MAX.items():
        frac = _top_ngram_fraction(lower, k, total_chars)
        if frac > limit:
            return f"most frequent {k}-gram covers {frac:.0%} of characters (max {limit:.0%})"
    for k, limit in DUP_NGRAM_MAX.items():
        frac = _dup_ngram_fraction(lower, k, total_chars)
        if frac > limit:
            return f"repeated {k}-grams cover {frac:.0%} of characters (max {limit:.0%})"
    return None
