"""TuneApp: the tuneui wizard, one screen per step (see tuneui/screens/state.py STEPS).

Each step is an App mode, so its screen lives for the whole session and going back and forth keeps
what was entered. The engine is injected: `self.engine` is any `tuneui.contract.facade.Engine`
(the real `LocalEngine` by default; tests pass fakes built from the same contract types). This
module must stay light: no torch/transformers/peft/datasets/bitsandbytes at import.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tuneui.contract.facade import Engine
from tuneui.contract.loop import GenerationSettings
from tuneui.screens.host import WizardHost
from tuneui.screens.state import STEP_NAMES, STEP_TITLES, WizardState


def _step_factory(name: str) -> Callable[[], Screen]:
    def make() -> Screen:
        from tuneui.screens import (
            chat,
            clean,
            dataset,
            export,
            model,
            settings,
            technique,
            train,
            welcome,
        )

        modules = {"welcome": welcome, "model": model, "dataset": dataset, "clean": clean,
                   "technique": technique, "settings": settings, "train": train, "chat": chat,
                   "export": export}
        return modules[name].SCREEN()

    return make


class TuneApp(App[int]):
    TITLE = "tuneui"
    SUB_TITLE = "guided fine-tuning"
    CSS_PATH = "tuneui.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (96, "-wide")]
    MODES = {name: _step_factory(name) for name in STEP_NAMES}
    BINDINGS = [
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
        Binding("ctrl+s", "open_settings_panel", "Preferences", show=False),
    ]

    def __init__(self, engine: Engine | None = None, *, demo: bool = False,
                 monitor: Path | None = None, chat: Path | None = None,
                 chat_settings: GenerationSettings | None = None, state: WizardState | None = None,
                 first_run: bool | None = None, clock: Callable[[], float] = time.time,
                 poll_interval: float = 0.25) -> None:
        super().__init__()
        if engine is None:
            from tuneui.engine import (
                LocalEngine,  # imports the engine packages only when called
            )

            engine = LocalEngine()
        self.engine: Engine = engine
        self.state = state or WizardState()
        self.demo = demo
        self.monitor_dir = Path(monitor) if monitor else None
        self.chat_path = Path(chat) if chat else None
        self.chat_settings = chat_settings
        self.first_run = first_run
        self.clock = clock
        # How often the live screen polls the event stream; tests shorten it.
        self.poll_interval = poll_interval
        if demo and state is None:
            from tuneui.contract.presets import demo_config

            self.state.config = demo_config()
            self.state.model_source = "demo"

    def on_mount(self) -> None:
        self._apply_user_settings()
        if self.monitor_dir is not None:
            self.open_train("attach", self.monitor_dir)
            return
        if self.chat_path is not None:  # `tuneui chat PATH`: straight to the Chat step
            self.state.run_dir = self.chat_path
            self.switch_mode("chat")
            return
        self.switch_mode("welcome")
        self._maybe_first_run()

    def _apply_user_settings(self) -> None:
        """Theme and the hub cache from the user's preferences."""
        from tuneui.screens.settings_panel import apply_user_settings

        apply_user_settings(self)

    def _maybe_first_run(self) -> None:
        """The environment check, shown once (first_run=None asks the settings whether it was seen)."""
        from tuneui.screens.first_run import FirstRunScreen

        should = FirstRunScreen.should_show() if self.first_run is None else self.first_run
        if should:
            self.push_screen(FirstRunScreen())

    # Navigation ---------------------------------------------------------------------------
    def go_to(self, step: str) -> None:
        if step in STEP_NAMES:
            self.switch_mode(step)

    def go_next(self, step: str) -> None:
        i = STEP_NAMES.index(step)
        if i + 1 < len(STEP_NAMES):
            self.switch_mode(STEP_NAMES[i + 1])

    def go_prev(self, step: str) -> None:
        i = STEP_NAMES.index(step)
        if i > 0:
            self.switch_mode(STEP_NAMES[i - 1])

    def open_train(self, action: str, run_dir: Path | None = None) -> None:
        """Show the Train step and have it start, resume or attach to a run once it is on screen."""
        self.state.pending_run = (action, Path(run_dir) if run_dir else None)
        if self.current_mode == "train":
            self.screen.refresh_from_state()  # type: ignore[attr-defined]
        else:
            self.switch_mode("train")

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_open_settings_panel(self) -> None:
        from tuneui.screens.settings_panel import SettingsScreen

        self.push_screen(SettingsScreen())

    def action_open_sweep(self) -> None:
        from tuneui.screens.sweep import SweepScreen

        self.push_screen(SweepScreen(self.state.config))

    def action_open_evaluate(self) -> None:
        from tuneui.screens.evaluate import EvaluateScreen

        self.push_screen(EvaluateScreen(self.state.run_dir))

    def action_help(self) -> None:
        from tuneui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.current_mode or "welcome"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for i, name in enumerate(STEP_NAMES, 1):
            yield SystemCommand(f"Go to step {i}: {STEP_TITLES[name]}", f"Open the {STEP_TITLES[name]} step",
                                lambda n=name: self.go_to(n))
        yield SystemCommand("New run", "Start a new run from the model step", lambda: self.go_to("model"))
        yield SystemCommand("Help", "Explain this step and the concepts behind it", self.action_help)
        yield SystemCommand("Light / dark theme", "Toggle between the light and dark theme",
                            self.action_toggle_dark)
        yield SystemCommand("Preferences", "User settings (defaults, paths)", self.action_open_settings_panel)
        yield SystemCommand("Hyperparameter sweep", "Short trials of learning rate / LoRA rank, ranked by "
                            "validation loss", self.action_open_sweep)
        yield SystemCommand("Evaluation report", "Base vs tuned, forgetting probe, and past runs compared",
                            self.action_open_evaluate)
        from tuneui.screens.first_run import FirstRunScreen

        yield SystemCommand("Environment check", "Check torch, CUDA, bitsandbytes and disk space",
                            lambda: self.push_screen(FirstRunScreen()))
        yield from super().get_system_commands(screen)


def run_app(demo: bool = False, monitor: Path | None = None, chat: Path | None = None,
            chat_settings: GenerationSettings | None = None) -> int:
    """Run the wizard in this terminal (on the Chat step for `chat`); returns the process exit code."""
    app = TuneApp(demo=demo, monitor=monitor, chat=chat, chat_settings=chat_settings,
                  first_run=False if (monitor or chat) else None)
    result = app.run()
    if (line := still_training(app)) is not None:
        print(line, file=sys.stderr)
    return int(result or 0) if app.return_code in (None, 0) else int(app.return_code)


def still_training(app: TuneApp) -> str | None:
    """What to say on leaving while a run trains: it goes on in its own process, and where to find it."""
    handle = app.state.run_handle
    if handle is None or handle.poll() is not None:
        return None
    return (f"tuneui: the run goes on training in the background in {handle.run_dir}\n"
            f"  watch it again (or stop it): tuneui monitor {handle.run_dir}")


def _is_a_host(app: TuneApp) -> WizardHost:
    """Never called: mypy checks here that TuneApp offers its screens what `WizardHost` promises."""
    return app
