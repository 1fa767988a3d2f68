"""A corpus of broken files: each gets its own clear message naming the file and line, and one bad
line never hides the good ones."""

from __future__ import annotations

import codecs
import json

import pytest

from tests.engine.data_helpers import convs
from tuneui.contract.errors import DataError
from tuneui.data import encoding as encoding_mod
from tuneui.data import load_conversations, load_dataset

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def lines_file(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def messages(*pairs):
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in pairs]})


def only_problem(res):
    assert len(res.problems.kept) == 1, res.problems.kept
    return res.problems.kept[0]


@pytest.mark.parametrize("bad_line,kind,message", [
    ('{"messages": [', "bad_json", "bad JSON"),
    ("[1, 2]", "wrong_type", "expected a JSON object per line, got an array"),
    ('{"messages": "hello"}', "wrong_type", "expected a list of turns"),
    ('{"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}', "missing_field",
     "message 1 has no 'content' field"),
    ('{"messages": [{"role": "user", "content": {"a": 5}}, {"role": "assistant", "content": "x"}]}', "wrong_type",
     "message 1: content is an object"),
    ('{"messages": [{"role": "wizard", "content": "x"}]}', "bad_role", "unknown role 'wizard'"),
    (messages(("assistant", "x"), ("user", "y"), ("assistant", "z")), "role_order", "must be 'user'"),
    (messages(("user", "a"), ("user", "b"), ("assistant", "c")), "role_order", "message 2 is 'user' right after"),
    (messages(("user", "a"), ("assistant", "b"), ("system", "c"), ("user", "d"), ("assistant", "e")), "role_order",
     "system message 3 after"),
    (messages(("system", "s"), ("user", "only a question")), "no_assistant", "nothing to train on"),
    ('{"messages": [{"role": "user", "content": [{"type": "blob"}]}, {"role": "assistant", "content": "x"}]}',
     "wrong_type", "content part of type 'blob' is not text"),
])
def test_bad_line_is_reported_and_good_lines_survive(tmp_path, bad_line, kind, message):
    path = lines_file(tmp_path, "d.jsonl", [json.dumps(GOOD), bad_line, json.dumps(GOOD)])
    res = load_dataset(path)
    assert len(convs(res)) == 2 and res.preview_lines == [1, 3]
    errors = [p for p in res.problems.kept if p.severity == "error"]
    assert len(errors) == 1
    p = errors[0]
    assert (p.line, p.kind, p.severity) == (2, kind, "error")
    assert message in p.message
    with pytest.raises(DataError) as err:
        load_conversations(path)
    assert str(err.value).startswith(f"{path}:2: ") and "--skip-bad" in str(err.value)
    assert len(load_conversations(path, skip_bad=True)) == 2


def test_numbers_and_booleans_in_text_fields_become_text_and_are_counted(tmp_path):
    rows = [{"instruction": "Half of seven?", "output": 3.5}, {"instruction": "Is 2 even?", "output": True},
            {"instruction": 12, "output": "twelve"}]
    res = load_dataset(lines_file(tmp_path, "a.jsonl", [json.dumps(r) for r in rows]))
    assert [c[-1]["content"] for c in convs(res)] == ["3.5", "true", "twelve"]
    assert convs(res)[2][0]["content"] == "12"
    assert res.coerced == {"output": 2, "instruction": 1}
    assert any("read as text" in n for n in res.notes) and res.to_dict()["coerced"] == res.coerced


def test_a_multimodal_row_refuses_the_file_by_name_even_with_skip_bad(tmp_path):
    image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "cat.png"}},
                                                       {"type": "text", "text": "What is this?"}]},
                          {"role": "assistant", "content": "A cat."}]}
    path = lines_file(tmp_path, "d.jsonl", [json.dumps(GOOD)] * 300 + [json.dumps(image)])
    res = load_dataset(path)
    assert res.kind == "multimodal" and "multimodal data" in res.refusal and "line 301" in res.kind_evidence[-1]
    with pytest.raises(DataError, match="multimodal data"):
        load_conversations(path, skip_bad=True)


def test_strict_error_counts_the_other_bad_lines(tmp_path):
    path = lines_file(tmp_path, "d.jsonl", ["nope", json.dumps(GOOD), "{", "[]"])
    with pytest.raises(DataError, match=r"d\.jsonl:1: bad JSON.*\(and 2 more bad lines\)"):
        load_conversations(path)


def test_empty_turn_is_a_warning_not_an_error(tmp_path):
    path = lines_file(tmp_path, "d.jsonl", [messages(("user", "hi"), ("assistant", "  "))])
    res = load_dataset(path)
    p = only_problem(res)
    assert (p.severity, p.kind, p.line) == ("warning", "empty_turn", 1) and "message 2 (assistant) is empty" in p.message
    assert len(load_conversations(path)) == 1  # cleaning removes it; loading is not blocked


def test_missing_field_in_single_turn_format(tmp_path):
    path = lines_file(tmp_path, "qa.jsonl", ['{"question": "q", "answer": "a"}', '{"question": "q2"}'])
    p = only_problem(load_dataset(path))
    assert p.line == 2 and p.kind == "missing_field" and "missing field 'answer'" in p.message


