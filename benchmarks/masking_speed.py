"""Loss-masking speed: tuneui.templates (one rendering) against the prefix re-rendering it replaces.

Both encoders turn conversations into input_ids + labels with a real vocabulary: SmolLM2-135M-
Instruct's tokenizer (stored in tests/data/tokenizers) and its own ChatML template, a template on
which the old prefix method is still correct, so the comparison is like for like.

- typical: 1,000 generated conversations (half with a system prompt, 1-3 exchanges, 15-60-word
  questions, 40-200-word answers); conversations per second, for the whole encoding (render, find
  spans, tokenize, label) and for span finding alone (render + spans, no tokenizer): on short
  conversations the tokenizer dominates both methods, so the second row isolates what changed.
- long: one conversation of N messages (user/assistant alternating). The old method re-renders
  every prefix, so its cost grows with N squared: it is timed at the smaller sizes only, the new
  one at every size including 10,000 messages.

Rounds are interleaved (old, new, old, new, ...) so load on a shared machine hits both alike; each
figure is the median over rounds, with the spread (min-max).

  python benchmarks/masking_speed.py            # 5 rounds; long sizes 250, 500, 1000 (+10,000 new only)
  python benchmarks/masking_speed.py --full     # 7 rounds; old also at 2000

Ends with one JSON line: typical_conversations_per_s, old_typical_conversations_per_s, typical_speedup,
typical_span_finding_speedup, seconds_10k_messages, seconds_10k_messages_span_finding, speedup_1000_messages,
growth_exponent_new, growth_exponent_old.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = [
    "the", "of", "and", "to", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are", "with", "as",
    "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "word", "but", "what", "some",
    "we", "can", "out", "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an",
    "each", "she", "which", "do", "their", "time", "if", "will", "way", "about", "many", "then", "them",
    "write", "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has",
    "look", "more", "day", "could", "go", "come", "did", "number", "sound", "no", "most", "people", "my",
    "over", "know", "water", "than", "call", "first", "who", "may", "down", "side", "been", "now", "find",
    "any", "new", "work", "part", "take", "get", "place", "made", "live", "where", "after", "back", "little",
    "only", "round", "man", "year", "came", "show", "every", "good", "me", "give", "our", "under", "name",
    "very", "through", "just", "form", "sentence", "great", "think", "say", "help", "low", "line", "differ",
    "turn", "cause", "much", "mean", "before", "move", "right", "boy", "old", "too", "same", "tell", "does",
    "set", "three", "want", "air", "well", "also", "play", "small", "end", "put", "home", "read", "hand",
    "port", "large", "spell", "add", "even", "land", "here", "must", "big", "high", "such", "follow", "act",
    "why", "ask", "men", "change", "went", "light", "kind", "off", "need", "house", "picture", "try", "us",
    "again", "animal", "point", "mother", "world", "near", "build", "self", "earth",
]


def tokenizer():
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    raw = lzma.decompress((ROOT / "tests/data/tokenizers/smollm2-135m-instruct.tokenizer.json.xz").read_bytes())
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(raw.decode()), bos_token="<|im_start|>",
                                  eos_token="<|im_end|>", unk_token="<|endoftext|>")
    tok.chat_template = (ROOT / "tests/data/chat_templates/smollm2-instruct.jinja").read_text(encoding="utf-8")
    return tok


# The prefix re-rendering encoder this package replaced (tuneui/data/tokenize.py, removed), its
# logic kept unchanged here as the benchmark's baseline: render the prefix before and up to each reply, train
# the difference, fall back to searching for the reply text when the prefix property breaks.
def old_spans(tok, messages) -> tuple[str, list[tuple[int, int]]]:
    render = lambda msgs, gen: tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
    full = render(messages, False)
    spans: list[tuple[int, int]] = []
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        before = render(messages[:i], True) if i else ""
        upto = render(messages[: i + 1], False)
        if full.startswith(upto) and upto.startswith(before):
            spans.append((len(before), len(upto)))
            continue
        start = full.find(msg["content"], spans[-1][1] if spans else 0)
        if start >= 0:
            spans.append((start, start + len(msg["content"])))
    return full, spans


def old_encode(tok, messages, max_seq_length: int):
    text, spans = old_spans(tok, messages)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    labels = [-100] * len(ids)
    si = 0
    for t, (a, b) in enumerate(offsets):
        while si < len(spans) and spans[si][1] <= a:
            si += 1
        if si < len(spans) and a >= spans[si][0] and b <= spans[si][1] and b > a:
            labels[t] = ids[t]
    return ids[:max_seq_length], labels[:max_seq_length], offsets[:max_seq_length]


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "."


def typical(n: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        conv = [{"role": "system", "content": _text(rng, 8, 25)}] if rng.random() < 0.5 else []
        for _ in range(rng.randint(1, 3)):
            conv += [{"role": "user", "content": _text(rng, 15, 60)},
                     {"role": "assistant", "content": _text(rng, 40, 200)}]
        out.append(conv)
    return out


def long(messages: int) -> list[dict]:
    rng = random.Random(messages)
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": _text(rng, 5, 20)} for i in range(messages)]


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _med(xs):
    return statistics.median(xs), min(xs), max(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--rounds", type=int)
    args = ap.parse_args()
    rounds = args.rounds or (7 if args.full else 5)
    old_sizes = [250, 500, 1000] + ([2000] if args.full else [])
    new_sizes = old_sizes + [10_000]

    from tuneui.templates import encode_conversation as new_encode
    from tuneui.templates import render_spans as new_spans

    tok = tokenizer()
    convs = typical(1000)
    longs = {n: long(n) for n in new_sizes}
    new_encode(tok, convs[0], 1 << 30)  # learn the template once, outside the timings
    # Same tokens either way (labels differ only where the old method was wrong).
    assert new_encode(tok, convs[1], 1 << 30).input_ids == old_encode(tok, convs[1], 1 << 30)[0]

    t_new, t_old, s_new, s_old = [], [], [], []
    l_new = {n: [] for n in new_sizes}
    l_old = {n: [] for n in old_sizes}
    spans_10k = []
    for r in range(rounds):
        t_old.append(_time(lambda: [old_encode(tok, c, 1 << 30) for c in convs]))
        t_new.append(_time(lambda: [new_encode(tok, c, 1 << 30) for c in convs]))
        s_old.append(_time(lambda: [old_spans(tok, c) for c in convs]))
        s_new.append(_time(lambda: [new_spans(tok, c) for c in convs]))
        for n in new_sizes:
            if n in l_old:
                l_old[n].append(_time(lambda conv=longs[n]: old_encode(tok, conv, 1 << 30)))
            l_new[n].append(_time(lambda conv=longs[n]: new_encode(tok, conv, 1 << 30)))
        spans_10k.append(_time(lambda: new_spans(tok, longs[10_000])))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)

    print(f"\nLoss masking, SmolLM2 tokenizer + ChatML template, {rounds} interleaved rounds, median (min-max)\n")
    print(f"{'workload':<28}{'old: prefix re-render':>26}{'new: one rendering':>26}{'ratio':>9}")
    m_old, m_new = _med(t_old)[0], _med(t_new)[0]
    cps = lambda ts: f"{1000 / _med(ts)[0]:.0f} conv/s ({1000 / max(ts):.0f}-{1000 / min(ts):.0f})"
    print(f"{'1,000 typical conversations':<28}{cps(t_old):>26}{cps(t_new):>26}{m_old / m_new:>8.2f}x")
    spans_ratio = _med(s_old)[0] / _med(s_new)[0]
    print(f"{'  span finding only':<28}{cps(s_old):>26}{cps(s_new):>26}{spans_ratio:>8.2f}x")
    sec = lambda ts: "{:.3f} s ({:.3f}-{:.3f})".format(*_med(ts))
    for n in new_sizes:
        old_cell = sec(l_old[n]) if n in l_old else "not run (quadratic)"
        ratio = f"{_med(l_old[n])[0] / _med(l_new[n])[0]:>8.1f}x" if n in l_old else ""
        print(f"{f'one conversation, {n:,} msgs':<28}{old_cell:>26}{sec(l_new[n]):>26}{ratio:>9}")
    print(f"{'  span finding only':<28}{'':>26}{sec(spans_10k):>26}   (the rest is the tokenizer)")

    def exponent(series, a, b):
        return math.log(_med(series[b])[0] / _med(series[a])[0]) / math.log(b / a)

    e_new = exponent(l_new, old_sizes[0], 10_000)
    e_old = exponent(l_old, old_sizes[0], old_sizes[-1])
    print(f"\ngrowth exponent (time ~ messages^k): old k={e_old:.2f} ({old_sizes[0]}-{old_sizes[-1]}), "
          f"new k={e_new:.2f} ({old_sizes[0]}-10,000)")
    print(json.dumps({
        "typical_conversations_per_s": round(1000 / m_new, 1),
        "old_typical_conversations_per_s": round(1000 / m_old, 1),
        "typical_speedup": round(m_old / m_new, 2),
        "typical_span_finding_speedup": round(spans_ratio, 2),
        "seconds_10k_messages": round(_med(l_new[10_000])[0], 3),
        "seconds_10k_messages_span_finding": round(_med(spans_10k)[0], 3),
        "speedup_1000_messages": round(_med(l_old[1000])[0] / _med(l_new[1000])[0], 1),
        "growth_exponent_new": round(e_new, 2),
        "growth_exponent_old": round(e_old, 2),
    }))


if __name__ == "__main__":
    main()
