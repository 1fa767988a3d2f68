"""Kinds of data told apart by structure, with evidence: every preference shape, KTO, answer pairs
without a label, token ids, media placeholders; and each is kept whole (prompt, both replies, scores,
label), with pair problems named by line."""

from __future__ import annotations

import json

import pytest

from tuneui.contract.errors import DataError
from tuneui.data import load_dataset, load_examples


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def only(tmp_path, rows, name="d.jsonl"):
    examples, lines, res = load_examples(write_jsonl(tmp_path / name, rows), skip_bad=True)
    return examples, res


U = {"role": "user", "content": "Which is larger, 2 or 3?"}
A_GOOD = {"role": "assistant", "content": "3 is larger."}
A_BAD = {"role": "assistant", "content": "2 is larger."}


@pytest.mark.parametrize("row,shape", [
    ({"prompt": "Which is larger, 2 or 3?", "chosen": "3 is larger.", "rejected": "2 is larger."}, "prompt_pair"),
    ({"prompt": [U], "chosen": [A_GOOD], "rejected": [A_BAD]}, "prompt_pair"),
    ({"prompt": "Which is larger, 2 or 3?", "chosen": [U, A_GOOD], "rejected": [U, A_BAD], "messages": [U, A_GOOD],
      "score_chosen": 9.0, "score_rejected": 2.5}, "prompt_pair"),
    ({"chosen": [U, A_GOOD], "rejected": [U, A_BAD]}, "transcripts"),
    ({"chosen": "\n\nHuman: Which is larger, 2 or 3?\n\nAssistant: 3 is larger.",
      "rejected": "\n\nHuman: Which is larger, 2 or 3?\n\nAssistant: 2 is larger."}, "hh_text"),
    ({"conversations": [{"from": "human", "value": "Which is larger, 2 or 3?"}],
      "chosen": {"from": "gpt", "value": "3 is larger."}, "rejected": {"from": "gpt", "value": "2 is larger."}},
     "prompt_pair"),
    ({"question": "Which is larger, 2 or 3?", "response_j": "3 is larger.", "response_k": "2 is larger."},
     "prompt_pair"),
    ({"instruction": "Which is larger, 2 or 3?", "output_1": "2 is larger.", "output_2": "3 is larger.",
      "preference": 2}, "labelled_pair"),
])
def test_every_preference_shape_becomes_prompt_chosen_rejected(tmp_path, row, shape):
    examples, res = only(tmp_path, [row, row])
    assert res.kind == "preference" and res.format.name == f"preference:{shape}" and res.kind_evidence
    ex = examples[0]
    assert ex.messages[-1] == {"role": "user", "content": "Which is larger, 2 or 3?"}
    assert ex.chosen == [A_GOOD] and ex.rejected == [A_BAD]
    assert "preference data (chosen/rejected pairs)" in res.refusal and "objective=dpo" in res.refusal
    if "score_chosen" in row:
        assert (ex.score_chosen, ex.score_rejected) == (9.0, 2.5)


def test_multi_turn_transcripts_split_where_they_part(tmp_path):
    history = [U, A_GOOD, {"role": "user", "content": "And 4 or 5?"}]
    row = {"chosen": [*history, {"role": "assistant", "content": "5."}],
           "rejected": [*history, {"role": "assistant", "content": "4."}]}
    differ = {"chosen": [U, A_GOOD], "rejected": [{"role": "user", "content": "Something else?"}, A_BAD]}
    examples, res = only(tmp_path, [row, differ])
    assert examples[0].messages == history and examples[0].chosen == [{"role": "assistant", "content": "5."}]
    bad = [p for p in res.problems.kept if p.kind == "prompt_mismatch"]
    assert len(bad) == 1 and bad[0].line == 2 and "different prompts" in bad[0].message


