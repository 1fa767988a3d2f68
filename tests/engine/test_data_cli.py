"""`tuneui data inspect` and `tuneui data clean`: exit codes, one-line errors, stable JSON, and the
input file left untouched."""

from __future__ import annotations

import hashlib
import json

import pytest

from tuneui.cli import main
from tuneui.data import load_conversations

GOOD = [{"messages": [{"role": "user", "content": f"Question number {i} about rivers?"},
                      {"role": "assistant", "content": f"Answer {i}: rivers flow downhill to the sea."}]}
        for i in range(30)]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "home"))


def write(path, rows, extra_lines=()):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(x + "\n" for x in extra_lines),
                    encoding="utf-8")
    return path


def test_inspect_json(tmp_path, capsys):
    path = write(tmp_path / "d.jsonl", GOOD)
    assert main(["data", "inspect", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"]["name"] == "messages" and out["examples"] == 30 and out["records"] == 30
    assert out["problems"] == [] and out["lengths"]["count"] == 30 and out["encoding"] == "utf-8"


def test_inspect_bad_lines_prints_report_then_exits_2(tmp_path, capsys):
    path = write(tmp_path / "d.jsonl", GOOD, ["{broken", "[1]"])
    assert main(["data", "inspect", str(path)]) == 2
    cap = capsys.readouterr()
    assert "line 31: error: bad JSON" in cap.out and "line 32: error:" in cap.out
    assert cap.err.strip() == f"tuneui: error: {path}:31: bad JSON: Expecting property name enclosed in double " \
                              "quotes (and 1 more bad line)"
    assert "Traceback" not in cap.err


def test_inspect_missing_and_binary_files_exit_2_with_one_line(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "none.jsonl")]) == 2
    png = tmp_path / "x.jsonl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["data", "inspect", str(png)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"tuneui: error: {tmp_path / 'none.jsonl'}: no such file or directory",
                   f"tuneui: error: {png}: not a dataset: the file looks like a PNG image"]


def test_clean_writes_parquet_and_report_and_never_touches_input(tmp_path, capsys):
    rows = GOOD + [GOOD[0], {"messages": [{"role": "user", "content": "mail a@b.example.com"},
                                          {"role": "assistant", "content": "As an AI language model, no."}]}]
    path = write(tmp_path / "d.jsonl", rows)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    out = tmp_path / "out"
    assert main(["data", "clean", str(path), "-o", str(out), "--json", "--val-fraction", "0.2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert report["cleaning"]["before"] == 32 and report["cleaning"]["after"] == 30
    assert report["cleaning"]["removed"]["exact_duplicates"] == 1 and report["cleaning"]["removed"]["boilerplate"] == 1
    assert report["split"]["train"] == 24 and report["split"]["val"] == 6
    assert report["split"]["leakage"]["pairs_across_split"] == 0
    assert set(report.pop("outputs")) == {"train", "val", "report"}
    assert json.loads((out / "report.json").read_text()) == report
    train, val = load_conversations(out / "train.parquet"), load_conversations(out / "val.parquet")
    assert len(train) == 24 and len(val) == 6
    assert sorted(map(json.dumps, train + val)) == sorted(json.dumps(r["messages"]) for r in GOOD)


def test_clean_bad_lines_needs_consent(tmp_path, capsys):
    path = write(tmp_path / "d.jsonl", GOOD, ["not json"])
    out = tmp_path / "out"
    assert main(["data", "clean", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tuneui: error: {path}:31: bad JSON") and "--skip-bad" in err and not out.exists()
    assert main(["data", "clean", str(path), "-o", str(out), "--skip-bad"]) == 0
    text = capsys.readouterr().out
    assert "1 bad lines skipped" in text and "wrote" in text
    report = json.loads((out / "report.json").read_text())
    assert report["load"]["problems"][0]["line"] == 31


def test_clean_options_and_refusing_to_overwrite_input(tmp_path, capsys):
    path = write(tmp_path / "d.jsonl", GOOD)
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o"), "--set", "near_dup_treshold=0.9"]) == 2
    assert "did you mean 'near_dup_threshold'" in capsys.readouterr().err
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o"), "--set", "pii=drop", "--set",
                 "near_dup_threshold=0.95", "--val-fraction", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cleaning"]["options"]["pii"] == "drop" and report["split"]["val"] == 0
    assert not (tmp_path / "o" / "val.parquet").exists()
    victim = tmp_path / "o" / "train.parquet"
    assert main(["data", "clean", str(victim), "-o", str(tmp_path / "o")]) == 2
    assert "would overwrite the input" in capsys.readouterr().err


def test_clean_that_removes_everything_says_which_filter(tmp_path, capsys):
    path = tmp_path / "corpus.txt"
    path.write_text("a short line\nanother short line\n", encoding="utf-8")
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cleaning removed every example (quality: 2)" in err and "--set quality=false" in err
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "o"), "--set", "quality=false"]) == 0
