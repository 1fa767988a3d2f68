"""The demo's preference pairs in the wizard (issue 13, wizard): 'Sample pairs' on the Dataset step loads
the pairs `tuneui train --demo --objective dpo` trains, with their held-out pairs; the Technique step
offers DPO, ORPO and SimPO for them; the run the wizard starts is the CLI's DPO demo (its settings, its
files), or a SimPO run with the margin edited on Settings. Every config it starts validates."""

from __future__ import annotations

from pathlib import Path

from fakes import make_engine, settle, wizard
from textual.widgets import Button, Input, Select

from tuneui.contract.config import RunConfig
from tuneui.contract.presets import PREFERENCE_DEMO_SETTINGS, demo_config
from tuneui.screens.samples import Sample, data_changes

SIZE = (100, 40)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def _walk_to(pilot, step: str) -> None:
    """Next (ctrl+n) until `step`; every step on the way must let the run through."""
    app = pilot.app
    for _ in range(6):
        if app.current_mode == step:
            return
        before = app.current_mode
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode != before, text_of(app, "#nav-status")
    assert app.current_mode == step


async def _demo_pairs(pilot) -> None:
    """The demo wizard at the Dataset step (the SFT sample loads by itself), then 'Sample pairs'."""
    app = pilot.app
    await settle(pilot)
    await _walk_to(pilot, "dataset")
    assert app.state.load_result.kind == "sft"  # the demo starts with its conversations, as before
    await pilot.click("#sample-pairs")
    await settle(pilot)
    assert app.state.load_result.kind == "preference"


def _started(engine) -> RunConfig:
    started = engine.runner.started[-1][0]
    assert RunConfig.model_validate(started.model_dump()) == started  # what the wizard starts validates
    assert RunConfig.load(engine.runner.started[-1][1] / "run.toml") == started  # and is what run.toml says
    return started


