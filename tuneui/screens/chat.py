"""Step 8: chat with the tuned model, and with the base model side by side, tokens streaming in.

The model loads in a thread worker; each answer streams from a worker thread piece by piece
(`call_from_thread`), tuned first, then base (the same weights with the adapter off, so they take
turns). Each pane keeps its own conversation, so a multi-turn chat shows how each model carries on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Static

from tuneui.contract.loop import (
    ChatSession,
    GenerationSettings,
    Reply,
    ValidationPrompt,
)
from tuneui.screens.base import StepScreen

SIDES = ("tuned", "base")
KEYS_HELP = ("Enter send · ctrl+x stop · ctrl+g next validation prompt · ctrl+o side by side on/off · "
             "ctrl+k keep as training example · ctrl+l clear · ctrl+e evaluation report")


class ChatScreen(StepScreen):
    STEP = "chat"
    NEXT_LABEL = "Export"
    DEFAULT_CSS = """
    ChatScreen #panes { height: 1fr; min-height: 8; }
    ChatScreen .chat-pane { width: 1fr; height: 100%; }
    ChatScreen .chat-pane VerticalScroll { height: 1fr; }
    ChatScreen Input.num { width: 8; }
    ChatScreen #gen-row, ChatScreen #open-row, ChatScreen #prompt-row { height: auto; }
    ChatScreen #gen-row Label { width: auto; padding: 0; }
    ChatScreen #gen-row Checkbox { width: auto; margin-left: 2; }
    ChatScreen #body { height: 1fr; }
    """
    # priority: the prompt Input has focus most of the time and binds several ctrl keys itself.
    BINDINGS = [
        Binding("ctrl+x", "stop", "Stop", priority=True),
        Binding("ctrl+g", "validation_prompt", "Val prompt", priority=True),
        # ctrl+b is tmux's prefix key, so it would never reach the app inside tmux.
        Binding("ctrl+o", "toggle_side", "Side by side", priority=True),
        Binding("ctrl+k", "keep", "Keep example", priority=True),
        Binding("ctrl+l", "clear", "Clear", priority=True),
        Binding("ctrl+e", "evaluate", "Evaluation", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session: ChatSession | None = None
        self.loaded_path: Path | None = None
        self.history: dict[str, list[dict]] = {s: [] for s in SIDES}
        self.partial: dict[str, str | None] = {s: None for s in SIDES}
        self.stop_event = threading.Event()
        self.streaming = False
        self.val_prompts: list[ValidationPrompt] = []
        self.val_index = 0

    def compose_body(self) -> ComposeResult:
        yield Static("No tuned model yet: finish a run on the Train step, or open a run folder here.",
                     id="chat-title")
        with Horizontal(classes="inline-form", id="open-row"):
            yield Input(placeholder="run folder or adapter folder", id="run-path")
            yield Button("Open", id="open-run")
        with Horizontal(classes="inline-form", id="gen-row"):
            yield Label("temperature ")
            yield Input("0", id="temperature", classes="num")
            yield Label(" top-p ")
            yield Input("1.0", id="top-p", classes="num")
            yield Label(" max tokens ")
            yield Input("256", id="max-tokens", classes="num")
            yield Checkbox("side by side with the base model", True, id="side")
        with Horizontal(id="panes"):
            for side, title in (("tuned", "Tuned model"), ("base", "Base model")):
                with Vertical(classes="panel chat-pane", id=f"{side}-box"):
                    yield Label(title, classes="panel-title", id=f"{side}-title")
                    with VerticalScroll(id=f"{side}-scroll"):
                        yield Static("", id=f"{side}-log")
        with Horizontal(classes="inline-form", id="prompt-row"):
            yield Input(placeholder="Type a message, Enter sends (ctrl+g: a validation prompt)", id="prompt")
            yield Button("Send", id="send", variant="primary", disabled=True)
            yield Button("Stop", id="stop", variant="error", disabled=True)
        yield Static(KEYS_HELP, classes="muted", id="chat-keys")

    def on_mount(self) -> None:
        super().on_mount()
        self.refresh_from_state()
        settings = self.tune_app.chat_settings
        if settings is not None:  # `tuneui chat --temperature ...`
            for selector, value in (("#temperature", settings.temperature), ("#top-p", settings.top_p),
                                    ("#max-tokens", settings.max_new_tokens)):
                self.query_one(selector, Input).value = str(value)

    def refresh_from_state(self) -> None:
        if not self.is_mounted:
            return
        target = self.state.run_dir
        if target is not None and Path(target) != self.loaded_path:
            self.query_one("#run-path", Input).value = str(target)
            self.open(Path(target))

    # Loading ----------------------------------------------------------------------------------
    def open(self, path: Path) -> None:
        self.loaded_path = Path(path)
        self.session = None
        self._set_ready(False)
        self.query_one("#chat-title", Static).update(f"Loading [b]{path.name}[/b]…")
        self._load(Path(path))

    @dataclass
    class ChatOpened(Message):
        session: ChatSession
        prompts: list[ValidationPrompt]

    @dataclass
    class ChatOpenFailed(Message):
        error: Exception

    @work(thread=True, exclusive=True, group="chat-load")
    def _load(self, path: Path) -> None:
        try:
            session = self.engine.open_chat(path)
            prompts = self.engine.validation_prompts(session.run_dir)
        except Exception as exc:  # noqa: BLE001 - shown on screen, never a traceback
            self.post_result(self.ChatOpenFailed(exc))
            return
        self.post_result(self.ChatOpened(session, prompts))

    @on(ChatOpenFailed)
    def _load_failed(self, message: ChatOpenFailed) -> None:
        self.query_one("#chat-title", Static).update("Could not open that model.")
        self.show_error(message.error, "Chat")

    @on(ChatOpened)
    def _loaded(self, message: ChatOpened) -> None:
        session, prompts = message.session, message.prompts
        self.session, self.val_prompts, self.val_index = session, prompts, 0
        kind = "LoRA adapter on its base" if session.kind == "peft" else "full model"
        base = "base = adapter switched off" if session.kind == "peft" else (
            "base = the original model" if session.has_base else "no base to compare with")
        self.query_one("#chat-title", Static).update(
            f"Chatting with [b]{session.name}[/b] ({kind}; {base}); {len(prompts)} validation prompts")
        # A full fine-tune has no adapter to switch off: its base is the original model, before training.
        self.query_one("#base-title", Label).update(
            "Base model (adapter off)" if session.kind == "peft" else "Base model (before training)")
        side = self.query_one("#side", Checkbox)
        side.disabled = not session.has_base
        if not session.has_base:
            side.value = False
        self._set_ready(True)
        self.action_clear()
        self.query_one("#prompt", Input).focus()

    def _set_ready(self, ready: bool) -> None:
        self.query_one("#send", Button).disabled = not ready or self.streaming
        self.query_one("#stop", Button).disabled = not self.streaming
        self.query_one("#base-box").display = self.query_one("#side", Checkbox).value

    # Sending and streaming ---------------------------------------------------------------------
    def settings(self) -> GenerationSettings:
        def num(selector: str, kind: type) -> float:
            text = self.query_one(selector, Input).value.strip()
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{selector.lstrip('#')}: {text!r} is not a number") from None

        return self.engine.generation_settings(num("#temperature", float), num("#top-p", float),
                                               int(num("#max-tokens", int)))

    @on(Input.Submitted, "#prompt")
    def _submitted(self) -> None:
        self.send()

    def send(self) -> None:
        prompt = self.query_one("#prompt", Input).value.strip()
        if self.session is None or self.streaming or not prompt:
            return
        try:
            settings = self.settings()
        except Exception as exc:  # noqa: BLE001 - a bad number is the user's to fix
            self.show_error(exc, "Generation settings")
            return
        sides = [s for s in SIDES if s == "tuned" or self.query_one("#side", Checkbox).value]
        for side in sides:
            self.history[side].append({"role": "user", "content": prompt})
            self.partial[side] = None
            self._render_pane(side)
        self.query_one("#prompt", Input).value = ""
        self.stop_event = threading.Event()
        self.streaming = True
        self._set_ready(True)
        self.set_status("generating…")
        self._generate(sides, settings, self.stop_event)

    @work(thread=True, exclusive=True, group="chat-generate")
    def _generate(self, sides: list[str], settings: GenerationSettings, stop: threading.Event) -> None:
        session = self.session
        assert session is not None  # send() only starts a generation on an open session
        for side in sides:
            self.app.call_from_thread(self._piece, side, "")
            reply = Reply()
            try:
                messages = list(self.history[side])
                for piece in session.stream(messages, base=side == "base", settings=settings, stop=stop,
                                            reply=reply):
                    self.app.call_from_thread(self._piece, side, piece)
            except Exception as exc:  # noqa: BLE001
                self.app.call_from_thread(self.show_error, exc, "Generation")
            self.app.call_from_thread(self._side_done, side, reply)
            if stop.is_set():
                break
        self.app.call_from_thread(self._all_done)

    def _piece(self, side: str, piece: str) -> None:
        self.partial[side] = (self.partial[side] or "") + piece
        self._render_pane(side)

    def _side_done(self, side: str, reply: Reply) -> None:
        text = (self.partial[side] or "").strip()
        self.partial[side] = None
        self.history[side].append({"role": "assistant", "content": text})
        if reply.stopped:
            self.history[side][-1]["note"] = "stopped"
        elif not reply.finished:
            self.history[side][-1]["note"] = "cut at max tokens"
        self._render_pane(side)

    def _all_done(self) -> None:
        self.streaming = False
        self._set_ready(self.session is not None)
        self.set_status("stopped" if self.stop_event.is_set() else "")

    def _render_pane(self, side: str) -> None:
        text = Text()
        for msg in self.history[side]:
            if msg["role"] == "user":
                text.append("you  ", style="bold cyan")
                text.append(msg["content"] + "\n")
            else:
                text.append("model ", style="bold green")
                text.append((msg["content"] or "(empty reply)") + "\n")
                if msg.get("note"):
                    text.append(f"      [{msg['note']}]\n", style="dim")
        partial = self.partial[side]
        if partial is not None:
            text.append("model ", style="bold green")
            text.append(partial + "▌\n")
        self.query_one(f"#{side}-log", Static).update(text)
        self.query_one(f"#{side}-scroll", VerticalScroll).scroll_end(animate=False)

    # Actions -------------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        handlers = {"send": self.send, "stop": self.action_stop, "open-run": self._open_typed}
        if event.button.id in handlers:
            event.stop()
            handlers[event.button.id]()
            return
        super().on_button_pressed(event)

    def _open_typed(self) -> None:
        text = self.query_one("#run-path", Input).value.strip()
        if text:
            self.open(Path(text).expanduser())

    @on(Input.Submitted, "#run-path")
    def _path_submitted(self) -> None:
        self._open_typed()

    def action_stop(self) -> None:
        if self.streaming:
            self.stop_event.set()
            self.set_status("stopping…")

    def action_validation_prompt(self) -> None:
        if not self.val_prompts:
            self.notify("No validation prompts for this model (open a run folder to get them).",
                        severity="warning")
            return
        item = self.val_prompts[self.val_index % len(self.val_prompts)]
        self.val_index += 1
        self.query_one("#prompt", Input).value = item.messages[-1]["content"]
        self.set_status(f"validation prompt {self.val_index}/{len(self.val_prompts)} — expected: "
                        f"{item.reference[:60]}")
        self.query_one("#prompt", Input).focus()

    def action_toggle_side(self) -> None:
        box = self.query_one("#side", Checkbox)
        if not box.disabled:
            box.value = not box.value

    @on(Checkbox.Changed, "#side")
    def _side_changed(self) -> None:
        self._set_ready(self.session is not None)

    def action_clear(self) -> None:
        if self.streaming:
            return
        self.history = {s: [] for s in SIDES}
        self.partial = {s: None for s in SIDES}
        for side in SIDES:
            self._render_pane(side)

    def action_keep(self) -> None:
        """Save the tuned conversation as a training example in the run folder."""
        run_dir = self.session.run_dir if self.session is not None else None
        conv = [{"role": m["role"], "content": m["content"]} for m in self.history["tuned"]]
        if run_dir is None:
            self.notify("Only a run folder can collect examples (this is a bare adapter).", severity="warning")
            return
        try:
            path = self.engine.save_example(run_dir, conv)
        except Exception as exc:  # noqa: BLE001
            self.show_error(exc, "Keep example")
            return
        self.notify(f"Saved to {path}; edit the reply there if needed and add the file to the next run.",
                    title="Example kept")

    def action_evaluate(self) -> None:
        from tuneui.screens.evaluate import EvaluateScreen

        run_dir = (self.session.run_dir if self.session is not None else None) or self.state.run_dir
        self.app.push_screen(EvaluateScreen(Path(run_dir) if run_dir else None))


SCREEN = ChatScreen
