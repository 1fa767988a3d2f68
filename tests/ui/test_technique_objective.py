"""The Technique step's objective (issue 13, wizard): with preference pairs it offers DPO and the choice,
with the finished run to start from, reaches the RunConfig the wizard starts; with SFT data it offers
SFT only and says why; Settings shows the preference fields for a preference run only."""

from __future__ import annotations

from pathlib import Path

from fakes import make_engine, settle, wizard
from textual.widgets import Input, Select

from tuneui.contract.config import RunConfig
from tuneui.contract.runs import RunSummary

PAIRS = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"
SIZE = (100, 40)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def _finished_sft_run(root: Path, model: str) -> RunSummary:
    run_dir = root / "sft-first"
    run_dir.mkdir(parents=True)
    RunConfig(name="sft-first", model=model).save(run_dir / "run.toml")
    return RunSummary("sft-first", run_dir, "finished", "lora", None, 0.5, 10)


def _wizard(tmp_path: Path, run_model: str):
    """The demo wizard with one finished run, on `run_model`, in its runs list."""
    sft = _finished_sft_run(tmp_path / "runs", run_model)
    engine = make_engine(tmp_path, runs=[sft])
    return engine, wizard(engine, demo=True, first_run=False), sft


async def _load(pilot, path: Path) -> None:
    app = pilot.app
    await settle(pilot)
    app.go_to("dataset")
    await settle(pilot)
    box = app.screen.query_one("#data-path", Input)
    box.value = str(path)
    box.focus()
    await pilot.press("enter")
    await settle(pilot)


async def test_preference_pairs_offer_dpo_and_the_choice_reaches_the_started_run(tmp_path):
    engine, app, sft = _wizard(tmp_path, "demo")
    async with app.run_test(size=SIZE) as pilot:
        await _load(pilot, PAIRS)
        assert app.state.load_result.kind == "preference"
        assert app.state.load_result.objectives == ["dpo", "orpo", "simpo"]
        assert "trained with DPO" in text_of(app, "#nav-status")
        for step in ("clean", "technique"):  # Next walks on: the data is trainable, by DPO
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert app.current_mode == step, text_of(app, "#nav-status")
        objective = app.screen.query_one("#objective", Select)
        assert [str(o[0]) for o in objective._options] == [  # noqa: SLF001
            "DPO (preference pairs)", "ORPO (pairs, no reference)", "SimPO (pairs, no reference)"]
        assert app.state.config.objective == "dpo" and not app.state.config.packing
        words = text_of(app, "#objective-words")
        assert "which of two answers" in words and "No SFT" in words
        start = app.screen.query_one("#start-from", Select)
        assert not start.disabled and (str(sft.run_dir)) in [o[1] for o in start._options]  # noqa: SLF001
        start.value = str(sft.run_dir)
        await settle(pilot)
        assert app.state.config.start_from == str(sft.run_dir)

        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "settings"
        screen = app.screen
        assert screen.query_one("#row-pref_beta").display and screen.query_one("#row-dpo_loss_type").display
        assert not screen.query_one("#row-kto_loss_type").display and not screen.query_one("#row-packing").display
        screen.query_one("#f-dpo_loss_type", Select).value = "ipo"
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        started = engine.runner.started[-1][0]
        assert (started.objective, started.dpo_loss_type, started.start_from) == ("dpo", "ipo", str(sft.run_dir))
        assert "objective = \"dpo\"" in (engine.runner.started[-1][1] / "run.toml").read_text()


async def test_sft_data_offers_sft_only_and_says_why(tmp_path):
    engine, app, _ = _wizard(tmp_path, "some/other-model")
    async with app.run_test(size=SIZE) as pilot:
        await _load(pilot, engine.sample)
        assert app.state.load_result.kind == "sft"
        app.go_to("technique")
        await settle(pilot)
        objective = app.screen.query_one("#objective", Select)
        assert [o[1] for o in objective._options] == ["sft"] and objective.disabled  # noqa: SLF001
        assert app.state.config.objective == "sft"
        assert "No preference tuning" in text_of(app, "#objective-words")
        # A finished run on another model is no start for this one.
        assert app.screen.query_one("#start-from", Select).disabled
        app.go_to("settings")
        await settle(pilot)
        assert not app.screen.query_one("#row-pref_beta").display and app.screen.query_one("#row-packing").display
