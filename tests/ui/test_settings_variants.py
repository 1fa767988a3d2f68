"""Settings step: the LoRA variants (LoRA techniques only, validated as you type) and the experiment
trackers the engine says are installed reach the RunConfig."""

from fakes import make_engine, settle, wait_for, wizard
from textual.widgets import Checkbox, Input, Select, Static

SIZE = (100, 30)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_lora_variants_and_trackers_reach_the_run_config(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        app.go_to("settings")
        await settle(pilot)
        screen = app.screen
        app.state.config = app.state.config.updated(technique="full")  # the demo recommends LoRA since issue 11
        screen.refresh_from_state()
        await settle(pilot)
        assert screen.query_one("#f-use_dora", Checkbox).disabled
        assert "Only for the LoRA techniques (this run: full)" in text_of(app, "#variants-note")

        app.state.config = app.state.config.updated(technique="lora")
        screen.refresh_from_state()
        await settle(pilot)
        dora = screen.query_one("#f-use_dora", Checkbox)
        assert not dora.disabled
        dora.value = True
        await pilot.pause()
        screen.query_one("#f-lora_init", Select).value = "olora"
        await pilot.pause()
        assert "olora with use_dora cannot be saved" in text_of(app, "#e-lora_init")
        assert screen.validate_step() == "Fix lora init first."  # no run starts like this
        screen.query_one("#f-lora_init", Select).value = "gaussian"
        ratio = screen.query_one("#f-loraplus_lr_ratio", Input)
        ratio.value = "16"
        screen.query_one("#f-neftune_noise_alpha", Input).value = "5"
        await pilot.pause()
        cfg = app.state.config
        assert (cfg.use_dora, cfg.lora_init, cfg.loraplus_lr_ratio, cfg.neftune_noise_alpha) == (
            True, "gaussian", 16.0, 5.0)
        ratio.value = "0.5"
        await pilot.pause()
        assert "greater than or equal to 1" in text_of(app, "#e-loraplus_lr_ratio")
        ratio.value = ""
        await pilot.pause()
        assert app.state.config.loraplus_lr_ratio is None  # empty = off

        await wait_for(pilot, lambda: not screen.query_one("#t-tensorboard", Checkbox).disabled)
        assert screen.query_one("#t-wandb", Checkbox).disabled
        assert 'pip install "tuneui[wandb]"' in text_of(app, "#th-wandb")
        screen.query_one("#t-tensorboard", Checkbox).value = True
        await pilot.pause()
        assert app.state.config.report_to == ["tensorboard"]
        assert screen.validate_step() is None
