"""Chat screen: snapshots of the streaming and the side-by-side states; Pilot flows for Stop, the
validation-prompt key, keeping an example, bad settings and a model without a base."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from fakes import settle, wait_for, wizard  # noqa: E402
from loop_fakes import FakeChat, LoopEngine  # noqa: E402
from textual.widgets import Checkbox, Input, Static  # noqa: E402

from tuneui.screens.app import TuneApp  # noqa: E402
from tuneui.screens.state import WizardState  # noqa: E402

RUN = Path("/runs/demo-run")
SIZE = (100, 30)


def chat_app(tmp_path, chat: FakeChat, *, snapshot: bool = False) -> TuneApp:
    app = wizard(LoopEngine(tmp_path, chat), first_run=False, state=WizardState(run_dir=RUN))
    if snapshot:
        app.notify = lambda *args, **kwargs: None  # toasts carry per-run ids: flaky pictures
    return app


async def open_chat(pilot) -> None:
    pilot.app.go_to("chat")
    await wait_for(pilot, lambda: pilot.app.screen.session is not None)
    await settle(pilot)


async def send(pilot, text: str) -> None:
    pilot.app.screen.query_one("#prompt", Input).value = text
    await pilot.press("enter")


def pane(app, side: str) -> str:
    return str(app.screen.query_one(f"#{side}-log", Static).render())


def test_snapshot_streaming_tuned_reply(tmp_path, snap_compare):
    chat = FakeChat(run_dir=RUN, hold_after=3)

    async def run_before(pilot):
        await open_chat(pilot)
        await send(pilot, "Translate to Zorbish: bread blue")
        await wait_for(pilot, chat.holding.is_set)
        pilot.app.screen.set_focus(None)  # no blinking cursor in the picture
        await pilot.pause()
        threading.Timer(3.0, chat.release.set).start()  # let the worker end after the screenshot

    assert snap_compare(chat_app(tmp_path, chat, snapshot=True), terminal_size=SIZE, run_before=run_before)


def test_snapshot_side_by_side_answers(tmp_path, snap_compare):
    chat = FakeChat(run_dir=RUN)

    async def run_before(pilot):
        await open_chat(pilot)
        await send(pilot, "Translate to Zorbish: bread blue")
        await settle(pilot)
        pilot.app.screen.set_focus(None)
        await pilot.pause()

    assert snap_compare(chat_app(tmp_path, chat, snapshot=True), terminal_size=SIZE, run_before=run_before)


async def test_each_pane_keeps_its_own_conversation_and_settings_reach_the_model(tmp_path):
    chat = FakeChat(run_dir=RUN)
    app = chat_app(tmp_path, chat)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot)
        app.screen.query_one("#temperature", Input).value = "0.7"
        app.screen.query_one("#max-tokens", Input).value = "64"
        await send(pilot, "hello")
        await settle(pilot)
        await send(pilot, "again")
        await settle(pilot)
        assert [c[0] for c in chat.calls] == ["tuned", "base", "tuned", "base"]
        tuned_history = chat.calls[2][1]
        assert [m["role"] for m in tuned_history] == ["user", "assistant", "user"]
        assert tuned_history[1]["content"] == chat.replies["tuned"]
        assert chat.calls[3][1][1]["content"] == chat.replies["base"]  # the base pane's own reply
        settings = chat.calls[0][2]
        assert (settings.temperature, settings.top_p, settings.max_new_tokens) == (0.7, 1.0, 64)
        assert pane(app, "tuned").count("you") == 2 and "load load" in pane(app, "base")


async def test_stop_key_ends_the_stream_and_marks_the_reply(tmp_path):
    chat = FakeChat(run_dir=RUN, hold_after=2)
    app = chat_app(tmp_path, chat)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot)
        await send(pilot, "tell me a story")
        await wait_for(pilot, chat.holding.is_set)
        assert not app.screen.query_one("#stop").disabled
        await pilot.press("ctrl+x")
        chat.release.set()
        await settle(pilot)
        assert "[stopped]" in pane(app, "tuned")
        assert [c[0] for c in chat.calls] == ["tuned"]  # stopping also skips the base answer
        assert app.screen.query_one("#stop").disabled and not app.screen.query_one("#send").disabled


async def test_validation_prompt_key_and_keeping_an_example(tmp_path):
    engine = LoopEngine(tmp_path, FakeChat(run_dir=RUN))
    app = wizard(engine, first_run=False, state=WizardState(run_dir=RUN))
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot)
        await pilot.press("ctrl+g")
        assert app.screen.query_one("#prompt", Input).value == "Translate to Zorbish: bread blue"
        assert "expected: mib mur" in str(app.screen.query_one("#nav-status", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+k")
        await pilot.pause()
        (run_dir, conv), = engine.saved
        assert run_dir == RUN and [m["role"] for m in conv] == ["user", "assistant"]


async def test_bad_settings_are_reported_not_sent(tmp_path):
    chat = FakeChat(run_dir=RUN)
    app = chat_app(tmp_path, chat)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot)
        app.screen.query_one("#top-p", Input).value = "lots"
        await send(pilot, "hi")
        await settle(pilot)
        assert chat.calls == []
        assert "top-p" in str(app.screen.query_one("#nav-status", Static).render())


async def test_a_model_without_a_base_hides_the_base_pane(tmp_path):
    chat = FakeChat(run_dir=None, kind="full", has_base=False)
    app = chat_app(tmp_path, chat)
    async with app.run_test(size=SIZE) as pilot:
        await open_chat(pilot)
        side = app.screen.query_one("#side", Checkbox)
        assert side.disabled and not side.value
        assert not app.screen.query_one("#base-box").display
        await send(pilot, "hi")
        await settle(pilot)
        assert [c[0] for c in chat.calls] == ["tuned"]
        await pilot.press("ctrl+k")  # a bare model has no run folder to keep examples in
        await pilot.pause()


async def test_opening_a_broken_folder_shows_the_error(tmp_path):
    from tuneui.contract.errors import TuneuiError

    def broken(path):
        raise TuneuiError(f"{path}: no such run or adapter directory")

    app = wizard(LoopEngine(tmp_path, open_chat=broken), first_run=False, state=WizardState(run_dir=RUN))
    async with app.run_test(size=SIZE) as pilot:
        app.go_to("chat")
        await settle(pilot)
        assert "no such run" in str(app.screen.query_one("#nav-status", Static).render())
        assert app.screen.query_one("#send").disabled


async def test_tuneui_chat_opens_the_chat_step_with_the_given_settings(tmp_path):
    from tuneui.contract.loop import GenerationSettings

    chat = FakeChat(run_dir=RUN)
    app = wizard(LoopEngine(tmp_path, chat), chat=RUN, first_run=False,
                 chat_settings=GenerationSettings(temperature=0.5, top_p=0.9, max_new_tokens=32))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "chat" and app.screen.session is not None)
        await settle(pilot)
        assert app.screen.query_one("#temperature", Input).value == "0.5"
        assert app.screen.query_one("#max-tokens", Input).value == "32"
