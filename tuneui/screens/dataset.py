"""Step 3: pick the training data, see what tuneui detected and why, fix the mapping, browse it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from tuneui.contract.config import DATASET_FORMATS as FORMATS
from tuneui.contract.datasets import Conversation, LoadResult
from tuneui.screens.base import StepScreen
from tuneui.screens.widgets.table import Table

PAGE = 8
# Problems listed on screen; the counts above the table are the whole file's.
SHOWN_PROBLEMS = 50


@dataclass
class SampleFound(Message):
    path: Path


@dataclass
class DatasetLoaded(Message):
    path: Path
    fmt: str
    columns: dict[str, str]
    result: LoadResult


@dataclass
class DatasetLoadFailed(Message):
    path: Path
    error: Exception


def _first(conv: Conversation, role: str) -> str:
    return next((m.get("content", "") for m in conv if m.get("role") == role), "")


def _short(text: str, n: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def parse_columns(text: str) -> dict[str, str]:
    """'prompt=question, completion=answer' -> {"prompt": "question", ...}; raises ValueError."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"column mapping {part!r}: expected field=column")
        out[key.strip()] = value.strip()
    return out


class DatasetScreen(StepScreen):
    STEP = "dataset"
    BINDINGS = [Binding("pagedown,ctrl+down", "page(1)", "Next page", show=False),
                Binding("pageup,ctrl+up", "page(-1)", "Prev page", show=False),
                Binding("ctrl+o", "browse", "Open file")]

    def __init__(self) -> None:
        super().__init__()
        self.page = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="inline-form"):
            yield Input(placeholder="path to a .jsonl/.json/.csv/.parquet/.txt file", id="data-path")
            yield Button("Browse…", id="browse")
            yield Button("Sample data", id="sample")
        yield Static("Pick a file (Ctrl+O browses), or use the bundled sample data.", id="detected")
        with Horizontal(classes="inline-form", id="mapping"):
            yield Select([(f, f) for f in FORMATS], value="auto", allow_blank=False, id="format")
            yield Input(placeholder="column mapping, e.g. prompt=question, completion=answer", id="columns")
            yield Button("Re-read", id="reload")
        with Vertical(classes="panel"):
            with Horizontal(id="preview-head"):
                yield Label("Preview", classes="panel-title")
                yield Static("", id="page-label")
                yield Button("◀", id="prev-page", classes="small")
                yield Button("▶", id="next-page", classes="small")
            yield Table(id="preview", cursor_type="row", zebra_stripes=True)
        with Vertical(classes="panel", id="problems-box"):
            yield Label("Problems", classes="panel-title")
            yield Table(id="problems", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#preview", DataTable).add_columns("#", "line", "turns", "user / prompt", "assistant / answer")
        self.query_one("#problems", DataTable).add_columns("where", "severity", "problem")
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        if self.state.dataset_path is not None:
            self.query_one("#data-path", Input).value = str(self.state.dataset_path)
        if self.state.load_result is not None:
            self._show(self.state.load_result)
        elif self.tune_app.demo:
            self.use_sample()

    # Choosing a file ------------------------------------------------------------------------
    @on(Button.Pressed, "#sample")
    def _sample(self) -> None:
        self.use_sample()

    @work(thread=True, exclusive=True, group="load")
    def use_sample(self) -> None:
        try:
            self.post_result(SampleFound(self.engine.sample_dataset_path()))
        except Exception as exc:
            self.post_failure("Sample data", exc)

    @on(SampleFound)
    def _set_path_and_load(self, message: SampleFound) -> None:
        self.query_one("#data-path", Input).value = str(message.path)
        self.load(message.path, "auto", {})

    @on(Button.Pressed, "#browse")
    def action_browse(self) -> None:
        from tuneui.screens.widgets.file_picker import FilePicker

        current = self.query_one("#data-path", Input).value.strip()

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.query_one("#data-path", Input).value = str(path)
                self.load(path, "auto", {})

        self.app.push_screen(FilePicker(Path(current).parent if current else Path.cwd(),
                                        title="Choose a dataset file"), chosen)

    @on(Input.Submitted, "#data-path")
    def _path_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.load(Path(event.value.strip()).expanduser(), "auto", {})

    @on(Input.Submitted, "#columns")
    @on(Button.Pressed, "#reload")
    def _reload(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        path = self.query_one("#data-path", Input).value.strip()
        if not path:
            self.set_status("Pick a file first.", error=True)
            return
        try:
            columns = parse_columns(self.query_one("#columns", Input).value)
        except ValueError as exc:
            self.set_status(str(exc), error=True)
            return
        self.load(Path(path).expanduser(), str(self.query_one("#format", Select).value), columns)

    def load(self, path: Path, fmt: str, columns: dict) -> None:
        self.set_status(f"reading {path.name}…")
        self._load(path, fmt, columns)

    @work(thread=True, exclusive=True, group="load")
    def _load(self, path: Path, fmt: str, columns: dict[str, str]) -> None:
        try:
            result = self.engine.load_dataset(path, fmt, columns)
        except Exception as exc:
            self.post_result(DatasetLoadFailed(path, exc))
            return
        self.post_result(DatasetLoaded(path, fmt, columns, result))

    @on(DatasetLoadFailed)
    def _failed(self, message: DatasetLoadFailed) -> None:
        path, exc = message.path, message.error
        self.state.load_result = None
        self.query_one("#detected", Static).update(f"[red]Cannot read {escape(str(path))}:[/red] {escape(str(exc))}")
        self.query_one("#preview", DataTable).clear()
        self.show_error(exc, "Dataset")

    @on(DatasetLoaded)
    def _loaded(self, message: DatasetLoaded) -> None:
        path, fmt, columns, result = message.path, message.fmt, message.columns, message.result
        self.state.dataset_path = path
        self.state.load_result = result
        self.state.clean_result = None
        self.state.token_insight = None
        # The run reads the file itself: it must skip exactly the lines this step reported as skipped.
        self.state.config = self.state.config.updated(dataset=str(path), dataset_format=fmt, columns=columns,
                                                      skip_bad_lines=result.problems.bad_lines > 0)
        self.page = 0
        self._show(result)
        n = len(result.conversations)
        self.set_status(f"{n} examples ready — Next cleans them" if n else "no usable examples in this file",
                        error=not n)

    # Showing it ------------------------------------------------------------------------------
    def _show(self, result: LoadResult) -> None:
        fmt = result.format
        evidence = "; ".join(fmt.evidence) or "no evidence recorded"
        lines = [
            f"[b]{escape(fmt.name)}[/b] format (confidence {fmt.confidence:.0%})"
            f" — {len(result.conversations)} examples from {result.records} {result.unit}s"
            + (f", {result.file_type}" if result.file_type else "")
            + (f", {result.encoding}" if result.encoding else ""),
            f"why: {escape(evidence)}",
        ]
        for note in result.notes:
            lines.append(f"[yellow]note:[/yellow] {escape(note)}")
        bad = result.problems.bad_lines
        if bad:
            lines.append(f"[red]{bad} bad {result.unit}s are skipped[/red] (listed below; "
                         "your file is not changed)")
        self.query_one("#detected", Static).update("\n".join(lines))
        self.query_one("#columns", Input).value = ", ".join(f"{k}={v}" for k, v in fmt.columns.items())
        name = self.state.config.dataset_format
        self.query_one("#format", Select).value = name if name in FORMATS else "auto"
        self._show_page()
        problems = self.query_one("#problems", DataTable)
        problems.clear()
        for p in result.problems.kept[:SHOWN_PROBLEMS]:
            problems.add_row(p.where, p.severity, _short(p.message, 90))
        if not result.problems.kept:
            problems.add_row("", "", "no problems found")

    def _show_page(self) -> None:
        result = self.state.load_result
        if result is None:
            return
        convs, lines = result.conversations, result.lines
        pages = max(1, (len(convs) + PAGE - 1) // PAGE)
        self.page = max(0, min(self.page, pages - 1))
        table = self.query_one("#preview", DataTable)
        table.clear()
        start = self.page * PAGE
        width = max(20, (self.size.width - 30) // 2)  # the two text columns share what is left
        for i, conv in enumerate(convs[start:start + PAGE], start):
            user = _first(conv, "user") or _first(conv, "system")
            table.add_row(str(i + 1), str(lines[i]) if i < len(lines) else "", str(len(conv)),
                          _short(user, width), _short(_first(conv, "assistant"), width))
        self.query_one("#page-label", Static).update(f"page {self.page + 1}/{pages} (PgUp/PgDn)")

    @on(Button.Pressed, "#prev-page")
    def _prev(self) -> None:
        self.action_page(-1)

    @on(Button.Pressed, "#next-page")
    def _next(self) -> None:
        self.action_page(1)

    def action_page(self, delta: int) -> None:
        if self.state.load_result is not None:
            self.page += delta
            self._show_page()

    def validate_step(self) -> str | None:
        if self.state.load_result is None:
            return "Load a dataset first (or press 'Sample data')."
        if not self.state.load_result.conversations:
            return "This file has no usable examples; fix the column mapping or pick another file."
        return None


SCREEN = DatasetScreen