async def test_demo_sample_pairs_train_the_clis_dpo_demo(tmp_path):
    engine = make_engine(tmp_path)
    app = wizard(engine, demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await _demo_pairs(pilot)
        train, held_out = engine.sample_pairs_paths()
        assert app.state.load_result.examples == 480 and app.state.load_result.objectives == ["dpo", "orpo", "simpo"]
        assert "trained with DPO, ORPO or SimPO" in text_of(app, "#nav-status")
        cfg = app.state.config
        assert (cfg.dataset, cfg.val_dataset, cfg.val_fraction, cfg.objective) == (str(train), str(held_out), 0.0,
                                                                                  "dpo")

        await _walk_to(pilot, "technique")
        objective = app.screen.query_one("#objective", Select)
        assert [o[1] for o in objective._options] == ["dpo", "orpo", "simpo"]  # noqa: SLF001
        assert objective.value == "dpo" and not objective.disabled
        assert "which of two answers" in text_of(app, "#objective-words")

        await _walk_to(pilot, "settings")
        shown = {name for name in ("pref_beta", "dpo_loss_type", "kto_loss_type", "simpo_gamma", "packing")
                 if app.screen.query_one(f"#row-{name}").display}
        assert shown == {"pref_beta", "dpo_loss_type"}
        assert f"validation uses its own file, {held_out.name}" in text_of(app, "#h-val_fraction")
        await pilot.press("ctrl+n")
        await settle(pilot)

    started = _started(engine)
    cli = demo_config("dpo")
    # The CLI's DPO demo, but for what the Technique step's recommendation sets for this machine.
    chosen = {"micro_batch_size", "gradient_accumulation_steps", "max_seq_length", "lora_r", "precision"}
    for field in {"name", "objective", "model", *PREFERENCE_DEMO_SETTINGS} - chosen:
        assert getattr(started, field) == getattr(cli, field), field
    # The very pairs the CLI trains (its names resolve to the cache; the fake engine wrote them here).
    from tuneui.training.dataset import dataset_path

    for mine, its in ((started.dataset, cli.dataset), (started.val_dataset, cli.val_dataset)):
        assert Path(mine).read_bytes() == Path(dataset_path(its)).read_bytes()


async def test_simpo_with_its_margin_edited_then_back_to_dpo(tmp_path):
    engine = make_engine(tmp_path)
    app = wizard(engine, demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await _demo_pairs(pilot)
        await _walk_to(pilot, "technique")
        app.screen.query_one("#objective", Select).value = "simpo"
        await settle(pilot)
        assert app.state.config.objective == "simpo"
        assert "without a reference model" in text_of(app, "#objective-words")
        # Planned again for SimPO (no reference model), so the recommendation keeps SimPO when used.
        assert app.state.recommendation.setup.objective == "simpo"
        app.screen.query_one("#use-recommended", Button).press()
        await settle(pilot)
        assert app.state.config.objective == "simpo"

        await _walk_to(pilot, "settings")
        screen = app.screen
        assert screen.query_one("#row-simpo_gamma").display and not screen.query_one("#row-dpo_loss_type").display
        assert "SimPO paper uses 2 to 2.5" in text_of(app, "#h-pref_beta")
        gamma = screen.query_one("#f-simpo_gamma", Input)
        assert gamma.value == "0.5"
        gamma.value = "-1"  # refused inline, and Next with it
        await settle(pilot)
        assert "greater than or equal to 0" in text_of(app, "#e-simpo_gamma")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "settings" and "simpo gamma" in text_of(app, "#nav-status")
        gamma.value = "1.2"
        await settle(pilot)
        assert app.state.config.simpo_gamma == 1.2

        # Back to DPO: the SimPO margin goes with SimPO (RunConfig refuses it on any other objective).
        app.go_to("technique")
        await settle(pilot)
        app.screen.query_one("#objective", Select).value = "dpo"
        await settle(pilot)
        assert (app.state.config.objective, app.state.config.simpo_gamma) == ("dpo", 0.5)
        app.go_to("settings")
        await settle(pilot)
        assert not app.screen.query_one("#row-simpo_gamma").display
        assert "higher stays closer" in text_of(app, "#h-pref_beta")

        # ... and to SimPO again, with the margin edited: that is the run the wizard starts.
        app.go_to("technique")
        await settle(pilot)
        app.screen.query_one("#objective", Select).value = "simpo"
        await settle(pilot)
        app.go_to("settings")
        await settle(pilot)
        app.screen.query_one("#f-simpo_gamma", Input).value = "1.2"
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)

    started = _started(engine)
    assert (started.objective, started.simpo_gamma, started.dpo_loss_type) == ("simpo", 1.2, "sigmoid")
    assert started.name == demo_config("simpo").name  # named for what it teaches, as the CLI's demo
    assert started.val_dataset == str(engine.sample_pairs_paths()[1])


async def test_other_data_after_the_pairs_drops_their_held_out_pairs(tmp_path):
    """A file of your own after the sample pairs: no validation on the demo's pairs, SFT again."""
    engine = make_engine(tmp_path)
    app = wizard(engine, demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await _demo_pairs(pilot)
        await pilot.click("#reload")  # the same file read again keeps them
        await settle(pilot)
        assert app.state.config.val_dataset == str(engine.sample_pairs_paths()[1])
        box = app.screen.query_one("#data-path", Input)
        box.value = str(engine.sample)
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.load_result.kind == "sft"
        assert app.state.config.val_dataset is None and app.state.config.val_fraction > 0
        app.go_to("settings")
        await settle(pilot)
        assert "share of the data held out" in text_of(app, "#h-val_fraction")
        app.go_to("dataset")
        await settle(pilot)
        await _walk_to(pilot, "technique")
        assert app.state.config.objective == "sft"
        assert "load Sample pairs on the Dataset step" in text_of(app, "#objective-words")


def test_what_a_sample_brings_outside_the_demo(tmp_path):
    """Without --demo the pairs bring only their held-out file (the run's settings stay yours)."""
    pairs = Sample(tmp_path / "p.jsonl", tmp_path / "p-val.jsonl", "dpo")
    mine = RunConfig(learning_rate=5e-5, name="mine")
    assert data_changes(mine, pairs.path, pairs, demo=False) == {"val_dataset": str(pairs.held_out),
                                                                  "val_fraction": 0.0}
    with_pairs = mine.updated(dataset=str(pairs.path), val_dataset=str(pairs.held_out), val_fraction=0.0)
    assert data_changes(with_pairs, tmp_path / "mine.jsonl", None, demo=False) == {
        "val_dataset": None, "val_fraction": RunConfig().val_fraction}
    assert data_changes(mine, tmp_path / "mine.jsonl", None, demo=False) == {}
    on_demo = data_changes(mine, pairs.path, pairs, demo=True)
    assert (on_demo["name"], on_demo["objective"], on_demo["learning_rate"]) == ("demo-dpo", "dpo", 1e-3)


def test_the_engines_sample_pairs_are_the_files_the_cli_demo_trains():
    """LocalEngine's 'Sample pairs' are demo_preference's files in the cache, where `tuneui train --demo
    --objective dpo` reads them (its dataset names resolve there)."""
    from tuneui.engine import LocalEngine
    from tuneui.training.dataset import dataset_path

    cli = demo_config("dpo")
    assert LocalEngine().sample_pairs_paths() == (Path(dataset_path(cli.dataset)), Path(dataset_path(cli.val_dataset)))
