"""The live monitor survives any line in events.jsonl and follows the file when it is truncated or
replaced (like `tail -F`): the real app, attached to a run directory whose lock a live process holds."""

from __future__ import annotations

import json
import os

from fakes import make_engine, wait_for, wizard

from tuneui.contract import runlock

T0 = 1_790_000_000.0
HOSTILE = [
    '{"type":"started","time":"nan","step":0,"total_steps":"x"}',
    '{"type":"step","time":1e300,"step":1,"loss":1.0}',
    '{"type":"step","time":-1e20,"step":-5,"loss":"inf","mem_bytes":"nan","tokens_per_s":"inf","epoch":"nan"}',
    '{"type":"step","time":1.0,"step":100000000000000000000000,"loss":[1,2]}',
    '{"type":"eval","time":2.0,"step":2,"eval_loss":{"a":1}}',
    '{"type":"checkpoint","time":3,"step":3,"path":null}',
    '{"type":"warning","time":3,"step":3,"reason":5,"advice":["x"]}',
    '{"type":"warning","time":3,"step":3,"reason":"\\ud800 half a character","advice":"\\udfff"}',
    '{"type":"started","time":4,"step":0,"total_steps":-3,"resumed_from":7,"pid":"me"}',
    '{"type":"step","time":5,"step":"7","loss":"1e999","grad_norm":true}',
    '{"type":"finished","time":"soon","step":-1,"report":"not a dict","train_loss":"x"}',
    '{"type":"failed","time":true,"step":false,"reason":null,"advice":{"deep":' + "[" * 500 + "]" * 500 + "}}",
    '{"type":"stopped","time":' + "9" * 400 + ',"step":1}',
    '{"type":"step","time":' + "[" * 5000 + "]" * 5000 + "}",
    "[1,2,3]", '"a string"', "null", "", "   ", "\x00\x01\x02", '{"type": "step"', "{" * 10,
]


def line(**event) -> str:
    return json.dumps(event)


async def test_monitor_survives_hostile_lines_and_follows_a_replaced_file(tmp_path):
    run = tmp_path / "runs" / "hostile"
    run.mkdir(parents=True)
    (run / "run.toml").write_text('name = "hostile"\n')
    events = run / "events.jsonl"
    good = [line(type="started", time=T0, step=0, total_steps=20, technique="lora", model="demo")]
    events.write_text("\n".join(good + HOSTILE + [line(type="step", time=T0 + 1, step=3, loss=2.0)]) + "\n")
    lock = runlock.acquire(run, "training")  # this process plays the live trainer
    try:
        app = wizard(make_engine(tmp_path), monitor=run, first_run=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.current_mode == "train" and app.screen.progress.step == 3)
            assert app.screen.progress.status == "running"

            with events.open("a") as fh:  # more bad lines arrive while watching
                fh.write("\n".join(HOSTILE[::-1] + [line(type="step", time=T0 + 2, step=5, loss=1.5)]) + "\n")
            await wait_for(pilot, lambda: app.screen.progress.step == 5)

            with events.open("r+") as fh:  # truncated in place, then written again: read from the top
                fh.truncate(0)
                fh.write(line(type="step", time=T0 + 3, step=6, loss=1.4) + "\n")
            await wait_for(pilot, lambda: app.screen.progress.step == 6)

            replacement = run / "events.new"  # replaced by rename: another inode, longer than before
            replacement.write_text("\n".join([good[0]] + [line(type="step", time=T0 + 4 + i, step=10 + i, loss=1.0)
                                                          for i in range(40)]) + "\n")
            os.replace(replacement, events)
            await wait_for(pilot, lambda: app.screen.progress.step == 49)

            events.unlink()  # deleted: nothing to read, and no crash; a new file is read from its start
            await pilot.pause(0.2)
            events.write_text(line(type="finished", time=T0 + 60, step=49, train_loss=1.0, eval_loss=1.1) + "\n")
            await wait_for(pilot, lambda: app.screen.progress.status == "finished")
    finally:
        lock.release()