def test_pair_warnings_identical_empty_and_tied_name_their_lines(tmp_path):
    rows = [{"prompt": "q", "chosen": "same", "rejected": "same"},
            {"prompt": "q", "chosen": "", "rejected": "no"},
            {"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": 5, "score_rejected": 5}]
    _, res = only(tmp_path, rows)
    found = {(p.kind, p.line) for p in res.problems.kept}
    assert {("identical_pair", 1), ("empty_reply", 2), ("tied_pair", 3)} <= found


def test_kto_rows_keep_their_label(tmp_path):
    rows = [{"messages": [U, A_GOOD], "label": True}, {"messages": [U, A_BAD], "label": False},
            {"prompt": "Which is larger, 2 or 3?", "completion": "2 is larger.", "label": False}]
    examples, res = only(tmp_path, rows[:2])
    assert res.kind == "kto" and "KTO data" in res.refusal and "1 true, 1 false" in res.kind_evidence[0]
    assert [(e.label, e.completion) for e in examples] == [(True, [A_GOOD]), (False, [A_BAD])]
    examples, res = only(tmp_path, rows[2:] * 2, "trl.jsonl")
    assert res.kind == "kto" and examples[0].messages == [U] and examples[0].completion == [A_BAD]


def test_a_label_that_is_not_true_false_is_not_kto(tmp_path):
    _, res = only(tmp_path, [{"text": "great film", "label": "positive"}, {"text": "bad", "label": "negative"}])
    assert res.kind == "sft" and res.format.name == "prompt_completion"


def test_two_answers_without_a_preference_are_refused_naming_them(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "q", "output_1": "a", "output_2": "b"}])
    with pytest.raises(DataError, match=r"'output_1' and 'output_2'.*--column output=output_1"):
        load_dataset(path)
    assert load_dataset(path, columns={"output": "output_2"}).preview[0].messages[-1]["content"] == "b"


def test_token_ids_are_pretokenized_not_columns_of_numbers(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps({"input_ids": [1, 2, 3], "labels": [-100, 2, 3],
                                                 "attention_mask": [1, 1, 1]}))
    res = load_dataset(tmp_path / "t.json")
    assert res.kind == "pretokenized" and res.examples == 1 and "pre-tokenized data" in res.refusal


@pytest.mark.parametrize("row", [
    {"messages": [{"role": "user", "content": "<image>What is this?"}, A_GOOD], "images": ["cat.png"]},
    {"query": "<img>http://example.com/cat.png</img>What is this?", "response": "A cat."},
    {"messages": [{"role": "user", "content": [{"type": "image", "value": "cat.png"},
                                               {"type": "text", "value": "What is this?"}]}, A_GOOD]},
])
def test_media_columns_parts_and_placeholders_are_multimodal(tmp_path, row):
    res = load_dataset(write_jsonl(tmp_path / "m.jsonl", [row, row]))
    assert res.kind == "multimodal" and "multimodal data" in res.refusal and res.kind_evidence


def test_html_in_a_coding_answer_is_not_a_media_placeholder(tmp_path):
    row = {"messages": [{"role": "user", "content": "How do I embed a clip?"},
                        {"role": "assistant", "content": "Use <video> with a <source> inside."}]}
    assert load_dataset(write_jsonl(tmp_path / "h.jsonl", [row] * 3)).kind == "sft"


def test_two_text_columns_are_input_and_output_not_plain_text(tmp_path):
    (tmp_path / "e.csv").write_text("text,emoji\nI love pizza,🍕❤️\nGood night,🌙😴\n", encoding="utf-8")
    res = load_dataset(tmp_path / "e.csv")
    assert res.kind == "sft" and res.format.name == "prompt_completion"
    assert res.preview[0].messages == [{"role": "user", "content": "I love pizza"},
                                       {"role": "assistant", "content": "🍕❤️"}]
    assert any("'text' is the input and 'emoji' the output" in e for e in res.format.evidence)
    (tmp_path / "c4.jsonl").write_text(json.dumps({"text": "A page.", "url": "http://x", "timestamp": "2019"}) + "\n")
    assert load_dataset(tmp_path / "c4.jsonl").kind == "text"  # metadata columns are not an output
