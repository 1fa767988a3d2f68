"""The preference demo's pairs: the date task's question, the right ISO date, and a wrong answer.

The prompts and the right answers come from the SFT demo's own generator (`tuneui.demo_task.draw`),
so DPO teaches the same task by contrast. Each rejected reply is one of the mistakes the base
SmolLM2-135M-Instruct makes on these questions (greedy replies, recorded in benchmarks/README.md):
a wrong year ("14 June 2080" -> 2022-06-14), the date in words (alone, restated, or before an answer),
a sentence around the date, the right date and then no stop, a compact or US-style numeric date
(20190830, 7/19/1929); plus the near misses a date converter makes, day and month swapped and a day
off by one, the same length as the right answer, so they cannot be ranked by length alone.

Training and held-out pairs ask about different dates (and so different questions). The files are
written to the cache on first use and rewritten whenever the generator's output changes.
"""

from __future__ import annotations

import calendar
import json
import random
from pathlib import Path

from tuneui.demo_task import draw, iso_date

TRAIN_PAIRS = 480
HELD_OUT_PAIRS = 64
SEED = 20261202
# kind -> weight. The base model's own preference decides: it ranks the right date above the date in
# words only 3 times in 8, above the date restated twice, a US date or a wrong year 5-6 times in 8, above a
# swapped, off-by-one, compact or runaway answer always (summed log-probabilities, benchmarks/README.md).
# The mistakes it prefers weigh most, so the pairs have something to teach it; the others stay, lighter.
MISTAKES: dict[str, int] = {"words_only": 3, "restated": 2, "us_numeric": 2, "wrong_year": 2, "sentence": 1,
                            "date_colon": 1, "swapped": 1, "off_by_one": 1, "compact": 1, "no_stop": 1}
TRAIN_NAME, HELD_OUT_NAME = "demo-preference", "demo-preference-val"


def _other_day(year: int, month: int, day: int) -> int:
    last = calendar.monthrange(year, month)[1]
    return day + 1 if day == 1 or (day < last and day % 2) else day - 1


def wrong_answer(kind: str, year: int, month: int, day: int, written: str) -> str:
    """The rejected reply of `kind` for the date; never the right ISO date."""
    if kind == "swapped":  # only a date when the day could be a month; else the off-by-one near miss
        return iso_date(year, day, month) if day <= 12 and day != month else iso_date(year, month, _other_day(
            year, month, day))
    if kind == "off_by_one":
        return iso_date(year, month, _other_day(year, month, day))
    if kind == "wrong_year":  # the base model writes a recent year in place of the one asked for
        recent = 2022 if year != 2022 else 2023
        return iso_date(recent, month, min(day, calendar.monthrange(recent, month)[1]))
    if kind == "compact":
        return f"{year:04d}{month:02d}{day:02d}"
    if kind == "us_numeric":
        return f"{month}/{day}/{year}"
    if kind == "sentence":
        return f"{written} in ISO 8601 format is {iso_date(year, month, day)}."
    if kind == "no_stop":
        return f"{iso_date(year, month, day)}\n\nThis is a date in ISO 8601 format, which is a standard reference"
    if kind == "restated":
        return f"{written}: {written}"
    if kind == "words_only":
        return written
    if kind == "date_colon":  # "Feb 1929: 7/19/1929": the date in words, then an answer
        return f"{written}: {iso_date(year, month, day)}"
    raise ValueError(f"unknown mistake kind {kind!r}")


def generate(train: int = TRAIN_PAIRS, held_out: int = HELD_OUT_PAIRS, seed: int = SEED
             ) -> tuple[list[dict], list[dict]]:
    """(training pairs, held-out pairs), TRL's conversational preference rows, no date in both."""
    rng = random.Random(seed)
    kinds, weights = list(MISTAKES), list(MISTAKES.values())
    seen: set[tuple[int, int, int]] = set()
    rows: list[dict] = []
    while len(rows) < train + held_out:
        year, month, day, written, question = draw(rng)
        kind = rng.choices(kinds, weights=weights)[0]
        if (year, month, day) in seen:
            continue
        seen.add((year, month, day))
        rows.append({"prompt": [{"role": "user", "content": question}],
                     "chosen": [{"role": "assistant", "content": iso_date(year, month, day)}],
                     "rejected": [{"role": "assistant", "content": wrong_answer(kind, year, month, day, written)}],
                     "mistake": kind})
    return rows[:train], rows[train:]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def ensure_files(folder: Path | None = None) -> tuple[Path, Path]:
    """(training file, held-out file), written atomically where missing or different."""
    from tuneui.contract import paths
    from tuneui.contract.fsutil import atomic_write_text

    folder = folder or paths.cache_dir() / "demo-preference"
    out = []
    for name, rows in zip((TRAIN_NAME, HELD_OUT_NAME), generate()):
        path, text = folder / f"{name}.jsonl", _jsonl(rows)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        out.append(path)
    return out[0], out[1]
