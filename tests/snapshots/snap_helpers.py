"""Building blocks for the snapshot tests: an app at a given step with fakes, ready to screenshot."""

from __future__ import annotations

from fakes import make_engine, settle, wizard

from tuneui.screens.app import TuneApp

SIZE = (100, 30)


def app_with(tmp_path, **kwargs) -> TuneApp:
    demo = kwargs.pop("demo", True)
    app = wizard(make_engine(tmp_path, relative=True, **kwargs), demo=demo, first_run=False)
    # Toasts time out and carry per-run ids in their click metadata, so they would make pictures
    # flaky; what they say is also on screen, and the Pilot tests check the notifications.
    app.notify = lambda *args, **kwargs: None
    return app


def at(step: str, *, before=None):
    """A run_before callback: go to `step` (after the steps before it did their work), then `before`."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.go_to(step)
        await settle(pilot)
        if before is not None:
            await before(pilot)
            await settle(pilot)
        pilot.app.screen.set_focus(None)  # no blinking cursor in the picture
        # Logs scroll to their end after a refresh: let that happen before the picture is taken.
        for _ in range(3):
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()

    return run_before


async def sample_pairs(pilot) -> None:
    """On the Dataset step: press 'Sample pairs' (the demo's preference pairs) and let them load."""
    await pilot.click("#sample-pairs")
    await settle(pilot)


def choose_objective(objective: str, *, then: str | None = None):
    """A `before` callback: the Technique step's objective set to `objective`, then step `then`."""

    async def choose(pilot) -> None:
        from textual.widgets import Select

        pilot.app.go_to("technique")
        await settle(pilot)
        pilot.app.screen.query_one("#objective", Select).value = objective
        await settle(pilot)
        if then is not None:
            pilot.app.go_to(then)
            await settle(pilot)

    return choose
