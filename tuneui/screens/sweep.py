"""The sweep screen: a handful of short trials over learning rate (and LoRA rank) on a slice of the
data, ranked by validation loss as they finish; the best setting can be applied to the full run.

Opened from Settings (or the command palette). The trials are ordinary runs started by the engine
(`tuneui.sweep.run_sweep`) in a thread worker; Stop ends the current trial at a checkpoint and
skips the rest.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import TuneuiError
from tuneui.contract.loop import SweepResult, Trial
from tuneui.screens.base import post_result
from tuneui.screens.host import WizardHost, host
from tuneui.screens.widgets.table import Table


@dataclass
class SweepUpdated(Message):
    """A snapshot of the trials (copies: the sweep goes on changing its own in its thread)."""

    trials: list[Trial]
    best: Trial | None


@dataclass
class SweepEnded(Message):
    error: Exception | None = None


def _values(text: str, kind: type) -> list:
    try:
        values = [kind(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise ValueError(f"{text!r}: expected comma-separated numbers") from None
    if not values:
        raise ValueError("give at least one value")
    return values


class SweepScreen(Screen):
    DEFAULT_CSS = """
    SweepScreen #sweep-title { height: auto; padding: 0 1; background: $panel; }
    SweepScreen .inline-form { height: auto; padding: 0 1; }
    SweepScreen .inline-form Label { width: 16; }
    SweepScreen .inline-form Input { width: 1fr; }
    SweepScreen #trials { height: 1fr; margin: 1 1 0 1; }
    SweepScreen #sweep-buttons { height: auto; padding: 0 1; }
    SweepScreen #sweep-buttons Button { width: auto; margin-right: 1; }
    SweepScreen #sweep-status { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, config: RunConfig, out_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.out_dir = out_dir
        self.stop_event = threading.Event()
        self.trials: list[Trial] = []
        self.best: Trial | None = None
        self.running = False

    @property
    def tune_app(self) -> WizardHost:
        return host(self)

    def compose(self) -> ComposeResult:
        cfg = self.config
        yield Static(f"[b]Hyperparameter sweep[/b] for {escape(cfg.name)} ({cfg.technique}): short trials on a "
                     "slice of the data, ranked by validation loss. The best one can be applied to the full run.",
                     id="sweep-title")
        grid = self.tune_app.engine.default_sweep_grid(cfg)
        lrs = ", ".join(f"{x:g}" for x in grid["learning_rate"])
        ranks = ", ".join(str(r) for r in grid.get("lora_r", [cfg.lora_r]))
        with Horizontal(classes="inline-form"):
            yield Label("learning rates")
            yield Input(lrs, id="sweep-lr")
        with Horizontal(classes="inline-form", id="rank-row"):
            yield Label("LoRA ranks")
            yield Input(ranks, id="sweep-rank")
        with Horizontal(classes="inline-form"):
            yield Label("steps per trial")
            yield Input("30", id="sweep-steps")
            yield Label(" examples")
            yield Input("400", id="sweep-examples")
        yield Table(id="trials", cursor_type="row")
        with Horizontal(id="sweep-buttons"):
            yield Button("Start", id="sweep-start", variant="primary")
            yield Button("Stop", id="sweep-stop", variant="error", disabled=True)
            yield Button("Apply best to the run", id="sweep-apply", disabled=True)
            yield Button("Back", id="sweep-close")
            yield Static("", id="sweep-status")
        yield Footer()

    def on_mount(self) -> None:
        for widget in self.query("Button, Input"):
            widget.compact = True  # type: ignore[attr-defined]
        self.query_one("#rank-row").display = self.config.uses_peft
        self.query_one("#trials", DataTable).add_columns("rank", "trial", "setting", "val loss", "train loss",
                                                         "time", "status")

    def grid(self) -> tuple[dict[str, list[float | int]], int, int]:
        grid: dict[str, list[float | int]] = {"learning_rate": _values(self.query_one("#sweep-lr", Input).value,
                                                                        float)}
        if self.config.uses_peft:
            grid["lora_r"] = _values(self.query_one("#sweep-rank", Input).value, int)
        steps = _values(self.query_one("#sweep-steps", Input).value, int)[0]
        examples = _values(self.query_one("#sweep-examples", Input).value, int)[0]
        return grid, steps, examples

    def start(self) -> None:
        if self.running:
            return
        try:
            grid, steps, examples = self.grid()
            trials = self.tune_app.engine.plan_sweep(self.config, grid, max_trials=12)
        except (ValueError, TuneuiError) as exc:  # the user's numbers: say what is wrong
            self._status(f"[red]{escape(str(exc))}[/red]")
            return
        out = self.out_dir or self.tune_app.engine.sweep_dir(self.config)
        self.running = True
        self.stop_event = threading.Event()
        self._buttons()
        self._status(f"{len(trials)} trials of {steps} steps → {escape(str(out))}")
        self._run(trials, out, steps, examples)

    @work(thread=True, exclusive=True, group="sweep")
    def _run(self, trials: list[Trial], out: Path, steps: int, examples: int) -> None:
        def update(result: SweepResult) -> None:
            best = result.best
            post_result(self, SweepUpdated([dataclasses.replace(t) for t in result.trials],
                                           dataclasses.replace(best) if best else None))

        try:
            self.tune_app.engine.run_sweep(self.config, out, trials=trials, steps=steps, max_train=examples,
                                           on_update=update, stop=self.stop_event)
        except Exception as exc:  # noqa: BLE001
            post_result(self, SweepEnded(exc))
            return
        post_result(self, SweepEnded())

    @on(SweepUpdated)
    def _updated(self, message: SweepUpdated) -> None:
        self.show(message.trials, message.best)

    def show(self, trials: list[Trial], best: Trial | None) -> None:
        self.trials, self.best = trials, best
        table = self.query_one("#trials", DataTable)
        table.clear()
        order = sorted(trials, key=lambda t: (t.rank is None, t.rank or 0, t.index))

        def num(x: float | None) -> str:
            return "—" if x is None else f"{x:.4f}"

        for t in order:
            table.add_row(str(t.rank or "—"), str(t.index), _setting(t), num(t.val_loss), num(t.train_loss),
                          "—" if t.seconds is None else f"{t.seconds:.0f}s", t.status)
        self._buttons()

    @on(SweepEnded)
    def _finished(self, message: SweepEnded) -> None:
        self.running = False
        if message.error is not None:
            self._status(f"[red]sweep failed: {escape(str(message.error))}[/red]")
        else:
            self._status(f"done; best: {_setting(self.best)}" if self.best
                         else "no trial finished (see the trial folders' train.log)")
        self._buttons()

    def _buttons(self) -> None:
        self.query_one("#sweep-start", Button).disabled = self.running
        self.query_one("#sweep-stop", Button).disabled = not self.running
        self.query_one("#sweep-apply", Button).disabled = self.running or self.best is None

    def _status(self, text: str) -> None:
        self.query_one("#sweep-status", Static).update(text)

    def apply_best(self) -> None:
        best = self.best
        if best is None:
            return
        state = self.tune_app.state
        state.config = state.config.updated(**best.overrides)
        self.config = state.config
        self.notify("Applied to the run settings: " + ", ".join(f"{k}={v}" for k, v in best.overrides.items()),
                    title="Best setting applied")
        self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"sweep-start": self.start, "sweep-stop": self.action_stop, "sweep-apply": self.apply_best,
                   "sweep-close": self.action_close}
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    def action_stop(self) -> None:
        if self.running:
            self.stop_event.set()
            self._status("stopping after the current trial's checkpoint…")

    def action_close(self) -> None:
        self.action_stop()
        self.app.pop_screen()


def _setting(trial: Trial) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in trial.overrides.items() if k != "lora_alpha")
