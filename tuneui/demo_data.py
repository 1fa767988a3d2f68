"""The bundled sample dataset: a short instruction task whose answers can be checked exactly.

The task is to name the last word of a sentence of 2-12 words, asked in three phrasings. Each
answer follows from the prompt alone, so a held-out exact-match score shows whether fine-tuning
taught the untuned demo model the behaviour (it starts at 0%). About a tenth of the
conversations carry a system prompt and a tenth have two rounds, so loss masking and multi-turn
rendering are exercised too. Generation is seeded and deterministic; the committed
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
SYSTEM_PROMPTS = ("You are a helpful assistant.", "Answer with the result only.")
SAMPLE_SIZE = 4000
SAMPLE_SEED = 1234


PHRASINGS = (
    ("What is the last word of: {}", 2),
    ("Which word comes last in: {}", 1),
    ("Name the final word of this sentence: {}", 1),
)


def _task(rng: random.Random) -> tuple[str, str]:
    # One skill a tiny model learns in a few CPU minutes (find the word at the end), asked in
    # several ways over sentences of 2-12 words, so held-out prompts are new combinations.
    template = rng.choices([t for t, _ in PHRASINGS], weights=[w for _, w in PHRASINGS])[0]
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 12))]
    return template.format(" ".join(words)), words[-1]


def generate(n: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> list[dict]:
    return chat_rows(n, seed, _task, system_prompts=SYSTEM_PROMPTS, two_turns=0.1)


def chat_rows(n: int, seed: int, task, *, system_prompts: tuple[str, ...], two_turns: float) -> list[dict]:
    """`n` seeded conversations of `task(rng) -> (question, answer)` exchanges: one in ten with a system
    prompt, a share `two_turns` with two exchanges. The demo task's file is made by this too, so its
    committed bytes depend on this exact order of random draws."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        messages = []
        if rng.random() < 0.1:
            messages.append({"role": "system", "content": rng.choice(system_prompts)})
        for _ in range(2 if rng.random() < two_turns else 1):
            q, a = task(rng)
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        rows.append({"messages": messages})
    return rows


def write_sample_dataset(path: str | Path, n: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> Path:
    from tuneui.contract.fsutil import atomic_write_text

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate(n, seed))
    return atomic_write_text(Path(path), text)
