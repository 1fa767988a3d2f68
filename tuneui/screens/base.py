"""What every wizard step shares: the step bar, a Back/Next row, the footer, help and errors."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from tuneui.contract.errors import TuneuiError
from tuneui.contract.facade import Engine
from tuneui.screens.host import WizardHost, host
from tuneui.screens.state import STEP_NAMES, WizardState
from tuneui.screens.widgets.stepbar import StepBar


@dataclass
class EngineCallFailed(Message):
    """A worker's engine call raised: the screen shows it as a notification and a status line."""

    what: str
    error: BaseException


def post_result(screen: Screen, message: Message) -> None:
    """From a thread worker: post `message` to `screen`, unless a newer worker replaced this one (a
    cancelled thread keeps running, and its stale result must not overwrite the new one)."""
    from textual.worker import get_current_worker

    if not get_current_worker().is_cancelled:
        screen.post_message(message)


class StepScreen(Screen):
    """A wizard step. Subclasses set STEP and implement `compose_body`; `refresh_from_state` is
    called every time the step is shown so values entered elsewhere appear here."""

    STEP = "welcome"
    NEXT_LABEL = "Next"
    # Enter on a fresh step presses Next: a first-timer can walk the demo with Enter alone.
    AUTO_FOCUS = "#next"
    BINDINGS = [
        Binding("ctrl+n", "next_step", "Next", priority=True),
        Binding("escape", "prev_step", "Back"),
        Binding("f1", "help", "Help"),
    ]

    @property
    def tune_app(self) -> WizardHost:
        return host(self)

    @property
    def state(self) -> WizardState:
        return self.tune_app.state

    @property
    def engine(self) -> Engine:
        return self.tune_app.engine

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP, id="stepbar")
        with VerticalScroll(id="body"):
            yield from self.compose_body()
        with Horizontal(id="nav"):
            yield Button("‹ Back", id="back", disabled=self.STEP == STEP_NAMES[0])
            yield Static("", id="nav-status")
            if self.NEXT_LABEL:
                yield Button(f"{self.NEXT_LABEL} ›", id="next", variant="primary")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        # One-row controls keep every step usable at 80x24; Textual runs this for subclasses too.
        for widget in self.query("Button, Input, Select"):
            widget.compact = True  # type: ignore[attr-defined]

    def on_screen_resume(self) -> None:
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        """Show what the state holds (called whenever the step becomes visible)."""

    def validate_step(self) -> str | None:
        """Return a message saying what is missing before Next may proceed, or None."""
        return None

    def post_result(self, message: Message) -> None:
        post_result(self, message)

    def post_failure(self, what: str, error: BaseException) -> None:
        post_result(self, EngineCallFailed(what, error))

    @on(EngineCallFailed)
    def _engine_call_failed(self, message: EngineCallFailed) -> None:
        self.show_error(message.error, message.what)

    def set_status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#nav-status", Static)
        status.update(message)
        status.set_class(error, "error")

    def action_next_step(self) -> None:
        problem = self.validate_step()
        if problem:
            self.set_status(problem, error=True)
            self.notify(problem, severity="warning", title="Not yet")
            return
        self.proceed()

    def proceed(self) -> None:
        """What Next does once the step is complete."""
        self.tune_app.go_next(self.STEP)

    def action_prev_step(self) -> None:
        self.tune_app.go_prev(self.STEP)

    def action_help(self) -> None:
        from tuneui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.STEP))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next_step()
        elif event.button.id == "back":
            event.stop()
            self.action_prev_step()

    def show_error(self, exc: BaseException, what: str) -> None:
        """Engine errors become a notification and a status line, never a traceback."""
        message = _error_text(exc)
        self.set_status(f"{what}: {message}", error=True)
        self.notify(message, title=what, severity="error", timeout=8)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Engine errors are already one clean line; anything else gets its type named once.
    if isinstance(exc, TuneuiError):
        return text
    if isinstance(exc, (ModuleNotFoundError, ImportError)):
        return f"this part of tuneui is not installed yet ({text})"
    return f"{type(exc).__name__}: {text}"
