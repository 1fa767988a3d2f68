"""The real-model demo's dataset: write a date given in words as an ISO 8601 date, and nothing else.

Asked "What is March 5, 2021 in ISO format?", SmolLM2-135M-Instruct answers with a sentence
("March 5, 2021 in ISO format is 2021-03-05.") and often a wrong year or day, so its exact-match
score starts near 0. The answer is a strict format, `2021-03-05`, checkable by exact match, which
a short LoRA fine-tune teaches: month names to numbers, zero-padded days, the order, and stopping
right after. Dates come in three written forms and four phrasings, so held-out prompts are new
combinations. A tenth of the conversations carry a system prompt and a twentieth have two rounds,
so loss masking and multi-turn rendering are exercised too. Generation is seeded and
deterministic; the committed assets/demo_dates.jsonl is exactly `write_dataset(path)`.
"""

from __future__ import annotations

import calendar
import json
import random
from pathlib import Path

# Spelled out rather than taken from calendar.month_name, which follows the locale (LC_TIME).
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
FORMS = ("{day} {month} {year}", "{month} {day}, {year}", "{day} {mon} {year}")
PHRASINGS = (
    "Convert {date} to an ISO 8601 date.",
    "What is {date} in ISO format?",
    "Write {date} as an ISO date.",
    "ISO date for {date}, please.",
)
SYSTEM_PROMPTS = ("You are a helpful assistant.", "Answer with the date only.")
YEARS = (1900, 2099)
SIZE = 1000
SEED = 20250207
FILE_NAME = "demo_dates.jsonl"


def iso_date(year: int, month: int, day: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}"


def written_date(year: int, month: int, day: int, form: str) -> str:
    name = MONTHS[month - 1]
    return form.format(day=day, month=name, mon=name[:3], year=year)


def draw(rng: random.Random) -> tuple[int, int, int, str, str]:
    """(year, month, day, the date as written, the question): one draw of the task. The preference
    demo (tuneui.demo_preference) draws its prompts here too, so both demos ask the same questions."""
    year = rng.randint(*YEARS)
    month = rng.randint(1, 12)
    day = rng.randint(1, calendar.monthrange(year, month)[1])
    date = written_date(year, month, day, rng.choice(FORMS))
    return year, month, day, date, rng.choice(PHRASINGS).format(date=date)


def _task(rng: random.Random) -> tuple[str, str]:
    year, month, day, _, question = draw(rng)
    return question, iso_date(year, month, day)


def generate(n: int = SIZE, seed: int = SEED) -> list[dict]:
    from tuneui.demo_data import chat_rows

    return chat_rows(n, seed, _task, system_prompts=SYSTEM_PROMPTS, two_turns=0.05)


def dataset_path() -> Path:
    from tuneui.contract import paths

    return paths.package_assets() / FILE_NAME


def write_dataset(path: str | Path, n: int = SIZE, seed: int = SEED) -> Path:
    from tuneui.contract.fsutil import atomic_write_text

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate(n, seed))
    return atomic_write_text(Path(path), text)
