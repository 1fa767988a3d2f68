"""Words that match the technique (issue 16, item 6): a full or freeze fine-tune has no adapter, so no
"Adapter: …", no "adapter off", no "Merge the adapter", no LoRA rank in Settings; and the learning-rate
hint is the one for the chosen technique."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "snapshots"))  # loop_fakes
from fakes import canned_events, make_engine, settle, typed, wait_for, wizard  # noqa: E402
from loop_fakes import RUN, SIZE, FakeChat, LoopEngine, loop_app  # noqa: E402
from textual.widgets import Checkbox, Label, Static  # noqa: E402

from tuneui.contract.config import RunConfig  # noqa: E402
from tuneui.screens.state import WizardState  # noqa: E402


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def test_settings_show_lora_fields_and_the_lr_hint_of_the_chosen_technique(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        app.go_to("settings")
        await settle(pilot)
        screen = app.screen
        app.state.config = app.state.config.updated(technique="full")
        screen.refresh_from_state()
        await settle(pilot)
        assert not screen.query_one("#row-lora_r").display and not screen.query_one("#row-lora_alpha").display
        assert "full fine-tune" in text_of(app, "#h-learning_rate")
        assert "LoRA" not in text_of(app, "#h-learning_rate").split("(")[0]

        app.state.config = app.state.config.updated(technique="lora")
        screen.refresh_from_state()
        await settle(pilot)
        assert screen.query_one("#row-lora_r").display and screen.query_one("#row-lora_alpha").display
        assert "typical for LoRA" in text_of(app, "#h-learning_rate")

        app.state.config = app.state.config.updated(technique="freeze")
        screen.refresh_from_state()
        await settle(pilot)
        assert not screen.query_one("#row-lora_r").display
        assert "only the top layers" in text_of(app, "#h-learning_rate")


def _finished_full_run():
    events = canned_events(5)
    events[0]["technique"] = "full"
    events[-1]["adapter_path"] = "/runs/demo/adapter"
    return typed(events)


async def test_a_finished_full_fine_tune_names_the_model_not_an_adapter(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        app.go_to("train")
        await settle(pilot)
        screen = app.screen
        app.state.run_dir = Path("runs/demo")
        screen.post_message(screen.EventsArrived(_finished_full_run()))
        await settle(pilot)
        words = text_of(app, "#warnings")
        assert "Model: /runs/demo/adapter" in words and "Adapter" not in words

        lora = canned_events(5)
        screen.progress = type(screen.progress)()
        screen.post_message(screen.EventsArrived(typed(lora)))
        await settle(pilot)
        assert "Adapter: /runs/demo/adapter" in text_of(app, "#warnings")


async def test_chat_with_a_full_fine_tune_calls_its_base_the_model_before_training(tmp_path):
    for kind, title in (("full", "Base model (before training)"), ("peft", "Base model (adapter off)")):
        app = wizard(LoopEngine(tmp_path, FakeChat(run_dir=RUN, kind=kind)), first_run=False,
                     state=WizardState(run_dir=RUN))
        async with app.run_test(size=SIZE) as pilot:
            app.go_to("chat")
            await wait_for(pilot, lambda app=app: app.screen.session is not None)
            await settle(pilot)
            assert str(app.screen.query_one("#base-title", Label).render()) == title


async def test_export_of_a_full_fine_tune_offers_no_merge(tmp_path):
    app = loop_app(tmp_path)
    full = RunConfig(name="demo-run", model="demo-tiny", dataset="demo", technique="full")
    app.engine.load_run_config = lambda run_dir: full  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go_to("export")
        await settle(pilot)
        assert not app.screen.query_one("#merge", Checkbox).display
        assert app.screen.query_one("#merge-note", Static).display
        assert "nothing to merge" in text_of(app, "#merge-note")
