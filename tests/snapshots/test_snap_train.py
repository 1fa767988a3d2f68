from pathlib import Path

from fakes import canned_events, typed
from snap_helpers import SIZE, app_with, at


def post(events):
    async def before(pilot):
        screen = pilot.app.screen
        pilot.app.state.run_dir = Path("runs/demo")
        screen.post_message(screen.EventsArrived(typed(events)))
        await pilot.pause()

    return before


def test_train_no_run_yet(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("train"))


def test_train_live_with_warning(snap_compare, tmp_path):
    events = canned_events(30, end=None)[:20]
    events.append({"type": "warning", "time": events[-1]["time"], "step": 17,
                   "reason": "eval loss rose twice while train loss fell: the model may be overfitting",
                   "advice": "stop here, or lower epochs / learning rate"})
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("train", before=post(events)))


def test_train_live_80x24(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=(80, 24),
                        run_before=at("train", before=post(canned_events(30, end=None)[:25])))


def test_train_finished(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("train", before=post(canned_events(30))))


def test_train_failed(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE,
                        run_before=at("train", before=post(canned_events(30, end="failed"))))


def preference_events(n_steps: int = 30) -> list[dict]:
    """A DPO run's stream, shaped like the measured demo-tiny runs (tests/engine/test_preference_watch.py): the
    margin grows, the rejected reward falls faster than the chosen one, which starts to fall too; a validation
    every 10 steps, and the warning the chosen replies' fall raises."""
    events = canned_events(n_steps, end=None)[:1]
    t0 = events[0]["time"]
    for s in range(1, n_steps + 1):
        chosen = 0.25 * s ** 0.5 - 0.03 * s
        rejected = -0.2 * s ** 0.8
        events.append({"type": "step", "time": t0 + 2 * s, "step": s, "loss": round(0.69 * 0.93 ** s + 0.05, 4),
                       "lr": 5e-6, "grad_norm": 3.2, "tokens_per_s": 910.0, "mem_bytes": 1.4 * 1024**3,
                       "epoch": round(s / n_steps, 3), "total_steps": n_steps,
                       "rewards_chosen": round(chosen, 4), "rewards_rejected": round(rejected, 4),
                       "reward_margin": round(chosen - rejected, 4), "reward_accuracy": min(1.0, 0.5 + s / 40)})
        if s % 10 == 0:
            events.append({"type": "eval", "time": t0 + 2 * s + 1, "step": s, "pref_accuracy": 0.6 + s / 300,
                           "pref_margin": round(0.04 * s, 3), "logp_chosen": -48.0 - 0.1 * s,
                           "logp_rejected": -52.0 - 0.25 * s, "logp_drift": round(-0.06 * s, 3), "pref_pairs": 20})
    events.append({"type": "warning", "time": t0 + 2 * n_steps + 1, "step": n_steps,
                   "reason": "the chosen replies are becoming less likely: their log-probability fell 3 evaluations "
                             "in a row (-48.0 -> -51.0), 1.8 nats below the reference model",
                   "advice": "lower the learning rate or raise pref_beta"})
    return events


def test_train_preference_live(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE,
                        run_before=at("train", before=post(preference_events())))


def test_train_preference_live_80x24(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=(80, 24),
                        run_before=at("train", before=post(preference_events()[:25])))
