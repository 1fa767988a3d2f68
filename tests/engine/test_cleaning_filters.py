"""Every cleaning filter: what it removes or repairs, that it is counted and explained, and that it
can be switched off."""

from __future__ import annotations

import copy
import random

import pytest

from tuneui.cleaning import CleanOptions, clean
from tuneui.cleaning.pii import find, luhn_ok
from tuneui.contract.errors import ConfigError

WORDS = ("river mountain quiet orange engine window silver garden planet market pencil bottle thunder velvet "
         "harbor lantern meadow copper island falcon").split()


def chat(user: str, answer: str, system: str | None = None) -> list[dict]:
    conv = [{"role": "system", "content": system}] if system is not None else []
    return conv + [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 999)) for _ in range(n))


def distinct(n: int, seed: int = 0, words: int = 30) -> list[list[dict]]:
    rng = random.Random(seed)
    return [chat(f"Question {i}: {sentence(rng, 8)}?", sentence(rng, words)) for i in range(n)]


def only(**on) -> CleanOptions:
    """Options with every filter off except the named ones (and their settings)."""
    off = dict(fix_encoding=False, empty_turns=False, pii="off", boilerplate=False, quality=False, min_length=0,
               max_length=None, exact_dedup=False, near_dedup=False)
    return CleanOptions.from_dict(off | on)


def test_defaults_keep_good_data_and_never_modify_the_input():
    data = distinct(50)
    before = copy.deepcopy(data)
    res = clean(data)
    assert res.kept == before and data == before
    assert res.report.before == res.report.after == 50 and res.kept_indices == list(range(50))


def test_mojibake_repaired_and_lost_bytes_dropped():
    data = [chat("Where is the cafÃ©?", "The cafÃ© is near the station."), chat("Hi", "Lost \ufffd bytes here")]
    res = clean(data, only(fix_encoding=True))
    assert res.kept == [chat("Where is the café?", "The café is near the station.")]
    f = res.report.filter("encoding")
    assert (f.modified, f.removed) == (1, 1)
    assert any("U+FFFD" in e["reason"] for e in f.examples)
    res = clean(data, only(fix_encoding=True, drop_unrepairable=False))
    assert len(res.kept) == 2


def test_empty_and_placeholder_turns():
    data = [
        chat("Hi", "   "),
        chat("Tell me", "N/A"),
        chat("<noinput>", "fine"),
        chat("Hello", "Hello to you", system=""),
        chat("Write", "Lorem ipsum dolor sit amet, consectetur adipiscing elit"),
        chat("Real question", "Real answer"),
    ]
    res = clean(data, only(empty_turns=True))
    assert res.kept == [chat("Hello", "Hello to you"), chat("Real question", "Real answer")]
    f = res.report.filter("empty_turns")
    assert (f.removed, f.modified) == (4, 1)
    assert "message 2 (assistant) is empty" in f.examples[0]["reason"]
    res = clean(data, only(empty_turns=True, placeholders=False))
    assert len(res.kept) == 5


@pytest.mark.parametrize("text,kind", [
    ("write to jane.doe@example.org today", "email"),
    ("call me at +44 20 7946 0958", "phone"),
    ("call (415) 555-0132 now", "phone"),
    ("the server is 10.0.0.12", "ip"),
    ("v6 at 2001:db8:85a3::8a2e:370:7334", "ip"),
    ("pay with 4539 1488 0343 6467", "credit_card"),
    ("my key is sk-proj-Ab3dEf5gH7iJ9kL1mN3oP5qR7s", "secret"),
    ("AWS AKIAIOSFODNN7EXAMPLE", "secret"),
    ("token = Zk3Lr9Qw2Xp8Vn4Tb6Ym1Hc5Jd7Fg0Ks2Ae4Wz6", "secret"),
    ("url?api_key=s3cr3tvalue99", "secret"),
])
def test_pii_kinds_are_found(text, kind):
    assert [f[0] for f in find(text)] == [kind]


@pytest.mark.parametrize("text", [
    "version 1.2.3.4.5 released", "on 2024-01-15 at 12:30:45", "std::vector<int> v;", "sha 3f786850e387550fdab836ed7e6dc881de23001b",
    "pay with 4539 1488 0343 6468", "the number 1234567", "pi is 3.14159265358979",
])
def test_pii_false_positives_are_avoided(text):
    assert find(text) == []


def test_luhn():
    assert luhn_ok("4539148803436467") and not luhn_ok("4539148803436468")


def test_pii_mask_and_drop_without_leaking_in_the_report():
    data = [chat("Email me: jane.doe@example.org", "Sure, I will."), chat("Hi", "Hello")]
    res = clean(data, only(pii="mask"))
    assert res.kept[0][0]["content"] == "Email me: <EMAIL>"
    f = res.report.filter("pii")
    assert f.modified == 1 and f.details["found"] == {"email": 1}
    assert "jane.doe@example.org" not in str(res.report.to_dict())
    res = clean(data, only(pii="drop"))
    assert res.kept == [chat("Hi", "Hello")] and res.report.filter("pii").removed == 1
    assert "jane.doe@example.org" not in str(res.report.to_dict())
    res = clean(data, only(pii="mask", pii_kinds=["phone"]))
    assert res.kept == data


