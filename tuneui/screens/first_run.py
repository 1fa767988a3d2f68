"""First run: check the environment and say plainly what is missing and the command that fixes it.

Shown once (until Continue marks `first_run_done` in the user settings) and any time from the
command palette. The check imports torch, so it runs in a worker thread; tests inject `checker`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuneui.contract.environment import Check, summary
from tuneui.contract.errors import ConfigError
from tuneui.contract.settings import load_settings, update_settings
from tuneui.screens.base import post_result
from tuneui.screens.host import host

MARKS = {"ok": "✓", "warn": "!", "missing": "✗"}


@dataclass
class Checked(Message):
    checks: list[Check]


@dataclass
class CheckFailed(Message):
    error: Exception


class CheckRow(Vertical):
    """One check: mark, title and plain-words detail, then the fix command on its own line."""

    def __init__(self, check: Check) -> None:
        super().__init__(classes=f"check {check.status}")
        self.check = check

    def compose(self) -> ComposeResult:
        c = self.check
        yield Static(f"{MARKS.get(c.status, '?')} {c.title}: {c.detail}", classes="line")
        if c.fix:
            yield Static(f"  $ {c.fix}", classes="fix", markup=False)


class FirstRunScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    FirstRunScreen { align: center middle; }
    FirstRunScreen #panel {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    FirstRunScreen #title { text-style: bold; }
    FirstRunScreen #summary { margin: 1 0; }
    FirstRunScreen #checks { height: auto; max-height: 20; }
    FirstRunScreen .check { height: auto; margin-bottom: 1; }
    FirstRunScreen .check.ok .line { color: $success; }
    FirstRunScreen .check.warn .line { color: $warning; }
    FirstRunScreen .check.missing .line { color: $error; text-style: bold; }
    FirstRunScreen .fix { color: $text; background: $boost; }
    FirstRunScreen #buttons { height: auto; align-horizontal: right; }
    FirstRunScreen #buttons Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "done", "Continue"), Binding("r", "recheck", "Re-check")]

    def __init__(self, checker: Callable[[], list[Check]] | None = None, settings_path: Path | None = None) -> None:
        super().__init__()
        self.checker = checker  # None: the app's engine does the check
        self.settings_path = settings_path
        self.checks: list[Check] | None = None

    @staticmethod
    def should_show(settings_path: Path | None = None) -> bool:
        """True until the user has seen the check once (a broken settings file counts as not seen)."""
        try:
            return not load_settings(settings_path).first_run_done
        except ConfigError:
            return True

    def compose(self) -> ComposeResult:
        with Vertical(id="panel"):
            yield Static("Welcome to tuneui: checking this machine", id="title")
            yield Static("Checking PyTorch, GPU, bitsandbytes and disk space…", id="summary")
            yield VerticalScroll(id="checks")
            with Horizontal(id="buttons"):
                yield Button("Copy fix commands", id="copy", disabled=True)
                yield Button("Re-check", id="recheck")
                yield Button("Continue", id="continue", variant="primary")

    def on_mount(self) -> None:
        # Enter continues, like every other step of the wizard.
        self.query_one("#continue", Button).focus()
        self.action_recheck()

    @on(Button.Pressed, "#recheck")
    def action_recheck(self) -> None:
        self.query_one("#summary", Static).update("Checking PyTorch, GPU, bitsandbytes and disk space…")
        self._check()

    @work(thread=True, exclusive=True, group="envcheck")
    def _check(self) -> None:
        checker = self.checker or host(self).engine.check_environment
        try:
            post_result(self, Checked(checker()))
        except Exception as exc:  # the check must never take the app down
            post_result(self, CheckFailed(exc))

    @on(CheckFailed)
    def _show_error(self, message: CheckFailed) -> None:
        self.query_one("#summary", Static).update(
            f"The environment check failed: {type(message.error).__name__}: {message.error}")

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.show_checks(message.checks)

    def show_checks(self, checks: list[Check]) -> None:
        self.checks = list(checks)
        box = self.query_one("#checks", VerticalScroll)
        box.remove_children()
        box.mount_all([CheckRow(c) for c in self.checks])
        self.query_one("#summary", Static).update(summary(self.checks))
        self.query_one("#copy", Button).disabled = not self.fix_commands()

    def fix_commands(self) -> list[str]:
        return [c.fix for c in self.checks or [] if c.fix and c.status != "ok"]

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        commands = self.fix_commands()
        if commands:
            self.app.copy_to_clipboard("\n".join(commands))
            self.app.notify("Fix commands copied to the clipboard", timeout=3)

    @on(Button.Pressed, "#continue")
    def action_done(self) -> None:
        try:
            update_settings(self.settings_path, first_run_done=True)
        except (ConfigError, OSError) as exc:
            self.app.notify(f"Could not remember that the check was seen: {exc}", severity="warning")
        self.dismiss(True)
