"""Every supported file type and chat format loads into the one conversation schema."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.engine.data_helpers import convs
from tuneui.contract.errors import DataError
from tuneui.data import load_conversations, load_dataset

USER_ASSISTANT = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_openai_messages_jsonl(tmp_path):
    rows = [{"messages": USER_ASSISTANT}, {"messages": [{"role": "system", "content": "Be brief."}, *USER_ASSISTANT]}]
    res = load_dataset(write_jsonl(tmp_path / "d.jsonl", rows))
    assert res.format.name == "messages" and res.format.confidence == 1.0
    assert any("messages" in e for e in res.format.evidence)
    assert convs(res)[0] == USER_ASSISTANT
    assert convs(res)[1][0] == {"role": "system", "content": "Be brief."}
    assert res.preview_lines == [1, 2] and res.file_type == "jsonl"


def test_sharegpt_roles_including_system_and_tool(tmp_path):
    row = {"conversations": [
        {"from": "system", "value": "You can call tools."},
        {"from": "human", "value": "Weather in Paris?"},
        {"from": "function_call", "value": '{"name": "weather", "city": "Paris"}'},
        {"from": "observation", "value": '{"temp": 21}'},
        {"from": "gpt", "value": "It is 21 degrees."},
    ]}
    res = load_dataset(write_jsonl(tmp_path / "sg.jsonl", [row, row]))
    assert res.format.name == "sharegpt"
    assert [m["role"] for m in convs(res)[0]] == ["system", "user", "assistant", "tool", "assistant"]
    # the function_call turn is a real call now (what chat templates render), and calling a function the
    # example does not define is worth a warning
    assert convs(res)[0][2]["tool_calls"] == [{"type": "function",
                                               "function": {"name": "weather", "arguments": {"city": "Paris"}}}]
    assert [p.kind for p in res.problems.kept] == ["undefined_tool", "undefined_tool"]


def test_alpaca_json_array_with_line_numbers(tmp_path):
    rows = [{"instruction": "Add the numbers", "input": "2 and 3", "output": "5"},
            {"instruction": "Say hi", "input": "", "output": "hi"},
            {"instruction": "Say bye", "input": "<noinput>", "output": "bye"}]
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    res = load_dataset(path)
    assert res.format.name == "alpaca" and res.file_type == "json"
    assert convs(res)[0] == [{"role": "user", "content": "Add the numbers\n\n2 and 3"},
                                    {"role": "assistant", "content": "5"}]
    assert convs(res)[1][0]["content"] == "Say hi"
    assert convs(res)[2][0]["content"] == "Say bye"  # placeholder input dropped
    assert res.preview_lines == [2, 7, 12]


def test_prompt_completion_csv_and_tsv(tmp_path):
    (tmp_path / "pc.csv").write_text('prompt,completion\n"Hello, you",Hi there\n"multi\nline",ok\n', encoding="utf-8")
    res = load_dataset(tmp_path / "pc.csv")
    assert res.format.name == "prompt_completion" and res.file_type == "csv"
    assert convs(res)[0][0]["content"] == "Hello, you"
    assert convs(res)[1][0]["content"] == "multi\nline" and res.preview_lines == [2, 3]
    (tmp_path / "pc.tsv").write_text("prompt\tcompletion\nHello\tHi\n", encoding="utf-8")
    assert load_dataset(tmp_path / "pc.tsv").file_type == "tsv"
    (tmp_path / "excel.csv").write_bytes("\ufeffquestion;answer\r\nWie geht's, Anna?;Gut, danke\r\n".encode())
    res = load_dataset(tmp_path / "excel.csv")
    assert convs(res)[0] == [{"role": "user", "content": "Wie geht's, Anna?"},
                                    {"role": "assistant", "content": "Gut, danke"}]
    assert any("';'" in n for n in res.notes) and res.encoding == "utf-8-sig"


@pytest.mark.parametrize("q,a", [("question", "answer"), ("query", "response"), ("problem", "solution")])
def test_question_answer_columns(tmp_path, q, a):
    res = load_dataset(write_jsonl(tmp_path / "qa.jsonl", [{q: "Why?", a: "Because."}]))
    assert res.format.name == "qa" and 0.5 < res.format.confidence < 1.0
    assert res.format.columns["question"] == q and res.format.columns["answer"] == a
    assert convs(res)[0][1]["content"] == "Because."


def test_plain_text_one_document_per_line(tmp_path):
    (tmp_path / "corpus.txt").write_text("First document.\nSecond one.\nThird.\n", encoding="utf-8")
    res = load_dataset(tmp_path / "corpus.txt")
    assert res.format.name == "text"
    assert convs(res) == [[{"role": "assistant", "content": t}] for t in ("First document.", "Second one.",
                                                                                  "Third.")]
    (tmp_path / "spaced.txt").write_text("One.\n\nTwo.\n\n\nThree.", encoding="utf-8")
    assert load_dataset(tmp_path / "spaced.txt").preview_lines == [1, 3, 6]


def test_plain_text_blank_line_separated(tmp_path):
    (tmp_path / "corpus.txt").write_text("Para one\ncontinues.\n\n\nPara two.\n", encoding="utf-8")
    res = load_dataset(tmp_path / "corpus.txt")
    assert [c[0]["content"] for c in convs(res)] == ["Para one\ncontinues.", "Para two."]
    assert res.preview_lines == [1, 5] and any("blank lines" in n for n in res.notes)


def test_text_column_jsonl(tmp_path):
    res = load_dataset(write_jsonl(tmp_path / "t.jsonl", [{"text": "a document", "url": "x"}]))
    assert res.format.name == "text" and convs(res)[0] == [{"role": "assistant", "content": "a document"}]


def test_json_object_of_arrays_both_shapes(tmp_path):
    (tmp_path / "cols.json").write_text(json.dumps({"instruction": ["a", "b"], "output": ["c", "d"]}))
    res = load_dataset(tmp_path / "cols.json")
    assert res.format.name == "alpaca" and len(convs(res)) == 2 and res.unit == "item"
    (tmp_path / "splits.json").write_text(json.dumps({"test": [{"messages": USER_ASSISTANT}],
                                                      "train": [{"messages": USER_ASSISTANT}] * 3}))
    res = load_dataset(tmp_path / "splits.json")
    assert len(convs(res)) == 3 and any("'train'" in n for n in res.notes)


def test_parquet_and_gzip(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"question": ["q1", "q2"], "answer": ["a1", "a2"]}), tmp_path / "d.parquet")
    res = load_dataset(tmp_path / "d.parquet")
    assert res.file_type == "parquet" and res.unit == "row" and len(convs(res)) == 2
    with gzip.open(tmp_path / "d.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"messages": USER_ASSISTANT}) + "\n")
    assert load_conversations(tmp_path / "d.jsonl.gz") == [USER_ASSISTANT]


def test_save_to_disk_directory(tmp_path):
    import datasets

    ds = datasets.DatasetDict({"train": datasets.Dataset.from_list([{"prompt": "p", "completion": "c"}] * 2),
                               "test": datasets.Dataset.from_list([{"prompt": "x", "completion": "y"}])})
    ds.save_to_disk(str(tmp_path / "saved"))
    res = load_dataset(tmp_path / "saved")
    assert res.file_type == "hf_disk" and len(convs(res)) == 2
    assert any("train" in n for n in res.notes)


def test_column_override_and_format_override(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"q_txt": "hello?", "a_txt": "hi", "question": "ignored"}])
    res = load_dataset(path, columns={"user": "q_txt", "assistant": "a_txt"})
    assert convs(res)[0] == [{"role": "user", "content": "hello?"}, {"role": "assistant", "content": "hi"}]
    path = write_jsonl(tmp_path / "t.jsonl", [{"body": "just text", "prompt": "p", "completion": "c"}])
    res = load_dataset(path, fmt="text", columns={"text": "body"})
    assert convs(res) == [[{"role": "assistant", "content": "just text"}]]
    with pytest.raises(DataError, match="not a field of the 'qa' format"):
        load_dataset(path, fmt="qa", columns={"bogus": "x"})


def test_messages_content_parts_and_role_aliases(tmp_path):
    row = {"messages": [{"role": "human", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "you"}]},
                        {"role": "model", "content": "hello"}]}
    res = load_dataset(write_jsonl(tmp_path / "m.jsonl", [row]))
    assert convs(res)[0] == [{"role": "user", "content": "Hi you"}, {"role": "assistant", "content": "hello"}]


def test_undetectable_columns_name_the_columns(tmp_path):
    with pytest.raises(DataError, match=r"cannot tell the dataset format: columns are colour, size.*--column"):
        load_dataset(write_jsonl(tmp_path / "x.jsonl", [{"colour": "red", "size": 3}]))


def test_demo_sample_file_loads():
    from tuneui.contract.paths import package_assets

    convs = load_conversations(package_assets() / "sample_dataset.jsonl")
    assert len(convs) > 100 and all(c[-1]["role"] == "assistant" for c in convs)


def test_json_lines_saved_as_json_and_arrays_of_strings(tmp_path):
    path = tmp_path / "really_lines.json"
    path.write_text(json.dumps({"messages": USER_ASSISTANT}) + "\n" + json.dumps({"messages": USER_ASSISTANT}) + "\n")
    res = load_dataset(path)
    assert len(convs(res)) == 2 and res.file_type == "jsonl" and any("JSON Lines" in n for n in res.notes)
    (tmp_path / "docs.json").write_text(json.dumps(["first document", "second document"]))
    res = load_dataset(tmp_path / "docs.json")
    assert res.format.name == "text" and [c[0]["content"] for c in convs(res)] == ["first document",
                                                                                          "second document"]
