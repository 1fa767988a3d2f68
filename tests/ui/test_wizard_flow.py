"""Pilot-driven flows through the wizard with the engine's slow parts faked."""

from pathlib import Path

import pytest
from fakes import FakeRunner, canned_events, llama_7b, make_engine, settle, wait_for, wizard, write_dataset
from textual.widgets import DataTable, Input, Static

from tuneui.contract import events as ev
from tuneui.contract.errors import ModelError
from tuneui.contract.events import EventWriter, parse_event
from tuneui.contract.runs import RunSummary

SIZE = (100, 30)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def goto(pilot, step: str) -> None:
    pilot.app.go_to(step)
    await settle(pilot)


async def test_back_and_next_keep_what_was_entered(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for step in ("model", "dataset", "clean", "technique", "settings"):
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert app.current_mode == step, text_of(app, "#nav-status")
        epochs = app.screen.query_one("#f-epochs", Input)
        epochs.value = "3"
        await pilot.pause()
        assert app.state.config.epochs == 3.0
        for _ in range(4):
            await pilot.press("escape")
            await settle(pilot)
        assert app.current_mode == "model"
        assert "sample.jsonl" in app.state.config.dataset
        for _ in range(4):
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert app.current_mode == "settings"
        assert app.screen.query_one("#f-epochs", Input).value == "3"


async def test_next_is_refused_until_the_step_is_complete(tmp_path):
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "dataset")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "dataset"
        assert "Load a dataset first" in text_of(app, "#nav-status")


async def test_dataset_problems_and_unreadable_files_are_shown_inline(tmp_path):
    data = write_dataset(tmp_path / "mine.jsonl", n=10, bad_line=True)
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "dataset")
        path = app.screen.query_one("#data-path", Input)
        path.value = str(tmp_path / "missing.jsonl")
        path.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "Cannot read" in text_of(app, "#detected")
        assert app.state.load_result is None
        path.value = str(data)
        await pilot.press("enter")
        await settle(pilot)
        assert "messages" in text_of(app, "#detected")
        problems = app.screen.query_one("#problems", DataTable)
        assert problems.row_count >= 1
        assert problems.get_row_at(0)[0] == "line 4"  # the broken line, by its number in the file
        assert app.state.load_result.examples == 10 and len(app.state.load_result.preview) == 10


async def test_column_mapping_is_applied(tmp_path):
    data = tmp_path / "qa.csv"
    data.write_text("q,a\nWhat is 2+2?,4\nCapital of France?,Paris\n", encoding="utf-8")
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "dataset")
        app.screen.query_one("#data-path", Input).value = str(data)
        app.screen.query_one("#format").value = "qa"
        app.screen.query_one("#columns", Input).value = "question=q, answer=a"
        await pilot.click("#reload")
        await settle(pilot)
        conv = app.state.load_result.preview[0].messages
        assert conv[-1] == {"role": "assistant", "content": "4"}
        assert app.state.config.columns == {"question": "q", "answer": "a"}


async def test_engine_errors_become_notifications_not_tracebacks(tmp_path):
    def broken(model):
        raise ModelError("no such directory or file", source=model)

    app = wizard(make_engine(tmp_path, inspect_model=broken), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "model")
        assert "Cannot use demo" in text_of(app, "#model-info")
        assert any("no such directory" in n.message for n in app._notifications)


async def test_override_that_does_not_fit_says_so(tmp_path):
    # The real recommender, for Llama-2-7B on a 24 GiB card: a full fine-tune cannot fit there.
    app = wizard(make_engine(tmp_path, gpu_gib=24, inspect_model=llama_7b), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "dataset")
        await goto(pilot, "technique")
        recommended = app.state.config.technique
        assert recommended != "full"
        assert "recommended" in text_of(app, "#choice")
        full = next(i for i, row in enumerate(app.screen._alts) if row.alternative.setup.technique == "full"
                    and not row.alternative.fits and row.alternative.available)
        app.screen.choose(full)
        await pilot.pause()
        assert app.state.config.technique == "full"
        assert "will not fit" in text_of(app, "#choice")
        app.screen.query_one("#use-recommended").press()  # the real reasons push it below the fold at 100x30
        await pilot.pause()
        assert app.state.config.technique == recommended


async def test_whatif_hardware_changes_the_plan(tmp_path):
    app = wizard(make_engine(tmp_path, gpu_gib=24), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "technique")
        await wait_for(pilot, lambda: app.state.recommendation is not None)
        gpu_plan = app.state.recommendation
        app.screen.query_one("#whatif", Input).value = "cpu"
        await pilot.click("#whatif-apply")
        await wait_for(pilot, lambda: "CPU only" in text_of(app, "#hw-line"))
        # A CPU computes in fp32, where the 24 GiB GPU plan used bf16: the plan follows the hardware.
        await wait_for(pilot, lambda: app.state.recommendation is not gpu_plan
                       and app.state.recommendation.precision == "fp32")
        assert gpu_plan.precision != "fp32"
        whatif = app.screen.query_one("#whatif", Input)
        whatif.value = "not-a-gpu"
        whatif.focus()
        await pilot.press("enter")  # submitting the field: the Plan button may be scrolled out of reach
        await wait_for(pilot, lambda: "not a GPU spec" in text_of(app, "#nav-status"))


