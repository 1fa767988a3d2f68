"""Step 3: pick the training data, see what kind of data it is and why, fix the mapping, browse it.

Reading a large file streams in the engine: progress (rows/s, time left) shows in the status line,
the preview holds the first page, and further pages are fetched from the engine when browsed. Data
tuneui cannot train (preference pairs, KTO, multimodal, token ids) is named here and stops the step.
"""

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
from tuneui.contract.datasets import KIND_NAMES, Example, LoadProgress, LoadResult
from tuneui.screens.base import StepScreen
from tuneui.screens.example_text import first_content, parse_columns, reply_text, short, tool_names, tools_text
from tuneui.screens.objective import objective_note
from tuneui.screens.samples import BUTTONS, HINT, Sample, data_changes
from tuneui.screens.widgets.table import Table

PAGE = 8
# Problems listed on screen; the counts above the table are the whole file's.
SHOWN_PROBLEMS = 50


@dataclass
class SampleFound(Message):
    sample: Sample


@dataclass
class DatasetLoaded(Message):
    path: Path
    fmt: str
    columns: dict[str, str]
    result: LoadResult
    sample: Sample | None = None


@dataclass
class DatasetLoadFailed(Message):
    path: Path
    error: Exception


@dataclass
class LoadProgressed(Message):
    progress: LoadProgress


@dataclass
class PageFetched(Message):
    start: int
    examples: list[Example]
    lines: list[int]


