"""The sweep screen: a handful of short trials over learning rate (and LoRA rank) on a slice of the
data, ranked by validation loss as they finish; the best setting can be applied to the full run.

Opened from Settings (or the command palette). The trials are ordinary runs started by the engine
(`tuneui.sweep.run_sweep`) in a thread worker; Stop ends the current trial at a checkpoint and
skips the rest.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static

from screens.loop_services import service
from screens.views import as_dict


def _values(text: str, kind) -> list:
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

    def __init__(self, config: Any, out_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.out_dir = out_dir
        self.stop_event = threading.Event()
        self.result: Any = None
        self.running = False

    def compose(self) -> ComposeResult:
        cfg = self.config
        yield Static(f"[b]Hyperparameter sweep[/b] for {escape(cfg.name)} ({cfg.technique}): short trials on a "
                     "slice of the data, ranked by validation loss. The best one can be applied to the full run.",
                     id="sweep-title")
        from tuneui.sweep import default_grid  # pydantic + stdlib only

        grid = default_grid(cfg)
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
        yield DataTable(id="trials", cursor_type="row")
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
        self.query_one("#rank-row").display = bool(getattr(self.config, "uses_peft", False))
        self.query_one("#trials", DataTable).add_columns("rank", "trial", "setting", "val loss", "train loss",
                                                         "time", "status")

    def grid(self) -> tuple[dict, int, int]:
        grid = {"learning_rate": _values(self.query_one("#sweep-lr", Input).value, float)}
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
            from tuneui.sweep import plan_trials  # pydantic + stdlib only

            trials = plan_trials(self.config, grid, max_trials=12)
        except Exception as exc:  # noqa: BLE001 - the user's numbers: say what is wrong
            self._status(f"[red]{escape(str(exc))}[/red]")
            return
        out = self.out_dir or self._default_out()
        self.running = True
        self.stop_event = threading.Event()
        self._buttons()
        self._status(f"{len(trials)} trials of {steps} steps → {escape(str(out))}")
        self._run(trials, out, steps, examples)

    def _default_out(self) -> Path:
        from tuneui.paths import runs_dir

        return runs_dir() / f"{self.config.name}-sweep"

    @work(thread=True, exclusive=True, group="sweep")
    def _run(self, trials: list, out: Path, steps: int, examples: int) -> None:
        def update(result: Any) -> None:
            rows = [as_dict(t) for t in result.trials]
            best = as_dict(result.best) if result.best else None
            self.app.call_from_thread(self.show, rows, best, result)

        try:
            service(self, "run_sweep")(self.config, out, trials=trials, steps=steps, max_train=examples,
                                       on_update=update, stop=self.stop_event)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._status, f"[red]sweep failed: {escape(str(exc))}[/red]")
        self.app.call_from_thread(self._finished)

    def show(self, rows: list[dict], best: dict | None, result: Any = None) -> None:
        self.result = result if result is not None else self.result
        self.best = best
        table = self.query_one("#trials", DataTable)
        table.clear()
        order = sorted(rows, key=lambda r: (r.get("rank") is None, r.get("rank") or 0, r["index"]))

        def num(x):
            return "—" if x is None else f"{x:.4f}"

        for r in order:
            setting = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in r["overrides"].items() if k != "lora_alpha")
            table.add_row(str(r.get("rank") or "—"), str(r["index"]), setting, num(r.get("val_loss")),
                          num(r.get("train_loss")), "—" if r.get("seconds") is None else f"{r['seconds']:.0f}s",
                          r["status"])
        self._buttons()

    def _finished(self) -> None:
        self.running = False
        best = getattr(self, "best", None)
        self._status("done; best: " + ", ".join(f"{k}={v:g}" for k, v in best["overrides"].items()
                                                if k != "lora_alpha")
                     if best else "no trial finished (see the trial folders' train.log)")
        self._buttons()

    def _buttons(self) -> None:
        self.query_one("#sweep-start", Button).disabled = self.running
        self.query_one("#sweep-stop", Button).disabled = not self.running
        self.query_one("#sweep-apply", Button).disabled = self.running or not getattr(self, "best", None)

    def _status(self, text: str) -> None:
        self.query_one("#sweep-status", Static).update(text)

    def apply_best(self) -> None:
        best = getattr(self, "best", None)
        if not best:
            return
        from screens.state import apply_config_updates

        apply_config_updates(self.app.state, best["overrides"])  # type: ignore[attr-defined]
        self.config = self.app.state.config  # type: ignore[attr-defined]
        self.notify("Applied to the run settings: " + ", ".join(f"{k}={v}" for k, v in best["overrides"].items()),
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
