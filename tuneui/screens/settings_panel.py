"""Preferences: theme, default output dir, hub cache dir; saved to the user settings TOML.

A modal the app opens from anywhere (ctrl+s, command palette). Choosing a theme previews it at
once; Cancel puts the old one back. Nothing is written until Save.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tuneui.contract.errors import ConfigError
from tuneui.contract.paths import default_runs_dir
from tuneui.contract.settings import (
    Settings,
    apply_environment,
    load_settings,
    save_settings,
    settings_path,
)


def apply_user_settings(app: App, path: Path | None = None) -> Settings:
    """Apply saved settings to a starting app (theme, hub cache env); a bad file is a notification."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        app.notify(f"{exc}; using defaults", title="Settings", severity="warning", timeout=10)
        settings = Settings()
    if settings.theme in app.available_themes:
        app.theme = settings.theme
    else:
        app.notify(f"Theme {settings.theme!r} is not available; pick one in Preferences (ctrl+s)",
                   title="Settings", severity="warning", timeout=10)
    apply_environment(settings)
    return settings


class SettingsScreen(ModalScreen["Settings | None"]):
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen #panel {
        width: 84; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    SettingsScreen #title { text-style: bold; margin-bottom: 1; }
    SettingsScreen Label { margin-top: 1; }
    SettingsScreen .hint { color: $text-muted; }
    SettingsScreen #error { color: $error; margin-top: 1; }
    SettingsScreen #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    SettingsScreen #buttons Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save", priority=True)]

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = Path(path) if path is not None else settings_path()
        self.load_error: str | None = None
        try:
            self.settings = load_settings(self.path)
        except ConfigError as exc:
            self.load_error = f"{exc}. Saving replaces the file with the values below."
            self.settings = Settings()
        self._theme_before: str | None = None

    def compose(self) -> ComposeResult:
        themes = sorted(self.app.available_themes)
        theme = self.settings.theme if self.settings.theme in themes else self.app.theme
        with Vertical(id="panel"):
            yield Static("Preferences", id="title")
            yield Label("Theme")
            yield Select([(t, t) for t in themes], value=theme, allow_blank=False, id="theme")
            yield Label("Default output directory for runs")
            yield Input(self.settings.output_dir, placeholder=str(default_runs_dir()), id="output_dir")
            yield Label("Hugging Face hub cache directory")
            yield Input(self.settings.hub_cache_dir, placeholder="the hub default (HF_HUB_CACHE or ~/.cache/huggingface/hub)",
                        id="hub_cache_dir")
            yield Label("Telemetry")
            yield Static("none: tuneui never sends usage data anywhere.", id="telemetry", classes="hint")
            yield Static(f"Saved in {self.path}", classes="hint")
            yield Static(self.load_error or "", id="error")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self._theme_before = self.app.theme

    @on(Select.Changed, "#theme")
    def _preview_theme(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value in self.app.available_themes:
            self.app.theme = event.value

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self._theme_before is not None:
            self.app.theme = self._theme_before
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        error = self.query_one("#error", Static)
        values = {
            "theme": str(self.query_one("#theme", Select).value),
            "output_dir": self.query_one("#output_dir", Input).value.strip(),
            "hub_cache_dir": self.query_one("#hub_cache_dir", Input).value.strip(),
        }
        try:
            updated = Settings(**{**self.settings.model_dump(), **values})
        except Exception as exc:  # pydantic ValidationError: show its first line
            error.update(str(exc).splitlines()[0])
            return
        for label, path in (("Output directory", updated.runs_dir() if updated.output_dir else None),
                            ("Hub cache directory", updated.hub_cache())):
            if path is not None and path.exists() and not path.is_dir():
                error.update(f"{label}: {path} is a file, not a directory")
                return
        try:
            save_settings(updated, self.path)
        except OSError as exc:
            error.update(f"Could not save {self.path}: {exc.strerror or exc}")
            return
        apply_environment(updated)
        self.settings = updated
        self.app.notify("Preferences saved", timeout=3)
        self.dismiss(updated)