class DatasetScreen(StepScreen):
    STEP = "dataset"
    BINDINGS = [Binding("pagedown,ctrl+down", "page(1)", "Next page", show=False),
                Binding("pageup,ctrl+up", "page(-1)", "Prev page", show=False),
                Binding("ctrl+o", "browse", "Open file")]

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        # Pages beyond the preview, fetched from the engine: start -> (examples, lines).
        self._pages: dict[int, tuple[list[Example], list[int]]] = {}
        self._shown: list[Example] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="inline-form"):
            yield Input(placeholder="path to a .jsonl/.json/.csv/.parquet/.txt file", id="data-path")
            yield Button("Browse…", id="browse")
            yield Button("Sample data", id="sample")
            yield Button("Sample pairs", id="sample-pairs")
        yield Static(HINT, id="detected")
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
            yield Static("", id="row-detail", classes="muted")
        with Vertical(classes="panel", id="problems-box"):
            yield Label("Problems", classes="panel-title")
            yield Table(id="problems", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#preview", DataTable).add_columns("#", "line", "turns", "tools", "user / prompt",
                                                          "assistant / answer")
        self.query_one("#problems", DataTable).add_columns("where", "severity", "problem")
        self.query_one("#row-detail", Static).display = False
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
    @on(Button.Pressed, "#sample-pairs")
    def _sample(self, event: Button.Pressed) -> None:
        self.use_sample(BUTTONS[event.button.id or "sample"])

    @work(thread=True, exclusive=True, group="load")
    def use_sample(self, objective: str = "sft") -> None:
        """The demo's conversations (objective sft), or its preference pairs and their held-out pairs."""
        try:
            if objective == "sft":
                sample = Sample(self.engine.sample_dataset_path(), None, objective)
            else:
                sample = Sample(*self.engine.sample_pairs_paths(), objective)
            self.post_result(SampleFound(sample))
        except Exception as exc:
            self.post_failure("Sample data" if objective == "sft" else "Sample pairs", exc)

    @on(SampleFound)
    def _set_path_and_load(self, message: SampleFound) -> None:
        self.query_one("#data-path", Input).value = str(message.sample.path)
        self.load(message.sample.path, "auto", {}, message.sample)

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

    def load(self, path: Path, fmt: str, columns: dict, sample: Sample | None = None) -> None:
        self.set_status(f"reading {path.name}…")
        self._load(path, fmt, columns, sample)

    @work(thread=True, exclusive=True, group="load")
    def _load(self, path: Path, fmt: str, columns: dict[str, str], sample: Sample | None) -> None:
        try:
            result = self.engine.load_dataset(path, fmt, columns,
                                              progress=lambda p: self.post_result(LoadProgressed(p)))
        except Exception as exc:
            self.post_result(DatasetLoadFailed(path, exc))
            return
        self.post_result(DatasetLoaded(path, fmt, columns, result, sample))

    @on(LoadProgressed)
    def _progressed(self, message: LoadProgressed) -> None:
        if message.progress.fraction != 1.0:
            self.set_status(message.progress.line())

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
        changes = data_changes(self.state.config, path, message.sample, demo=self.tune_app.demo)
        self.state.config = self.state.config.updated(dataset=str(path), dataset_format=fmt, columns=columns,
                                                      skip_bad_lines=result.problems.bad_lines > 0, **changes)
        self.page = 0
        self._pages = {}
        self._show(result)
        n = result.examples
        if result.refusal and not result.objectives:
            self.set_status(f"tuneui cannot train this file: {result.refusal}", error=True)
        elif result.refusal:
            self.set_status(f"{n:,} examples ready — {objective_note(result)}")
        else:
            self.set_status(f"{n:,} examples ready — Next cleans them" if n else "no usable examples in this file",
                            error=not n)

    # Showing it ------------------------------------------------------------------------------
    def _show(self, result: LoadResult) -> None:
        fmt = result.format
        evidence = "; ".join(fmt.evidence) or "no evidence recorded"
        lines = [
            f"[b]{escape(KIND_NAMES.get(result.kind, result.kind))}[/b], {escape(fmt.name)} format "
            f"(confidence {fmt.confidence:.0%}) — {result.examples:,} examples from {result.records:,} {result.unit}s"
            + (f", {result.file_type}" if result.file_type else "")
            + (f", {result.encoding}" if result.encoding else ""),
            f"why: {escape(evidence)}",
        ]
        kind_evidence = "; ".join(result.kind_evidence)
        if kind_evidence and result.kind not in ("sft", "text") and kind_evidence != evidence:  # said once is enough
            lines.append(f"kind: {escape(kind_evidence)}")
        if result.refusal and not result.objectives:
            lines.append(f"[red]tuneui cannot train this file:[/red] {escape(result.refusal)}")
        elif result.refusal:
            lines.append(f"[b]not SFT data:[/b] {escape(objective_note(result))}")
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
            problems.add_row(p.where, p.severity, short(p.message, 90))
        if not result.problems.kept:
            problems.add_row("", "", "no problems found")

    def _show_page(self) -> None:
        result = self.state.load_result
        if result is None:
            return
        pages = max(1, (result.examples + PAGE - 1) // PAGE)
        self.page = max(0, min(self.page, pages - 1))
        start = self.page * PAGE
        if start + PAGE <= len(result.preview) or result.complete:
            examples, lines = result.preview[start:start + PAGE], result.preview_lines[start:start + PAGE]
        elif start in self._pages:
            examples, lines = self._pages[start]
        else:
            self.query_one("#page-label", Static).update(f"page {self.page + 1}/{pages} (reading…)")
            self._fetch_page(result, start)
            return
        self._fill(examples, lines, start, pages)

    def _fill(self, examples: list[Example], lines: list[int], start: int, pages: int) -> None:
        table = self.query_one("#preview", DataTable)
        table.clear()
        width = max(20, (self.size.width - 44) // 2)  # the two text columns share what is left
        for i, (ex, line) in enumerate(zip(examples, lines), start):
            conv = ex.messages
            user = first_content(conv, "user") or first_content(conv, "system")
            table.add_row(str(i + 1), str(line), str(len(conv)), short(tool_names(ex), 14), short(user, width),
                          short(reply_text(ex), width))
        self._shown = list(examples)
        self._show_detail(0)
        self.query_one("#page-label", Static).update(f"page {self.page + 1}/{pages} (PgUp/PgDn)")

    @work(thread=True, exclusive=True, group="page")
    def _fetch_page(self, result: LoadResult, start: int) -> None:
        try:
            examples, lines = self.engine.dataset_page(result, start, PAGE)
        except Exception as exc:
            self.post_failure("Dataset page", exc)
            return
        self.post_result(PageFetched(start, examples, lines))

    @on(PageFetched)
    def _page_fetched(self, message: PageFetched) -> None:
        self._pages[message.start] = (message.examples, message.lines)
        if message.start == self.page * PAGE:
            self._show_page()

    @on(DataTable.RowHighlighted, "#preview")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        """The highlighted example's tools and calls, or the other reply of a preference pair."""
        box = self.query_one("#row-detail", Static)
        if not 0 <= row < len(self._shown):
            box.update("")
            box.display = False
            return
        ex = self._shown[row]
        text = tools_text(ex)
        if ex.rejected is not None:
            text = (text + "\n" if text else "") + "rejected: " + short(first_content(ex.rejected, "assistant"), 200)
        box.update(escape(text))
        box.display = bool(text)  # only rows with tools, calls or a second reply have details

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
        result = self.state.load_result
        if result is None:
            return "Load a dataset first (or press 'Sample data' or 'Sample pairs')."
        if result.refusal and not result.objectives:
            return f"tuneui cannot train this file: {result.refusal}"
        if not result.examples:
            return "This file has no usable examples; fix the column mapping or pick another file."
        return None


SCREEN = DatasetScreen

