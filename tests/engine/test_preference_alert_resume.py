"""A resumed preference run carries its alerts' history over the stop: the watch is rebuilt from the run's own
events.jsonl up to the checkpoint's step, so a trend that spans the stop is seen, an alert given before it is not
given again, and what an earlier session wrote past the checkpoint (trained again after the resume) does not count."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.engine.runs import kill_after_checkpoint_then_resume
from tests.engine.test_preference_watch import FALLING
from tuneui.contract import events as ev
from tuneui.contract.config import RunConfig
from tuneui.trackers import installed
from tuneui.training.preference_watch import PreferenceWatch
from tuneui.training.resume import events_until

# The training margin logged after each of FALLING's evaluations (the Trainer logs a step after its evaluation).
MARGINS = [0.0, 2.058, 3.840, 4.385, 4.657]


def _session(points=FALLING, margins=MARGINS, started_at: int = 0) -> list[ev.Event]:
    """The events a session writes, as the runner orders them: started, then per step its evaluation (every
    step here), the step's log, and a checkpoint."""
    out: list[ev.Event] = [ev.Started(step=started_at, technique="lora")]
    for p, m in zip(points, margins):
        if p.step <= started_at:
            continue
        out.append(ev.Eval(step=p.step, pref_accuracy=p.accuracy, pref_margin=-0.08, logp_chosen=p.logp_chosen,
                           logp_rejected=p.logp_rejected, logp_drift=p.logp_drift, pref_pairs=1))
        out.append(ev.Step(step=p.step, loss=0.7, reward_margin=m))
        out.append(ev.Checkpoint(step=p.step, path=f"checkpoints/step-{p.step}"))
    return out


def _live(watch: PreferenceWatch, events: list[ev.Event]) -> list[tuple[int, str]]:
    """Feed events as the callback does while training; (step, first words) of each alert raised."""
    raised = []
    for e in events:
        if isinstance(e, ev.Step):
            watch.note_step(e.reward_margin)
        elif isinstance(e, ev.Eval):
            raised += [(e.step, reason.split(":")[0]) for reason, _ in watch.note_eval(e.step, e.model_dump())]
    return raised


UNINTERRUPTED = [(4, "the chosen replies are becoming less likely"), (5, "possible reward hacking")]


def test_the_uninterrupted_run_raises_each_alert_once():
    assert _live(PreferenceWatch(), _session()) == UNINTERRUPTED


@pytest.mark.parametrize("ckpt", [1, 2, 3, 4, 5])
def test_resuming_from_any_checkpoint_raises_what_the_uninterrupted_run_raises_after_it(ckpt):
    # The first session ran past its checkpoint (killed at step 5): those steps are trained again after the resume.
    first = _session()
    watch = PreferenceWatch()
    watch.replay(events_until(first, ckpt))
    resumed = _session(started_at=ckpt)
    assert _live(watch, resumed) == [a for a in UNINTERRUPTED if a[0] > ckpt]
    # The same history as the run that never stopped, margins included.
    whole = PreferenceWatch()
    _live(whole, _session())
    assert watch.history == whole.history


def test_without_the_carried_history_the_resumed_run_misses_the_trend_or_repeats_the_alert():
    """What the carry-over fixes: an empty watch after a resume at step 3 sees no trend of three evaluations,
    and a history without the alerts given would raise the chosen alert a second time."""
    assert _live(PreferenceWatch(), _session(started_at=3)) == []
    forgetful = PreferenceWatch()
    _live(forgetful, events_until(_session(), 4))
    forgetful._said.clear()
    assert [a[0] for a in _live(forgetful, _session(started_at=4))] == [5, 5]  # chosen again, and hacking


