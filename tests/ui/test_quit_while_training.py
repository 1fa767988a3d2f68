"""Quitting the wizard while a run trains says that the run goes on and how to re-attach (issue 16, item 8)."""

from __future__ import annotations

from fakes import FakeHandle, make_engine, settle, wizard

from tuneui.screens.app import still_training


async def test_quitting_during_training_names_the_run_and_the_monitor_command(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    handle = FakeHandle(tmp_path / "runs" / "demo")  # poll() None: the process lives
    async with app.run_test(size=(100, 30)) as pilot:
        app.state.run_handle = handle
        await settle(pilot)
        await pilot.press("ctrl+q")
    line = still_training(app)
    assert line is not None
    assert f"in {handle.run_dir}" in line and f"tuneui monitor {handle.run_dir}" in line

    handle.code = 0  # finished: nothing goes on, nothing to say
    assert still_training(app) is None
    app.state.run_handle = None
    assert still_training(app) is None