def test_boilerplate_toggle():
    data = [chat("Opinion?", "As an AI language model, I do not have opinions."),
            chat("Hack it", "I'm sorry, but I can't help with that."),
            chat("Capital of France?", "Paris.")]
    res = clean(data, only(boilerplate=True))
    assert res.kept == [chat("Capital of France?", "Paris.")] and res.report.filter("boilerplate").removed == 2
    assert "as an ai language model" in res.report.filter("boilerplate").examples[0]["reason"].lower()
    assert len(clean(data, only(boilerplate=False)).kept) == 3


def test_gopher_quality_on_plain_text_corpus_only():
    rng = random.Random(1)
    good = ("The river runs to the sea and that is where the boats have to go with the tide. " * 1
            + " ".join(rng.choice(WORDS) for _ in range(60)) + ". It is the end of the story, and that is all.")
    docs = {
        "good": good,
        "short": "Too short to be a document.",
        "repeated": "\n".join(["the same line again and again with the words"] * 20),
        "symbols": " ".join(["# ..."] * 40) + " the and of to with",
        "no_stop_words": " ".join(rng.choice(WORDS) for _ in range(80)),
    }
    corpus = [[{"role": "assistant", "content": t}] for t in docs.values()]
    res = clean(corpus, only(quality="auto"))
    assert res.kept == [corpus[0]]
    reasons = " | ".join(e["reason"] for e in res.report.filter("quality").examples[:4])
    assert res.report.filter("quality").removed == 4 and "words (keeps 50-100000)" in reasons
    # chat data is not a text corpus: "auto" leaves it alone
    assert clean(distinct(3, words=5), only(quality="auto")).report.filter("quality").enabled is False


def test_too_short_and_too_long_in_words():
    data = [chat("a", "b"), chat("What is two plus two?", "Four."), chat("Tell me", " ".join(["word"] * 50))]
    res = clean(data, only(min_length=3, max_length=20))
    assert res.kept == [data[1]]
    assert res.report.filter("too_short").removed == 1 and res.report.filter("too_long").removed == 1
    assert "2 words (min 3)" in res.report.filter("too_short").examples[0]["reason"]


def test_exact_duplicates_after_normalisation_keep_the_first():
    data = [chat("Hello there", "General Kenobi"), chat("hello   THERE ", "general kenobi"), chat("Other", "One")]
    res = clean(data, only(exact_dedup=True), lines=[10, 20, 30])
    assert res.kept == [data[0], data[2]] and res.kept_indices == [0, 2]
    ex = res.report.filter("exact_duplicates").examples[0]
    assert ex["line"] == 20 and ex["duplicate_of"] == {"index": 0, "line": 10}


def test_near_duplicates_threshold_is_configurable():
    base = distinct(40, seed=3, words=60)
    words = base[5][1]["content"].split()
    words[10] = "changed"
    near = chat(base[5][0]["content"], " ".join(words))
    data = base + [near]
    res = clean(data, only(near_dedup=True))
    assert len(res.kept) == 40 and res.kept_indices == list(range(40))
    ex = res.report.filter("near_duplicates").examples[0]
    assert ex["index"] == 40 and ex["duplicate_of"]["index"] == 5 and 0.8 <= ex["similarity"] < 1.0
    assert len(clean(data, only(near_dedup=True, near_dup_threshold=0.99)).kept) == 41


def test_cleaning_is_deterministic():
    data = distinct(60, seed=9) + distinct(10, seed=9)
    a, b = clean(data), clean(data)
    assert a.kept == b.kept and a.report.removed == b.report.removed
    assert a.report.removed["exact_duplicates"] == 10


def test_report_is_plain_data_with_before_after_stats():
    import json

    d = clean(distinct(5) + [chat("Hi", "")]).to_dict()
    json.dumps(d)
    assert d["before"] == 6 and d["after"] == 5 and d["removed"]["empty_turns"] == 1
    assert d["stats_before"]["words"]["count"] == 6 and d["stats_after"]["examples"] == 5
    assert {f["name"] for f in d["filters"]} >= {"pii", "near_duplicates", "exact_duplicates", "boilerplate"}


def test_options_from_dict_validates():
    assert CleanOptions.from_dict({"pii": "drop", "near_dup_threshold": 0.9}).pii == "drop"
    with pytest.raises(ConfigError, match="near_dup_treshold: unknown option \\(did you mean 'near_dup_threshold'"):
        CleanOptions.from_dict({"near_dup_treshold": 0.9})
    with pytest.raises(ConfigError, match="pii: Input should be 'mask', 'drop' or 'off' \\(got 'hide'\\)"):
        CleanOptions.from_dict({"pii": "hide"})
    with pytest.raises(ConfigError, match="min_length: Input should be a valid integer \\(got '3'\\)"):
        CleanOptions.from_dict({"min_length": "3"})
    assert CleanOptions.from_dict(CleanOptions().to_dict()) == CleanOptions()


def test_short_examples_are_left_to_exact_dedup():
    data = [chat("What is the first word of: moon house", "moon"),
            chat("What is the first word of: moon house moon", "moon")]
    assert len(clean(data, only(near_dedup=True)).kept) == 2
    res = clean(data, only(near_dedup=True, near_dup_min_words=0))
    assert res.kept == data[:1] and res.report.filter("near_duplicates").details["min_words"] == 0
