"""Sweep screen (opened from the command palette / Settings): trials ranked as they finish, the best
setting applied to the wizard's run config, bad input reported."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from fakes import settle, wizard  # noqa: E402
from loop_fakes import LoopEngine  # noqa: E402
from textual.widgets import DataTable, Input, Static  # noqa: E402

from tuneui.contract.loop import SweepResult  # noqa: E402
from tuneui.screens.sweep import SweepScreen  # noqa: E402

SIZE = (100, 30)


def fake_run_sweep(calls):
    def run(config, out_dir, *, trials, steps, max_train, on_update, stop):
        calls.append((out_dir, steps, max_train, [t.overrides for t in trials]))
        result = SweepResult(out_dir=Path(out_dir), trials=trials)
        for t in trials:
            t.status, t.val_loss, t.train_loss, t.seconds = "finished", 1 + abs(t.overrides["learning_rate"] - 2e-4) * 1e3, 1.2, 10.0
            for i, r in enumerate(result.ranked, 1):
                r.rank = i
            on_update(result)
        return result

    return run


def test_snapshot_sweep_results(tmp_path, snap_compare):
    app = wizard(LoopEngine(tmp_path, run_sweep=fake_run_sweep([])), first_run=False)
    app.notify = lambda *a, **k: None

    async def run_before(pilot):
        await settle(pilot)
        app.state.config = app.state.config.model_copy(update={"name": "zorbish", "learning_rate": 2e-4})
        app.push_screen(SweepScreen(app.state.config, out_dir=Path("/runs/zorbish-sweep")))
        await settle(pilot)
        await pilot.click("#sweep-start")
        await settle(pilot)
        app.screen.set_focus(None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_best_setting_is_applied_to_the_run_config(tmp_path):
    calls: list = []
    app = wizard(LoopEngine(tmp_path, run_sweep=fake_run_sweep(calls)), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.state.config = app.state.config.model_copy(update={"technique": "lora", "learning_rate": 6e-4,
                                                               "lora_r": 16, "lora_alpha": 32})
        app.action_open_sweep()
        await settle(pilot)
        screen = app.screen
        screen.query_one("#sweep-steps", Input).value = "5"
        await pilot.click("#sweep-start")
        await settle(pilot)
        (out, steps, examples, overrides), = calls
        assert steps == 5 and examples == 400 and len(overrides) == 6
        assert screen.query_one("#trials", DataTable).row_count == 6
        assert "best: learning_rate=0.0002, lora_r=8" in str(screen.query_one("#sweep-status", Static).render())
        await pilot.click("#sweep-apply")
        await settle(pilot)
        assert not isinstance(app.screen, SweepScreen)
        assert app.state.config.learning_rate == 2e-4 and app.state.config.lora_alpha / app.state.config.lora_r == 2


async def test_bad_numbers_are_reported_and_nothing_starts(tmp_path):
    calls: list = []
    app = wizard(LoopEngine(tmp_path, run_sweep=fake_run_sweep(calls)), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.action_open_sweep()
        await settle(pilot)
        app.screen.query_one("#sweep-lr", Input).value = "fast, slow"
        await pilot.click("#sweep-start")
        await settle(pilot)
        assert calls == []
        assert "comma-separated numbers" in str(app.screen.query_one("#sweep-status", Static).render())
