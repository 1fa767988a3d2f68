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


def test_follower_follows_a_truncated_replaced_or_recreated_file(tmp_path):
    """Like `tail -F`: a file truncated, replaced by rename or deleted and written again is read from
    its start, instead of from the old offset (which skipped every event written meanwhile)."""
    import os

    path = tmp_path / "events.jsonl"
    w, f = EventWriter(tmp_path), EventFollower(tmp_path)
    for i in range(1, 6):
        w.emit(events_mod.Step(step=i, loss=1.0))
    assert [e.step for e in f.poll()] == [1, 2, 3, 4, 5]
    path.write_text("")  # truncated
    w.emit(events_mod.Step(step=10))
    assert [e.step for e in f.poll()] == [10]
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps({"type": "step", "time": 1.0, "step": s}) + "\n" for s in range(20, 40)))
    os.replace(new, path)  # another inode, longer than what was read
    assert [e.step for e in f.poll()] == list(range(20, 40))
    path.unlink()
    assert f.poll() == []
    w.emit(events_mod.Step(step=50))
    assert [e.step for e in f.poll()] == [50]
    with path.open("r+") as fh:  # rewritten in place past the old size before the next poll
        fh.write("".join(json.dumps({"type": "step", "time": 2.0, "step": s}) + "\n" for s in range(60, 70)))
    assert [e.step for e in f.poll()] == list(range(60, 70))


def test_reader_drops_out_of_range_fields_and_keeps_the_event():
    from tuneui.contract.events import parse_line

    ev = parse_line('{"type": "step", "time": 1e300, "step": -5, "loss": "nan", "mem_bytes": "inf"}')
    assert ev.type == "step" and ev.time == 0.0 and ev.step == 0 and ev.mem_bytes is None
    assert ev.loss != ev.loss  # a NaN loss is kept: it is news
    warning = parse_line('{"type": "warning", "reason": "bad \\ud800 text"}')
    assert warning.reason == "bad ? text"
    assert parse_line('{"type": "step", "step": ' + "[" * 5000 + "]" * 5000 + "}") is None  # unreadable: skipped


def test_a_preference_eval_round_trips_and_an_sft_eval_stays_what_it_was(tmp_path):
    w = EventWriter(tmp_path)
    w.emit(events_mod.Eval(step=10, eval_loss=1.25))
    w.emit(events_mod.Eval(step=20, pref_accuracy=0.625, pref_margin=0.41, logp_chosen=-48.2, logp_rejected=-52.9,
                   logp_drift=-0.31, pref_pairs=8))
    sft, pref = read_events(tmp_path)
    assert not sft.is_preference and sft.pref_accuracy is None and sft.eval_loss == 1.25
    assert pref.is_preference and pref.eval_loss is None
    assert pref.preference_summary() == "preference accuracy 62% of 8 pairs, margin 0.410, chosen logp -0.31 vs reference"
    # an accuracy outside [0, 1] is dropped, the rest of the event kept
    bad = events_mod.parse_event({"type": "eval", "step": 3, "pref_accuracy": 1.5, "pref_margin": 0.2})
    assert isinstance(bad, events_mod.Eval) and bad.pref_accuracy is None and bad.pref_margin == 0.2


def test_unset_fields_are_left_out_and_every_reader_gets_the_same_events_back(tmp_path):
    """An SFT step has no rewards, a preference validation no eval loss: the line leaves them out (no `null`s),
    and read_events, the follower and parse_line give back the events as written; a None inside a
    finished event's report stays (it is the report's own value, not an unset field)."""
    written = [
        events_mod.Started(step=0, technique="lora", total_steps=4, refusals={"no_reply": 0}),
        events_mod.Step(step=1, loss=1.5, lr=1e-4),
        events_mod.Step(step=2, loss=float("nan"), reward_margin=0.25, reward_accuracy=0.5),
        events_mod.Eval(step=2, eval_loss=1.25),
        events_mod.Eval(step=0, eval_loss=2.0, base=True),
        events_mod.Eval(step=3, pref_accuracy=0.75, pref_margin=0.1, logp_chosen=-20.0, pref_pairs=4),
        events_mod.Checkpoint(step=3, path="checkpoints/step-3"),
        events_mod.Warning(step=3, reason="r"),
        events_mod.Stopped(step=3, reason="stopped by SIGINT"),
        events_mod.Finished(step=4, train_loss=1.0, report={"eval_loss": {"base": None, "tuned": 1.0}}),
    ]
    follower, w = EventFollower(tmp_path), EventWriter(tmp_path)
    stamped = [w.emit(e) for e in written]
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert not any(": null" in line for line in lines[:-1])
    assert json.loads(lines[1]).keys() == {"type", "time", "step", "loss", "lr"}
    assert json.loads(lines[-1])["report"]["eval_loss"]["base"] is None

    def same(a, b):  # NaN is not equal to itself: compare it as the writer says it
        return json.dumps(a.model_dump(), default=str) == json.dumps(b.model_dump(), default=str)

    for read in (read_events(tmp_path), follower.poll(), [events_mod.parse_line(ln) for ln in lines]):
        assert len(read) == len(stamped) and all(same(a, b) for a, b in zip(read, stamped))
    # the fields the writer leaves out read back as None, not as missing attributes
    assert read_events(tmp_path)[1].reward_margin is None and read_events(tmp_path)[5].eval_loss is None