def test_mixed_column_types_are_reported(tmp_path):
    rows = [{"prompt": "p", "completion": "c"}] * 3 + [{"prompt": "p", "completion": 7}]
    path = lines_file(tmp_path, "pc.jsonl", [json.dumps(r) for r in rows])
    res = load_dataset(path)
    mixed = [p for p in res.problems.kept if p.kind == "mixed_types"]
    assert mixed and "column 'completion' has mixed types: text in 3, number in 1" in mixed[0].message
    assert "first number at line 4" in mixed[0].message


@pytest.mark.parametrize("encoding,bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                          ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b"")])
def test_bom_and_utf16_files_load(tmp_path, encoding, bom):
    text = json.dumps({"messages": [{"role": "user", "content": "café"},
                                    {"role": "assistant", "content": "naïve"}]}, ensure_ascii=False) + "\n"
    path = tmp_path / "d.jsonl"
    path.write_bytes(bom + text.encode(encoding))
    res = load_dataset(path)
    assert convs(res)[0][0]["content"] == "café" and not res.problems.kept


def test_undecodable_bytes_name_line_and_column(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b'\n{"messages": [{"role": "user", "content": "caf\xe9"}]}\n')
    res = load_dataset(path)
    p = only_problem(res)
    assert p.line == 2 and p.kind == "encoding"
    assert "not valid UTF-8: byte 0xe9 at column 47" in p.message and "Latin-1" in p.message
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(b"prompt,completion\nok,fine\ncaf\xe9,x\n")
    with pytest.raises(DataError, match=r"latin1\.csv:3: not valid UTF-8: byte 0xe9 at column 4"):
        load_dataset(csv_path)


def test_huge_line_is_skipped_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding_mod, "MAX_LINE_BYTES", 1000)
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 5000}, {"role": "assistant", "content": "y"}]})
    path = lines_file(tmp_path, "d.jsonl", [json.dumps(GOOD), big, json.dumps(GOOD)])
    res = load_dataset(path)
    p = only_problem(res)
    assert (p.line, p.kind) == (2, "huge_line") and "limit" in p.message
    assert res.preview_lines == [1, 3]


@pytest.mark.parametrize("name,content,message", [
    ("img.jsonl", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a dataset: the file looks like a PNG image"),
    ("blob.jsonl", bytes(range(256)) * 4, "not a dataset: the file looks like binary data"),
    ("doc.json", b"%PDF-1.7\n...", "looks like a PDF document"),
    ("sheet.csv", b"PK\x03\x04rest", "ZIP archive"),
    ("script.py", b"import os\nprint(os.getcwd())\n", "not a recognised dataset: unknown extension '.py'"),
    ("empty.jsonl", b"", "the file is empty"),
    ("scalar.json", b"42", "not a dataset: the JSON holds a number"),
    ("open.json", b'[{"text": "a"},\n {"text": "b"}', "the array is not closed"),
    ("noarr.json", b'{"name": "x", "version": 2}', "cannot tell the dataset format: columns are name, version"),
    ("onlybad.jsonl", b"oops\nstill not json\n", "no readable examples"),
])
def test_files_that_are_not_datasets(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        load_dataset(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_broken_json_array_names_the_line(tmp_path):
    path = tmp_path / "arr.json"
    path.write_text('[\n  {"text": "a"},\n  {"text": "b",,}\n]\n', encoding="utf-8")
    res = load_dataset(path)
    p = only_problem(res)
    assert p.line == 3 and "bad JSON" in p.message and len(convs(res)) == 1


def test_csv_row_with_wrong_field_count(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("question,answer\nq1,a1\nonly one\nq3,a3\n", encoding="utf-8")
    res = load_dataset(path)
    p = only_problem(res)
    assert p.line == 3 and "row has 1 fields, the header has 2" in p.message and len(convs(res)) == 2


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        load_dataset(tmp_path / "nothere.jsonl")
    path = lines_file(tmp_path, "d.jsonl", [json.dumps(GOOD)])
    with pytest.raises(DataError, match="unknown format 'chatml'"):
        load_dataset(path, fmt="chatml")
    with pytest.raises(DataError, match="not a `datasets.save_to_disk` folder"):
        load_dataset(tmp_path)


def test_hub_dataset_offline_gives_a_clean_error(monkeypatch):
    import socket

    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)  # online mode, but no network

    def no_dns(*_a, **_k):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DataError, match="someone/some-data: no such local file, and the Hugging Face hub cannot"):
        load_dataset("someone/some-data")


def test_hub_dataset_through_datasets_in_offline_mode(monkeypatch, tmp_path):
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match="hub dataset could not be loaded"):
        load_dataset("someone/some-data")


def test_corrupt_compressed_files(tmp_path):
    import gzip

    good = gzip.compress(json.dumps(GOOD).encode() * 20)
    (tmp_path / "trunc.jsonl.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "crc.jsonl.gz").write_bytes(good[:20] + bytes(30) + good[50:])
    for name in ("trunc.jsonl.gz", "crc.jsonl.gz"):
        with pytest.raises(DataError, match="cannot decompress"):
            load_dataset(tmp_path / name)