async def test_settings_validate_inline(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "settings")
        lr = app.screen.query_one("#f-learning_rate", Input)
        lr.value = "abc"
        await pilot.pause()
        assert "not a number" in str(app.screen.query_one("#e-learning_rate", Static).render())
        lr.value = "5"
        await pilot.pause()
        assert "less than 1" in str(app.screen.query_one("#e-learning_rate", Static).render())
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "settings"
        lr.value = "1e-4"
        await pilot.pause()
        assert app.state.config.learning_rate == 1e-4
        assert str(app.screen.query_one("#e-learning_rate", Static).render()) == ""


def finished_run(root: Path, name: str = "earlier") -> Path:
    run_dir = root / name
    writer = EventWriter(run_dir)
    for raw in canned_events(20):
        writer.emit(parse_event(raw))
    return run_dir


async def test_training_runs_live_to_finished(tmp_path):
    runner = FakeRunner(tmp_path / "runs", script=canned_events(30))
    app = wizard(make_engine(tmp_path, runner=runner), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "dataset")
        await goto(pilot, "settings")
        app.screen.query_one("#f-name", Input).value = "mytune"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "train"
        screen = app.screen
        await wait_for(pilot, lambda: screen.progress.status == "finished")
        assert runner.started[0][0].name == "mytune" and runner.started[0][2] is False
        assert (tmp_path / "runs" / "mytune" / "run.toml").exists()
        assert len(screen.progress.loss) == 30
        assert "Finished" in str(screen.query_one("#warnings", Static).render())
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "chat"


async def test_stop_then_resume(tmp_path):
    runner = FakeRunner(tmp_path / "runs", script=canned_events(30, end=None)[:4])
    app = wizard(make_engine(tmp_path, runner=runner), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "settings")
        await pilot.press("ctrl+n")
        screen = app.screen
        await wait_for(pilot, lambda: screen.progress.step == 3)
        assert not screen.query_one("#stop").disabled
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: screen.progress.status == "stopped")
        assert runner.handles[0].stopped.is_set()
        assert "Stopped" in str(screen.query_one("#warnings", Static).render())
        runner.script = [{"type": "started", "step": 3, "total_steps": 30, "resumed_from": "step-3"}]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(runner.started) == 2 and screen.progress.status == "running")
        config, run_dir, resume = runner.started[1]
        assert resume is True and run_dir == runner.started[0][1]
        assert config.name == app.state.config.name
        # the resumed process appends after the old `stopped` event: the screen keeps following it
        EventWriter(run_dir).emit(ev.Step(step=4, loss=0.5, lr=1e-4))
        await wait_for(pilot, lambda: screen.progress.step == 4)
        assert screen.progress.status == "running" and screen.progress.loss[-1] == (4, 0.5)


async def test_a_custom_output_folder_shows_in_recent_runs_and_compare(tmp_path):
    from tuneui.contract.config import RunConfig
    from tuneui.contract.settings import update_settings
    from tuneui.screens.evaluate import EvaluateScreen

    update_settings(output_dir=str(tmp_path / "my-runs"))
    run_dir = finished_run(tmp_path / "my-runs", "mine")
    RunConfig(name="mine").save(run_dir / "run.toml")
    app = wizard(make_engine(tmp_path, runs=None), first_run=False)  # the real runs list
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        assert table.get_row_at(0)[:2] == ["mine", "finished"]
        app.push_screen(EvaluateScreen(None))
        await settle(pilot)
        compared = app.screen.query_one("#runs-table", DataTable)
        assert compared.row_count == 1 and compared.get_row_at(0)[0] == "mine"


async def test_open_a_run_from_welcome(tmp_path):
    run_dir = finished_run(tmp_path / "runs")
    runs = [RunSummary(name="earlier", run_dir=run_dir, status="finished", technique="lora",
                       started=1_789_999_000.0, last_loss=0.61, step=20)]
    app = wizard(make_engine(tmp_path, runs=runs), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        assert table.get_row_at(0)[:3] == ["earlier", "finished", "lora"]
        await pilot.click("#open-run")
        await settle(pilot)
        assert app.current_mode == "train"
        await wait_for(pilot, lambda: app.screen.progress.status == "finished")
        assert app.screen.progress.step == 20


async def test_monitor_attaches_to_a_run_dir(tmp_path):
    run_dir = finished_run(tmp_path / "runs", "watched")
    app = wizard(make_engine(tmp_path), monitor=run_dir, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.current_mode == "train"
        await wait_for(pilot, lambda: app.screen.progress.status == "finished")
        assert "watched" in text_of(app, "#run-title")


async def test_help_palette_and_theme(tmp_path):
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Go to step 5: Technique" in titles and "Help" in titles
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark is not dark


@pytest.mark.parametrize("size, steps", [((80, 24), ("model", "dataset", "clean", "technique", "settings", "train")),
                                         ((160, 50), ("dataset", "train"))])
async def test_steps_fit_small_and_large_terminals(tmp_path, size, steps):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for step in steps:
            await goto(pilot, step)
            nav = app.screen.query_one("#nav")
            assert nav.region.bottom <= size[1] - 1  # the Back/Next row stays on screen above the footer
