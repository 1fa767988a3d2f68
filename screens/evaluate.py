"""The Evaluate screen: base vs tuned on the validation split, the forgetting verdict, examples where
the two differ, and a Compare tab with past runs and their loss curves overlaid.

It reads report.json (the runner writes it at the end of every run); Re-evaluate recomputes it in
a thread worker. Pushed from Chat (ctrl+e), Export, or by the app when a run finishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from screens.loop_services import service

VERDICT_STYLE = {"none": "green", "mild": "yellow", "noticeable": "dark_orange", "severe": "red"}
CURVE_COLORS = ["cyan", "orange", "green", "magenta", "red", "blue"]


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def metric_rows(report: dict) -> list[tuple[str, str, str]]:
    """(what, base, tuned): the same rows `tuneui evaluate` prints (plain formatting, no heavy imports)."""
    from tuneui.evaluate_run import report_rows

    return report_rows(report)


def headline(report: dict) -> str:
    tm = report.get("task_metric") or {}
    base, tuned = tm.get("base"), tm.get("tuned")
    if base is None or tuned is None:
        return "No task metric (no validation examples with checkable answers)."
    if tuned > base:
        return f"[green]The tuned model beats the base[/green] on {tm.get('name')}: {_pct(base)} → {_pct(tuned)}."
    if tuned == base:
        return f"[yellow]No change[/yellow] on {tm.get('name')}: both {_pct(base)}."
    return f"[red]The tuned model is worse than the base[/red] on {tm.get('name')}: {_pct(base)} → {_pct(tuned)}."


class EvaluateScreen(Screen):
    DEFAULT_CSS = """
    EvaluateScreen #eval-title { height: 1; padding: 0 1; background: $panel; }
    EvaluateScreen #eval-tabs { height: 1fr; }
    EvaluateScreen #eval-tabs TabPane { height: 1fr; padding: 0 1; }
    EvaluateScreen #eval-buttons { height: auto; padding: 0 1; }
    EvaluateScreen #eval-buttons Button { width: auto; margin-right: 1; }
    EvaluateScreen #eval-status { width: 1fr; padding: 0 1; }
    EvaluateScreen DataTable { height: auto; max-height: 14; }
    """
    BINDINGS = [Binding("escape", "close", "Back"), Binding("ctrl+r", "reevaluate", "Re-evaluate")]

    def __init__(self, run_dir: Path | None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir) if run_dir else None
        self.report: dict | None = None

    def compose(self) -> ComposeResult:
        name = self.run_dir.name if self.run_dir else "no run"
        yield Static(f"Evaluation — [b]{escape(name)}[/b]", id="eval-title")
        with TabbedContent(id="eval-tabs"):
            with TabPane("Base vs tuned", id="tab-report"):
                with VerticalScroll():
                    yield Static("", id="eval-headline")
                    yield DataTable(id="eval-metrics", cursor_type="none")
                    yield Static("", id="eval-verdict", classes="panel")
                    yield Static("Examples where the base and the tuned model answer differently",
                                 classes="panel-title")
                    yield DataTable(id="eval-examples", cursor_type="row")
            with TabPane("Compare runs", id="tab-compare"):
                with VerticalScroll():
                    yield DataTable(id="runs-table", cursor_type="row")
                    yield PlotextPlot(id="curves")
        with Horizontal(classes="button-row", id="eval-buttons"):
            yield Button("Re-evaluate", id="reevaluate")
            yield Button("Back", id="close")
            yield Static("", id="eval-status")
        yield Footer()

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.compact = True  # one-row buttons, as on the wizard steps
        self.query_one("#eval-metrics", DataTable).add_columns("", "base", "tuned")
        self.query_one("#eval-examples", DataTable).add_columns("prompt", "reference", "base", "tuned")
        from tuneui.compare import COLUMNS  # pure python, no heavy imports

        self.query_one("#runs-table", DataTable).add_columns(*COLUMNS)
        self.query_one("#curves", PlotextPlot).styles.height = 16
        self._load()
        self._load_runs()

    # Report ------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="eval-read")
    def _load(self) -> None:
        report = service(self, "read_report")(self.run_dir) if self.run_dir else None
        self.app.call_from_thread(self.show_report, report)

    def show_report(self, report: dict | None) -> None:
        self.report = report
        metrics = self.query_one("#eval-metrics", DataTable)
        examples = self.query_one("#eval-examples", DataTable)
        metrics.clear()
        examples.clear()
        self.query_one("#reevaluate", Button).disabled = self.run_dir is None
        if not report:
            self.query_one("#eval-headline", Static).update(
                "No report yet: it is written at the end of every run; press Re-evaluate to compute it now."
                if self.run_dir else "Open a run first (Chat step, or Welcome › Open).")
            self.query_one("#eval-verdict", Static).display = False
            return
        self.query_one("#eval-headline", Static).update(headline(report))
        for row in metric_rows(report):
            metrics.add_row(*row)
        fg = report.get("forgetting") or {}
        verdict = self.query_one("#eval-verdict", Static)
        verdict.display = bool(fg)
        if fg:
            style = VERDICT_STYLE.get(fg.get("level"), "white")
            verdict.update(f"[b]Forgetting probe[/b] (perplexity on general text the model never trained on): "
                           f"[{style}]{escape(str(fg.get('verdict', '')))}[/{style}]")
        for ex in report.get("examples", [])[:8]:
            examples.add_row(*(escape(str(ex.get(k, "")))[:40] for k in ("prompt", "reference", "base", "tuned")))

    def action_reevaluate(self) -> None:
        if self.run_dir is None:
            return
        self.query_one("#reevaluate", Button).disabled = True
        self.query_one("#eval-status", Static).update("evaluating base and tuned model… (this loads the model)")
        self._reevaluate()

    @work(thread=True, exclusive=True, group="eval-run")
    def _reevaluate(self) -> None:
        try:
            report = service(self, "evaluate_run")(self.run_dir)
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._reevaluated, report)

    def _failed(self, exc: BaseException) -> None:
        self.query_one("#eval-status", Static).update(f"[red]evaluation failed: {escape(str(exc))}[/red]")
        self.query_one("#reevaluate", Button).disabled = False

    def _reevaluated(self, report: dict) -> None:
        self.query_one("#eval-status", Static).update("report.json updated")
        self.show_report(report)
        self._load_runs()

    # Compare -----------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="eval-compare")
    def _load_runs(self) -> None:
        try:
            rows = service(self, "compare_runs")([self.run_dir] if self.run_dir else [])
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Could not list runs: {exc}", severity="warning")
            return
        self.app.call_from_thread(self.show_runs, rows)

    def show_runs(self, rows: list) -> None:
        from tuneui.compare import table_rows

        table = self.query_one("#runs-table", DataTable)
        table.clear()
        for cells in table_rows(rows):
            table.add_row(*cells)
        plot = self.query_one("#curves", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("training loss, runs overlaid" if rows else "no runs yet")
        plt.xlabel("step")
        for i, row in enumerate(rows[: len(CURVE_COLORS)]):
            data = row if isinstance(row, dict) else vars(row)  # to_dict() leaves the curve out
            curve = data.get("curve") or []
            if curve:
                plt.plot([s for s, _ in curve], [v for _, v in curve], label=str(data["name"])[:16],
                         marker="braille", color=CURVE_COLORS[i])
        plot.refresh()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reevaluate":
            self.action_reevaluate()
        elif event.button.id == "close":
            self.action_close()

    def action_close(self) -> None:
        self.app.pop_screen()
