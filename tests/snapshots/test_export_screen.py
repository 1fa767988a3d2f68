"""Export screen: the form for a finished run, the result after exporting, the options reaching
the engine, and errors shown inline."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from fakes import settle  # noqa: E402
from loop_fakes import RUN, SIZE, loop_app  # noqa: E402
from textual.widgets import Checkbox, Input, Select, Static  # noqa: E402

from tuneui.screens.app import TuneApp  # noqa: E402


def export_app(tmp_path, **kwargs) -> TuneApp:
    return loop_app(tmp_path, **kwargs)


def at_export(before=None):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.go_to("export")
        await settle(pilot)
        if before:
            await before(pilot)
            await settle(pilot)
        pilot.app.screen.set_focus(None)
        await pilot.pause()

    return run_before


async def press_export(pilot):
    pilot.app.screen.query_one("#merge", Checkbox).value = True
    await pilot.click("#do-export")


def test_snapshot_export_form(tmp_path, snap_compare):
    assert snap_compare(export_app(tmp_path), terminal_size=SIZE, run_before=at_export())


def test_snapshot_export_done(tmp_path, snap_compare):
    assert snap_compare(export_app(tmp_path), terminal_size=SIZE, run_before=at_export(press_export))


async def test_options_reach_the_engine_and_gguf_is_explained(tmp_path):
    app = loop_app(tmp_path, quiet=False)
    engine = app.engine
    async with app.run_test(size=SIZE) as pilot:
        await at_export()(pilot)
        assert app.screen.query_one("#export-dir", Input).value == "/runs/demo-run-export"
        assert not app.screen.query_one("#gguf", Checkbox).disabled  # no llama.cpp needed for Llama-family models
        note = str(app.screen.query_one("#gguf-note", Static).render())
        assert "written by tuneui" in note and "LLAMA_CPP_DIR" in note
        app.screen.query_one("#hub-repo", Input).value = "me/zorbish"
        app.screen.query_one("#gguf", Checkbox).value = True
        app.screen.query_one("#quant", Select).value = "q4_k_m"
        await press_export(pilot)
        await settle(pilot)
        (run, out, options), = engine.exports
        assert (run, out) == (RUN, Path("/runs/demo-run-export"))
        assert (options.merge, options.gguf, options.quant, options.push_to_hub) == (True, True, "q4_k_m",
                                                                                     "me/zorbish")
        assert "Exported the merged model" in str(app.screen.query_one("#export-result", Static).render())


async def test_export_errors_are_shown_and_the_button_comes_back(tmp_path):
    from tuneui.contract.errors import TuneuiError

    def fail(run, out, options):
        raise TuneuiError(f"{out}: already exists and is not empty")

    app = loop_app(tmp_path, quiet=False, export_run=fail)
    async with app.run_test(size=SIZE) as pilot:
        await at_export(press_export)(pilot)
        assert "not empty" in str(app.screen.query_one("#nav-status", Static).render())
        assert not app.screen.query_one("#do-export").disabled