def test_events_past_the_checkpoint_and_superseded_sessions_do_not_count():
    """Killed twice: the first session ran to step 5 after its checkpoint at 2, the second (resumed at 2) to step 4
    after its checkpoint at 3 with other figures. Resuming at 3 sees 1-2 of the first session, 3 of the second."""
    other = [type(p)(p.step, p.accuracy, p.margin, p.logp_chosen - 5, p.logp_rejected, p.logp_drift) for p in FALLING]
    events = _session() + _session(other[:4], MARGINS[:4], started_at=2)
    kept = [(e.step, e.logp_chosen) for e in events_until(events, 3) if isinstance(e, ev.Eval)]
    assert kept == [(1, FALLING[0].logp_chosen), (2, FALLING[1].logp_chosen), (3, other[2].logp_chosen)]
    steps = [e.step for e in events_until(events, 3) if isinstance(e, ev.Step)]
    assert steps == [1, 2, 3]


def test_base_points_warnings_and_sft_evaluations_are_not_validations():
    watch = PreferenceWatch()
    watch.replay([ev.Eval(step=0, eval_loss=2.0, base=True), ev.Eval(step=2, eval_loss=1.5),
                  ev.Warning(step=2, reason="x"), ev.Step(step=2, loss=1.0)])
    assert watch.history == []


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not {"tensorboard", "trackio"} <= set(installed()), reason="needs the tensorboard and trackio extras")
def test_a_dpo_run_killed_after_its_checkpoint_warns_after_the_resume_as_it_would_have(tmp_path):
    """tests/engine/test_preference_live.py's run (chosen alert at step 4, reward hacking at 5), killed once its
    checkpoint at step 3 is written: the resumed session alone has only two evaluations before the end, too few
    for a trend, so both alerts come from the history carried over. Its trackers get every validation's figures."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tests.engine.test_preference_live import PAIRS

    cfg = RunConfig(model="demo-tiny", dataset=str(PAIRS), clean=False, technique="lora", lora_r=8,
                    learning_rate=5e-3, pref_beta=0.1, objective="dpo", micro_batch_size=4, max_steps=6,
                    logging_steps=1, eval_steps=1, save_steps=3, warmup_ratio=0.0, eval_max_examples=8,
                    max_seq_length=160, seed=7, val_fraction=0.3, name="pref", report_to=["tensorboard", "trackio"])
    run = tmp_path / "run"
    session = kill_after_checkpoint_then_resume(cfg, run)
    assert session[0].resumed_from is not None and session[0].resumed_from.endswith("step-3")
    warnings = [(e.step, e.reason.split(":")[0]) for e in session if isinstance(e, ev.Warning) and e.step > 0]
    assert warnings == UNINTERRUPTED
    assert session[-1].type == "finished"

    # Both sessions' validations reached the trackers as eval/<field>, the names of the eval events' fields.
    evals = {e.step: e for e in session if isinstance(e, ev.Eval) and not e.base}
    assert sorted(evals) == [4, 5]
    acc = EventAccumulator(str(run / "trackers" / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    for name in ("pref_accuracy", "pref_margin", "logp_chosen", "logp_rejected", "logp_drift"):
        points = {s.step: s.value for s in acc.Scalars(f"eval/{name}")}
        assert {1, 2, 3, 4, 5} <= set(points)
        assert all(points[s] == pytest.approx(getattr(evals[s], name), rel=1e-6) for s in (4, 5))
    logged: dict[int, dict] = {}  # trackio numbers its rows itself; the Trainer's step is train/global_step
    with sqlite3.connect(next((run / "trackers" / "trackio").glob("*.db"))) as db:
        for (metrics,) in db.execute("SELECT metrics FROM metrics"):
            row = json.loads(metrics)
            if "eval/pref_accuracy" in row:
                logged[row["train/global_step"]] = row
    # trackio writes from a background thread: rows the killed session had not flushed before SIGKILL may be lost
    # (a clean-clone run lost step 3), so only the resumed session's rows are required here
    assert {4, 5} <= set(logged)
    assert all(logged[s]["eval/pref_accuracy"] == pytest.approx(evals[s].pref_accuracy) for s in (4, 5))
    assert all(logged[s]["eval/logp_drift"] == pytest.approx(evals[s].logp_drift) for s in (4, 5))
