"""The base model is measured after training (tuneui/training/base_eval.py): the training screen says so while
it runs, the base's step-0 point lands at the start of the curve although it comes last, and Stop pressed
during it changes what the screen says at once, then shows the run as stopped."""

from __future__ import annotations

from fakes import FakeRunner, canned_events, make_engine, settle, wait_for, wizard
from textual.widgets import Static

from tuneui.contract import events as ev
from tuneui.contract.events import EventWriter
from tuneui.screens.run_model import RunProgress

SIZE = (100, 30)
PROGRESS = "base evaluation: 16/64 prompts answered"


def after_training(n_steps: int = 30) -> list[dict]:
    events = canned_events(n_steps, end=None)
    t = events[-1]["time"]
    return events + [{"type": "preparing", "time": t + 1, "step": n_steps,
                      "message": "base evaluation: measuring the base model for the comparison (the adapter is saved)"},
                     {"type": "preparing", "time": t + 5, "step": n_steps, "message": PROGRESS}]


def test_the_base_point_measured_last_starts_the_curve_and_the_phase_says_what_runs():
    p = RunProgress()
    for e in after_training(30):
        p.add(ev.parse_event(e))  # type: ignore[arg-type]
    assert p.phase == PROGRESS
    last = p.eval_loss[-1]
    p.add(ev.Eval(step=0, eval_loss=3.9, base=True))
    assert p.eval_loss[0] == (0, 3.9) and p.eval_loss[-1] == last  # "eval loss" in the stats stays the latest
    assert [s for s, _ in p.eval_loss] == sorted(s for s, _ in p.eval_loss)
    assert "base model: eval loss 3.9" in p.log[-1]
    p.add(ev.Stopped(step=30, reason="stopped by SIGINT during base evaluation: 16/64 prompts answered"))
    assert p.phase == "" and p.status == "stopped"


async def test_stop_during_the_base_evaluation_is_seen_at_once(tmp_path):
    runner = FakeRunner(tmp_path / "runs", script=after_training(30))
    app = wizard(make_engine(tmp_path, runner=runner), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        app.go_to("settings")
        await settle(pilot)
        await pilot.press("ctrl+n")
        screen = app.screen
        await wait_for(pilot, lambda: screen.progress.phase == PROGRESS)
        assert PROGRESS in str(screen.query_one("#run-title", Static).render())
        assert not screen.query_one("#stop").disabled
        handle = runner.handles[0]
        handle.stop = lambda: handle.stopped.set() or True  # a real signal: the process answers a moment later
        await pilot.press("ctrl+x")
        await pilot.pause()
        said = str(screen.query_one("#nav-status", Static).render())
        assert "evaluation in progress is cut short" in said and "checkpoint" not in said
        assert handle.stopped.is_set() and screen.query_one("#stop").disabled
        # what the run writes when the signal cuts the base evaluation short (runner.run_training)
        writer = EventWriter(handle.run_dir)
        writer.emit(ev.Warning(step=30, reason="stopped during the base evaluation: the base model was not measured",
                               advice="`tuneui evaluate RUN` measures base and tuned later"))
        writer.emit(ev.Stopped(step=30, reason="stopped by SIGINT during base evaluation: 16/64 prompts answered"))
        await wait_for(pilot, lambda: screen.progress.status == "stopped")
        assert "Stopped" in str(screen.query_one("#warnings", Static).render())
        assert PROGRESS not in str(screen.query_one("#run-title", Static).render())


def test_the_wizard_stop_words_follow_the_phase():
    p = RunProgress()
    p.add(ev.Started(step=0, total_steps=10))
    assert "before its first step" in p.stop_words()
    p.add(ev.Step(step=1, loss=2.0))
    assert "checkpoint" in p.stop_words()
    p.add(ev.Preparing(step=10, message="final evaluation: 3/8 prompts answered"))
    assert "cut short" in p.stop_words()
