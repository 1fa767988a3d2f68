"""The real-model demo's date task: the committed file is what the generator writes, and every
reference answer is the date the prompt names (checked by an independent parser)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime

from tuneui.demo_task import FORMS, PHRASINGS, dataset_path, generate

# The written forms, as strptime patterns (C-locale month names, independent of demo_task).
PATTERNS = ("%d %B %Y", "%B %d, %Y", "%d %b %Y")


def _parse(text: str) -> datetime:
    for pattern in PATTERNS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise AssertionError(f"no written date form matches {text!r}")


def _date_in(question: str) -> str:
    for phrasing in PHRASINGS:
        head, tail = phrasing.split("{date}")
        if question.startswith(head) and question.endswith(tail):
            return question[len(head) : len(question) - len(tail)]
    raise AssertionError(f"no phrasing matches {question!r}")


def test_committed_dataset_is_exactly_what_the_generator_writes():
    rows = [json.loads(line) for line in dataset_path().read_text(encoding="utf-8").splitlines()]
    assert rows == generate()


def test_every_answer_is_the_iso_form_of_the_date_asked_for():
    seen_forms, seen_phrasings = set(), set()
    for row in generate():
        msgs = row["messages"]
        for user, reply in itertools.pairwise(msgs):
            if user["role"] != "user":
                continue
            assert reply["role"] == "assistant"
            written = _date_in(user["content"])
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", reply["content"])
            assert _parse(written).date().isoformat() == reply["content"]
            seen_forms.add(next(p for p in PATTERNS if _try(written, p)))
            seen_phrasings.add(next(p for p in PHRASINGS if user["content"].startswith(p.split("{date}")[0])))
    assert len(seen_forms) == len(FORMS) and len(seen_phrasings) == len(PHRASINGS)


def _try(text: str, pattern: str) -> bool:
    try:
        datetime.strptime(text, pattern)
        return True
    except ValueError:
        return False


def test_the_mix_has_system_prompts_two_round_chats_and_no_repeated_question():
    rows = generate()
    assert 50 <= sum(r["messages"][0]["role"] == "system" for r in rows) <= 150
    assert 20 <= sum(sum(m["role"] == "assistant" for m in r["messages"]) == 2 for r in rows) <= 80
    questions = [r["messages"][-2]["content"] for r in rows]
    assert len(set(questions)) > 0.99 * len(questions)
    assert generate(50, seed=1) != generate(50, seed=2) and generate(50, seed=1) == generate(50, seed=1)
