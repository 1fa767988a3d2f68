"""events.jsonl: one flushed JSON object per line, readable while being written."""

from __future__ import annotations

import json

from tuneui.contract import events as events_mod
from tuneui.contract.events import EventFollower, EventWriter, read_events


def test_events_are_appended_as_json_lines(tmp_path):
    w = EventWriter(tmp_path)
    w.emit(events_mod.Started(step=0, technique="lora"))
    w.emit(events_mod.Step(step=1, loss=float("nan"), lr=1e-4))
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["started", "step"]
    step = json.loads(lines[1])
    assert step["loss"] == "nan" and step["step"] == 1 and isinstance(step["time"], float)


def test_follower_returns_only_new_complete_lines(tmp_path):
    f = EventFollower(tmp_path)
    assert f.poll() == []
    w = EventWriter(tmp_path)
    w.emit(events_mod.Step(step=1, loss=1.0))
    assert [e.step for e in f.poll()] == [1]
    assert f.poll() == []
    with open(tmp_path / "events.jsonl", "a") as fh:  # a writer killed mid-line
        fh.write('{"type": "step", "st')
    assert f.poll() == []
    with open(tmp_path / "events.jsonl", "a") as fh:
        fh.write('ep": 2}\n')
    assert [e.step for e in f.poll()] == [2]
    assert [e.step for e in read_events(tmp_path)] == [1, 2]


def test_disabled_writer_writes_nothing(tmp_path):
    EventWriter(tmp_path / "r", enabled=False).emit(events_mod.Step(step=1))
    assert not (tmp_path / "r" / "events.jsonl").exists()
