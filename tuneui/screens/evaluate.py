"""The Evaluate screen: base vs tuned on the validation split (a preference run: how each ranks the held-out
replies), the forgetting verdict, examples where the two differ, and a Compare tab with past runs and their
loss curves overlaid.

It reads report.json (the runner writes it at the end of every run); Re-evaluate recomputes it in
a thread worker. Pushed from Chat (ctrl+e), Export, or by the app when a run finishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from tuneui.contract.evaluation import EvaluationReport, PreferenceFigures, report_rows
from tuneui.contract.runs import COLUMNS, RunRow, table_rows
from tuneui.screens.base import post_result
from tuneui.screens.host import WizardHost, host
from tuneui.screens.widgets.table import Table

VERDICT_STYLE = {"none": "green", "mild": "yellow", "noticeable": "dark_orange", "severe": "red"}
CURVE_COLORS = ["cyan", "orange", "green", "magenta", "red", "blue"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def headline(report: EvaluationReport) -> str:
    if report.preference is not None:
        return preference_headline(report.preference)
    tm = report.task_metric
    base, tuned = tm.base, tm.tuned
    if base is None or tuned is None:
        return "No task metric (no validation examples with checkable answers)."
    if tuned > base:
        return f"[green]The tuned model beats the base[/green] on {tm.name}: {_pct(base)} → {_pct(tuned)}."
    if tuned == base:
        return f"[yellow]No change[/yellow] on {tm.name}: both {_pct(base)}."
    return f"[red]The tuned model is worse than the base[/red] on {tm.name}: {_pct(base)} → {_pct(tuned)}."


def preference_headline(figures: PreferenceFigures) -> str:
    """A preference run's one line: does the tuned model rank the held-out replies better than the base?"""
    base, tuned = figures.base, figures.tuned
    if base is None or tuned is None:
        return "No preference figures for both models (no held-out replies, or the base was not measured)."
    if tuned.pairs is not None:
        b, t = base.accuracy, tuned.accuracy
        what = f"on {tuned.pairs} held-out pairs (chosen reply more likely than rejected): {_pct(b)} → {_pct(t)}."
    else:
        b, t = (None if s.desirable_mean_logp is None or s.undesirable_mean_logp is None
                else s.desirable_mean_logp - s.undesirable_mean_logp for s in (base, tuned))
        what = f"(desirable minus undesirable replies' mean log-probability: {_num(b)} → {_num(t)})."
    if b is None or t is None:
        return f"Preference figures incomplete {what}"
    if t > b:
        return f"[green]The tuned model prefers the better replies more than the base[/green] {what}"
    if t == b:
        return f"[yellow]No change in which replies the model prefers[/yellow] {what}"
    return f"[red]The tuned model prefers the better replies less than the base[/red] {what}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


@dataclass
class ReportRead(Message):
    report: EvaluationReport | None
    recomputed: bool = False


@dataclass
class EvaluationFailed(Message):
    error: Exception


@dataclass
class RunsCompared(Message):
    rows: list[RunRow]


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
        self.report: EvaluationReport | None = None

    def compose(self) -> ComposeResult:
        name = self.run_dir.name if self.run_dir else "no run"
        yield Static(f"Evaluation — [b]{escape(name)}[/b]", id="eval-title")
        with TabbedContent(id="eval-tabs"):
            with TabPane("Base vs tuned", id="tab-report"):
                with VerticalScroll():
                    yield Static("", id="eval-headline")
                    yield Table(id="eval-metrics", cursor_type="none")
                    yield Static("", id="eval-verdict", classes="panel")
                    yield Static("Examples where the base and the tuned model answer differently",
                                 classes="panel-title", id="eval-examples-title")
                    yield Table(id="eval-examples", cursor_type="row")
            with TabPane("Compare runs", id="tab-compare"):
                with VerticalScroll():
                    yield Table(id="runs-table", cursor_type="row")
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
        self.query_one("#runs-table", DataTable).add_columns(*COLUMNS)
        self.query_one("#curves", PlotextPlot).styles.height = 16
        self._load()
        self._load_runs()

    @property
    def tune_app(self) -> WizardHost:
        return host(self)

    # Report ------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="eval-read")
    def _load(self) -> None:
        post_result(self, ReportRead(self.tune_app.engine.read_report(self.run_dir) if self.run_dir else None))

    @on(ReportRead)
    def _report_read(self, message: ReportRead) -> None:
        if message.recomputed:
            self.query_one("#eval-status", Static).update("report.json updated")
            self._load_runs()
        self.show_report(message.report)

    def show_report(self, report: EvaluationReport | None) -> None:
        self.report = report
        metrics = self.query_one("#eval-metrics", DataTable)
        examples = self.query_one("#eval-examples", DataTable)
        metrics.clear()
        examples.clear()
        self.query_one("#reevaluate", Button).disabled = self.run_dir is None
        if report is None:
            self.query_one("#eval-headline", Static).update(
                "No report yet: it is written at the end of every run; press Re-evaluate to compute it now."
                if self.run_dir else "Open a run first (Chat step, or Welcome › Open).")
            self.query_one("#eval-verdict", Static).display = False
            return
        self.query_one("#eval-headline", Static).update(headline(report))
        for row in report_rows(report):
            metrics.add_row(*row)
        fg = report.forgetting
        verdict = self.query_one("#eval-verdict", Static)
        verdict.display = fg is not None
        if fg is not None:
            style = VERDICT_STYLE.get(fg.level, "white")
            verdict.update(f"[b]Forgetting probe[/b] (perplexity on general text the model never trained on): "
                           f"[{style}]{escape(fg.verdict)}[/{style}]")
        generated = report.preference is None  # a preference run ranks given replies: it generates none
        for widget in (examples, self.query_one("#eval-examples-title", Static)):
            widget.display = generated
        for ex in report.examples[:8]:
            examples.add_row(*(escape(text)[:40] for text in (ex.prompt, ex.reference, ex.base, ex.tuned)))

    def action_reevaluate(self) -> None:
        if self.run_dir is None:
            return
        self.query_one("#reevaluate", Button).disabled = True
        self.query_one("#eval-status", Static).update("evaluating base and tuned model… (this loads the model)")
        self._reevaluate(self.run_dir)

    @work(thread=True, exclusive=True, group="eval-run")
    def _reevaluate(self, run_dir: Path) -> None:
        try:
            post_result(self, ReportRead(self.tune_app.engine.evaluate_run(run_dir), recomputed=True))
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            post_result(self, EvaluationFailed(exc))

    @on(EvaluationFailed)
    def _failed(self, message: EvaluationFailed) -> None:
        self.query_one("#eval-status", Static).update(f"[red]evaluation failed: {escape(str(message.error))}[/red]")
        self.query_one("#reevaluate", Button).disabled = False

    # Compare -----------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="eval-compare")
    def _load_runs(self) -> None:
        try:
            post_result(self, RunsCompared(self.tune_app.engine.compare_runs([self.run_dir] if self.run_dir else [])))
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Could not list runs: {exc}", severity="warning")

    @on(RunsCompared)
    def _runs_compared(self, message: RunsCompared) -> None:
        self.show_runs(message.rows)

    def show_runs(self, rows: list[RunRow]) -> None:
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
            if row.curve:
                plt.plot([s for s, _ in row.curve], [v for _, v in row.curve], label=row.name[:16],
                         marker="braille", color=CURVE_COLORS[i])
        plot.refresh()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reevaluate":
            self.action_reevaluate()
        elif event.button.id == "close":
            self.action_close()

    def action_close(self) -> None:
        self.app.pop_screen()
