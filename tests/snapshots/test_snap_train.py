from pathlib import Path

from fakes import canned_events, preference_events, typed
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


def test_train_preference_live(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE,
                        run_before=at("train", before=post(preference_events())))


def test_train_preference_live_80x24(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=(80, 24),
                        run_before=at("train", before=post(preference_events()[:25])))
