"""Cleaning that fits the data: web-text rules for text corpora only, PII masking that leaves code
alone, boilerplate that never removes an identity answer, preference pairs cleaned and split as pairs,
and a filter that would remove a third of the data flagged with examples."""

from __future__ import annotations

import json

from tuneui.cleaning import CleanOptions, clean, train_val_split
from tuneui.contract.datasets import Example


def chat(user: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def only(**on) -> CleanOptions:
    off = dict(fix_encoding=False, empty_turns=False, pii="off", boilerplate=False, quality=False, min_length=0,
               max_length=None, exact_dedup=False, near_dedup=False, pairs=False)
    return CleanOptions.from_dict(off | on)


def test_pii_in_code_is_left_alone_unless_asked():
    fenced = "Use this:\n```python\nEMAIL = re.compile(r'[\\w.]+@example\\.com')\nsend('ops@example.com')\n```"
    inline = "Connect with `ssh admin@10.0.0.12` from the bastion."
    prose = "Write to jane.doe@example.org or call the server at 10.0.0.12."
    data = [chat("regex?", fenced), chat("how?", inline), chat("contact?", prose)]
    res = clean(data, only(pii="mask"))
    assert res.kept[0] == data[0] and res.kept[1] == data[1]
    assert res.kept[2][1]["content"] == "Write to <EMAIL> or call the server at <IP_ADDRESS>."
    forced = clean(data, only(pii="mask", pii_in_code=True))
    assert "<EMAIL>" in forced.kept[0][1]["content"] and "<IP_ADDRESS>" in forced.kept[1][1]["content"]
    key = "sk-proj-Ab3dEf5gH7iJ9kL1mN3oP5qR7s"
    assert key not in clean([chat("key?", f"```\nOPENAI_API_KEY={key}\n```")], only(pii="mask")).kept[0][1]["content"]


def test_a_url_path_is_not_a_secret():
    url = "https://upload.wikimedia.org/wikipedia/commons/a/a1/Vincent_van_Gogh_-_Self-Portrait_-_Google_Art_059.jpg"
    assert clean([chat(f"Describe {url}", "A painting.")], only(pii="mask")).kept[0][0]["content"].endswith(".jpg")


def test_identity_answers_stay_and_hedged_refusals_go():
    data = [chat("Who are you?", "I am an AI assistant named Pico, developed by Example Labs."),
            chat("hi", "Hello! I am Pico, an AI assistant. How can I help you today?"),
            chat("Do you have feelings?", "As an AI, I don't have feelings, but I am glad to help."),
            chat("Draw a cat.", "I'm sorry, but as an AI language model, I cannot draw pictures."),
            chat("Plan my day.", "As an AI language model, I don't have access to your calendar.")]
    res = clean(data, only(boilerplate=True))
    assert res.kept == data[:3] and res.report.filter("boilerplate").removed == 2


def test_undefined_is_an_answer_and_an_empty_reply_among_others_is_not_trained():
    data = [chat("What does typeof give for a variable never assigned?", "undefined"),
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""},
             {"role": "user", "content": "Still there?"}, {"role": "assistant", "content": "Yes, sorry."}]]
    res = clean(data, only(empty_turns=True))
    assert res.kept[0] == data[0]
    assert res.kept[1][1] == {"role": "assistant", "content": "", "train": False} and res.kept[1][3] == data[1][3]
    assert res.report.filter("empty_turns").modified == 1


def test_web_text_rules_stay_off_for_instructions_and_large_removals_are_flagged():
    data = [chat(f"Question {i}?", f"Short answer {i}.") for i in range(9)]
    assert clean(data).report.filter("quality").enabled is False
    forced = clean(data, CleanOptions(quality=True, exact_dedup=False, near_dedup=False))
    report = forced.report
    assert [f.name for f in report.large_removals] == ["quality"] and report.unconfirmed
    assert report.filter("quality").examples and report.to_dict()["large_removals"] == ["quality"]
    accepted = clean(data, CleanOptions(quality=True, accept_large=["quality"]))
    assert accepted.report.large_removals and not accepted.report.unconfirmed


def test_cli_warns_loudly_with_examples(tmp_path, capsys):
    from tuneui.cli import main

    rows = [{"messages": chat(f"Fact {i} about the sea?", "It is salty." if i < 6 else
                              f"Fact {i}: the sea covers much of the planet and holds most of its water.")}
            for i in range(9)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o"), "--set", "max_length=3"]) == 2
    assert "cleaning removed every example (too_long: 9)" in capsys.readouterr().err
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o"), "--set", "min_length=5"]) == 0
    assert "WARNING" not in capsys.readouterr().err  # 8-word examples pass: nothing large removed
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o"), "--set", "min_length=10"]) == 0
    err = capsys.readouterr().err
    assert "WARNING: too_short removed 6 of 9 examples (67%)" in err
    assert "e.g. line 1: 8 words (min 10)" in err and "--set min_length=0" in err


def test_near_duplicates_need_alike_prompts_too():
    answer = "Hello! I am Pico, an AI assistant developed by Example Labs. How can I assist you today, friend?"
    data = [chat("hi", answer), chat("hello", answer), chat("hi", answer + " ")]
    res = clean(data, only(near_dedup=True, near_dup_min_words=0, exact_dedup=True))
    assert res.kept_indices == [0, 1]  # "hello" is another prompt to learn; the third is an exact copy
    assert res.report.filter("near_duplicates").details["different_prompts"] >= 1


def pair(prompt: str, good: str, bad: str) -> Example:
    return Example(messages=[{"role": "user", "content": prompt}], chosen=[{"role": "assistant", "content": good}],
                   rejected=[{"role": "assistant", "content": bad}])


def test_preference_pairs_clean_as_pairs():
    refusal = "I'm sorry, but I can't help with that."
    data = [pair("How do I pick a lock?", refusal, "Insert a tension wrench and rake the pins."),
            pair("Capital of France?", "Paris.", "Paris."),
            pair("Capital of Italy?", "", "Rome."),
            pair("How do I pick a lock?", refusal, "Insert a tension wrench and rake the pins."),
            pair("How do I pick a lock?", refusal, "Use a bobby pin.")]
    res = clean(data)
    assert res.report.kind == "preference" and res.report.filter("boilerplate").enabled is False
    assert res.kept_indices == [0, 4] and res.report.filter("pairs").removed == 2
    assert res.removed_indices["exact_duplicates"] == [3]  # the same pair again; another pair of a prompt stays


def test_the_split_keeps_each_prompt_on_one_side():
    data = [pair(f"Question {i % 7}?", f"Good answer {i}.", f"Bad answer {i}.") for i in range(70)]
    split = train_val_split(data, 0.3, 1)
    train_prompts = {e.messages[0]["content"] for e in split.train}
    val_prompts = {e.messages[0]["content"] for e in split.val}
    assert val_prompts and not train_prompts & val_prompts
    assert split.leakage["prompts_across_split"] == 0 and split.leakage["prompt_groups"] == 7
