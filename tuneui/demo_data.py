"""The bundled sample dataset: short instruction tasks whose answers can be checked exactly.

Four tasks of varied length (2-8 items each), all answerable from the prompt alone, so a held-out
exact-match score shows whether fine-tuning taught the model the behaviour:
  translate  a fixed word-for-word code ("Zorbish") applied to new sentences
  reverse    the words of a list in reverse order
  largest    the largest number in a list
  last       the last word of a sentence
About a tenth of the conversations carry a system prompt and a tenth have two rounds, so masking
and multi-turn rendering are exercised too. Generation is seeded and deterministic; the committed
assets/sample_dataset.jsonl is exactly `write_sample_dataset(path)`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (
    "the red blue green small big cat dog bird fish tree river stone house road sun moon star "
    "runs jumps sleeps eats sees finds likes holds quick slow old new happy sad bright dark cold "
    "warm apple bread water fire wind"
).split()
ZORBISH = (
    "ka zel mur fen tob rix vol pim dra quo sul bex nor jat wim gru hal cep yod lun tez bao fip "
    "ruk sem dov kli orp zun max wep gai lir nuv pex tas jul mib sor dax vun"
).split()
CODE = dict(zip(WORDS, ZORBISH))
SYSTEM_PROMPTS = ("You are a helpful assistant.", "Answer with the result only.")
SAMPLE_SIZE = 4000
SAMPLE_SEED = 1234


def _task(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("translate", "reverse", "largest", "last"))
    n = rng.randint(2, 8)
    if kind == "translate":
        words = [rng.choice(WORDS) for _ in range(n)]
        return f"Translate to Zorbish: {' '.join(words)}", " ".join(CODE[w] for w in words)
    if kind == "reverse":
        words = rng.sample(WORDS, n)
        return f"Reverse the order of these words: {' '.join(words)}", " ".join(reversed(words))
    if kind == "largest":
        nums = rng.sample(range(1, 100), max(n, 3))
        return f"What is the largest number in this list: {', '.join(map(str, nums))}?", str(max(nums))
    words = [rng.choice(WORDS) for _ in range(n)]
    return f"What is the last word of: {' '.join(words)}", words[-1]


def generate(n: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        messages = []
        if rng.random() < 0.1:
            messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
        for _ in range(2 if rng.random() < 0.1 else 1):
            q, a = _task(rng)
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        rows.append({"messages": messages})
    return rows


def write_sample_dataset(path: str | Path, n: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> Path:
    from tuneui.fsutil import atomic_write_text

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate(n, seed))
    return atomic_write_text(Path(path), text)
