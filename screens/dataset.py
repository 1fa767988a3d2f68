"""Step 3: pick the training data, see what tuneui detected and why, fix the mapping, browse it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from screens.base import StepScreen
from screens.views import as_dict

FORMATS = ("auto", "messages", "sharegpt", "alpaca", "prompt_completion", "qa", "text")
PAGE = 8


def _first(conv: list[dict], role: str) -> str:
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
            yield DataTable(id="preview", cursor_type="row", zebra_stripes=True)
        with Vertical(classes="panel", id="problems-box"):
            yield Label("Problems", classes="panel-title")
            yield DataTable(id="problems", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#preview", DataTable).add_columns("#", "line", "turns", "user / prompt", "assistant / answer")
        self.query_one("#problems", DataTable).add_columns("where", "severity", "problem")
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        if self.state.dataset_path is not None:
            self.query_one("#data-path", Input).value = str(self.state.dataset_path)
        cfg = self.state.config
        if self.state.load_result is not None:
            self._show(self.state.load_result)
        elif self.app.demo:  # type: ignore[attr-defined]
            self.use_sample()

    # Choosing a file ------------------------------------------------------------------------
    @on(Button.Pressed, "#sample")
    def _sample(self) -> None:
        self.use_sample()

    @work(thread=True, exclusive=True, group="load")
    def use_sample(self) -> None:
        try:
            path = self.services.sample_dataset_path()
        except Exception as exc:
            self.deliver(self.show_error, exc, "Sample data")
            return
        self.deliver(self._set_path_and_load, Path(path))

    def _set_path_and_load(self, path: Path) -> None:
        self.query_one("#data-path", Input).value = str(path)
        self.load(path, "auto", {})

    @on(Button.Pressed, "#browse")
    def action_browse(self) -> None:
        from screens.widgets.file_picker import FilePicker

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
    def _reload(self, event) -> None:
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
    def _load(self, path: Path, fmt: str, columns: dict) -> None:
        try:
            result = self.services.load_dataset(path, fmt, columns)
        except Exception as exc:
            self.deliver(self._failed, path, exc)
            return
        self.deliver(self._loaded, path, fmt, columns, result)

    def _failed(self, path: Path, exc: Exception) -> None:
        self.state.load_result = None
        self.query_one("#detected", Static).update(f"[red]Cannot read {escape(str(path))}:[/red] {escape(str(exc))}")
        self.query_one("#preview", DataTable).clear()
        self.show_error(exc, "Dataset")

    def _loaded(self, path: Path, fmt: str, columns: dict, result: Any) -> None:
        self.state.dataset_path = path
        self.state.load_result = result
        self.state.clean_result = None
        self.state.token_insight = None
        self.state.config.dataset = str(path)
        self.state.config.dataset_format = fmt
        self.state.config.columns = columns
        self.page = 0
        self._show(result)
        n = len(getattr(result, "conversations", []) or [])
        self.set_status(f"{n} examples ready — Next cleans them" if n else "no usable examples in this file",
                        error=not n)

    # Showing it ------------------------------------------------------------------------------
    def _show(self, result: Any) -> None:
        d = as_dict(result)
        fmt = d.get("format", {}) or {}
        conf = fmt.get("confidence")
        evidence = "; ".join(fmt.get("evidence") or []) or "no evidence recorded"
        summary = d.get("problem_summary", {}) or {}
        lines = [
            f"[b]{escape(str(fmt.get('name', '?')))}[/b] format"
            + (f" (confidence {float(conf):.0%})" if conf is not None else "")
            + f" — {d.get('examples', '?')} examples from {d.get('records', '?')} {d.get('unit', 'record')}s"
            + (f", {d.get('file_type')}" if d.get("file_type") else "")
            + (f", {d.get('encoding')}" if d.get("encoding") else ""),
            f"why: {escape(evidence)}",
        ]
        for note in d.get("notes") or []:
            lines.append(f"[yellow]note:[/yellow] {escape(str(note))}")
        bad = summary.get("bad_lines") or summary.get("errors")
        if bad:
            lines.append(f"[red]{bad} bad {d.get('unit', 'line')}s are skipped[/red] (listed below; "
                         "your file is not changed)")
        self.query_one("#detected", Static).update("\n".join(lines))
        cols = fmt.get("columns") or {}
        self.query_one("#columns", Input).value = ", ".join(f"{k}={v}" for k, v in cols.items())
        name = self.state.config.dataset_format
        self.query_one("#format", Select).value = name if name in FORMATS else "auto"
        self._show_page()
        problems = self.query_one("#problems", DataTable)
        problems.clear()
        for p in d.get("problems") or []:
            problems.add_row(str(p.get("where") or p.get("line") or ""), str(p.get("severity", "")),
                             _short(p.get("message", ""), 90))
        if not d.get("problems"):
            problems.add_row("", "", "no problems found")

    def _show_page(self) -> None:
        result = self.state.load_result
        convs = list(getattr(result, "conversations", []) or [])
        lines = list(getattr(result, "lines", []) or [])
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
        if not getattr(self.state.load_result, "conversations", None):
            return "This file has no usable examples; fix the column mapping or pick another file."
        return None


SCREEN = DatasetScreen
