"""Step 4: what cleaning removes and why, filter toggles, token lengths, and the trained example."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, DataTable, Label, Select, Static

from screens.base import StepScreen
from screens.views import as_dict, pick
from screens.widgets.plots import TokenHistogram
from screens.widgets.rendered import RenderedExample


def filter_rows(report: dict) -> list[dict]:
    """One row per filter of the cleaning report: name, description, enabled, removed, modified, examples."""
    rows = []
    for f in report.get("filters") or []:
        f = as_dict(f)
        rows.append({"name": str(f.get("name", "?")), "description": str(f.get("description", "")),
                     "enabled": bool(f.get("enabled", True)), "removed": int(f.get("removed") or 0),
                     "modified": int(f.get("modified") or 0), "examples": list(f.get("examples") or [])})
    return rows


def _example_text(example: Any) -> str:
    if isinstance(example, dict):
        conv = example.get("conversation") or example.get("messages")
        reason = example.get("reason") or example.get("detail") or ""
        where = example.get("index", example.get("line"))
        if conv:
            body = " | ".join(f"{m.get('role')}: {m.get('content', '')}" for m in conv)
        else:
            body = str(example.get("text") or example.get("preview") or example)
        prefix = f"#{where} " if where is not None else ""
        return f"{prefix}{body[:160]}" + (f"  ({reason})" if reason else "")
    if isinstance(example, list):
        return " | ".join(f"{m.get('role')}: {m.get('content', '')}" for m in example)[:160]
    return str(example)[:160]


class CleanScreen(StepScreen):
    STEP = "clean"

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[dict] = []
        self._for = None  # the load result the shown cleaning belongs to

    def compose_body(self) -> ComposeResult:
        yield Static("", id="clean-summary")
        with Horizontal(id="clean-cols"):
            with Vertical(classes="panel", id="toggles-box"):
                yield Label("Filters (Space toggles)", classes="panel-title")
                yield Checkbox("clean the data", value=True, id="clean-on")
                yield Vertical(id="toggles")
            with Vertical(classes="panel", id="removed-box"):
                yield Label("Removed per filter (select one to see examples)", classes="panel-title")
                yield DataTable(id="filters", cursor_type="row")
                yield Static("", id="examples")
        with Vertical(classes="panel"):
            yield TokenHistogram(id="histogram")
            yield Static("", id="length-line", classes="muted")
        with Vertical(classes="panel"):
            yield Label("One example exactly as it will be trained", classes="panel-title")
            yield RenderedExample("", id="rendered")

    def on_mount(self) -> None:
        self.query_one("#filters", DataTable).add_columns("filter", "on", "removed", "changed", "what it catches")
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        self.query_one("#clean-on", Checkbox).value = bool(self.state.config.clean)
        if self.state.load_result is None:
            self.query_one("#clean-summary", Static).update("Load a dataset first (step 3).")
            return
        if not self.state.clean_options:
            self.load_defaults()
            return
        if self.state.clean_result is None or self._for is not self.state.load_result:
            self._build_toggles()
            self.run_clean()
        else:
            self._show_result()
        if self.state.token_insight is None:
            self.measure()
        else:
            self._show_insight()

    @work(thread=True, exclusive=True, group="defaults")
    def load_defaults(self) -> None:
        try:
            options = dict(self.services.clean_defaults())
        except Exception as exc:
            self.deliver(self.show_error, exc, "Cleaning")
            return
        self.deliver(self._defaults_ready, options)

    def _defaults_ready(self, options: dict) -> None:
        self.state.clean_options = options
        self.refresh_from_state()

    def _build_toggles(self) -> None:
        box = self.query_one("#toggles", Vertical)
        if box.children:  # the options' keys never change; their values are kept in the widgets
            return
        options = self.state.clean_options
        toggles: list = [Checkbox(k.replace("_", " "), value=v, id=f"opt-{k}", classes="opt")
                         for k, v in options.items() if isinstance(v, bool)]
        if isinstance(options.get("pii"), str):  # personal data: mask it, drop the example, or leave it
            toggles.append(Select([("personal data: mask", "mask"), ("personal data: drop example", "drop"),
                                   ("personal data: keep", "off")], value=options["pii"], allow_blank=False,
                                  id="opt-pii", compact=True))
        box.mount_all(toggles)

    @on(Checkbox.Changed)
    def _toggled(self, event: Checkbox.Changed) -> None:
        cid = event.checkbox.id or ""
        if cid == "clean-on":
            if self.state.config.clean != event.value:
                self.state.config.clean = event.value
                self._show_result()
                self.measure()
            return
        if cid.startswith("opt-"):
            key = cid[4:]
            if self.state.clean_options.get(key) != event.value:
                self.state.clean_options[key] = event.value
                self.run_clean()

    @on(Select.Changed, "#opt-pii")
    def _pii(self, event: Select.Changed) -> None:
        if self.state.clean_options.get("pii") != event.value:
            self.state.clean_options["pii"] = event.value
            self.run_clean()

    def run_clean(self) -> None:
        # Status first, on the UI thread: a worker that starts late must not overwrite a newer message.
        self.set_status(f"cleaning {len(getattr(self.state.load_result, 'conversations', []) or [])} examples…")
        self._run_clean()

    @work(thread=True, exclusive=True, group="clean")
    def _run_clean(self) -> None:
        load = self.state.load_result
        convs = list(getattr(load, "conversations", []) or [])
        try:
            result = self.services.clean(convs, dict(self.state.clean_options))
        except Exception as exc:
            self.deliver(self.show_error, exc, "Cleaning")
            return
        self.deliver(self._cleaned, load, result)

    def _cleaned(self, load: Any, result: Any) -> None:
        self._for = load
        self.state.clean_result = result
        self._show_result()
        self.set_status("Next: the training technique")
        self.measure()

    def _show_result(self) -> None:
        result = self.state.clean_result
        if result is None:
            return
        report = as_dict(getattr(result, "report", None) or {})
        kept = len(getattr(result, "kept", []) or [])
        before = pick(report, "before", "total", "input", default=len(getattr(self.state.load_result,
                                                                              "conversations", []) or []))
        after = pick(report, "after", "kept", default=kept)
        removed = int(before) - int(after)
        on = self.state.config.clean
        summary = (f"[b]{before}[/b] examples → [b]{after}[/b] after cleaning ({removed} removed)"
                   if on else f"[yellow]cleaning is off:[/yellow] all {before} examples will be trained")
        self.query_one("#clean-summary", Static).update(summary)
        table = self.query_one("#filters", DataTable)
        table.clear()
        self._rows = filter_rows(report)
        for r in self._rows:
            table.add_row(r["name"].replace("_", " "), "on" if r["enabled"] else "off", str(r["removed"]),
                          str(r["modified"] or ""), r["description"][:60])
        self._show_examples(0)

    @on(DataTable.RowHighlighted, "#filters")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        self._show_examples(event.cursor_row)

    def _show_examples(self, row: int) -> None:
        box = self.query_one("#examples", Static)
        if not self._rows or row >= len(self._rows):
            box.update("")
            return
        r = self._rows[row]
        name = r["name"].replace("_", " ")
        if not r["removed"] and not r["modified"]:
            box.update(f"{name}: nothing caught" + ("" if r["enabled"] else " (filter is off)"))
            return
        shown = [f"• {escape(_example_text(e))}" for e in r["examples"][:3]]
        box.update(f"[b]{name}[/b] caught, for example:\n" + "\n".join(shown or ["(no examples)"]))

    @work(thread=True, exclusive=True, group="tokens")
    def measure(self) -> None:
        convs = self.state.conversations()
        if not convs:
            return
        self.deliver(self.query_one("#rendered", RenderedExample).update,
                                  "measuring token lengths with the model's tokenizer…")
        try:
            insight = self.services.token_insight(convs, self.state.config)
        except Exception as exc:
            self.deliver(self.show_error, exc, "Token statistics")
            return
        self.deliver(self._measured, insight)

    def _measured(self, insight: dict) -> None:
        self.state.token_insight = insight
        self._show_insight()

    def _show_insight(self) -> None:
        insight = self.state.token_insight or {}
        stats = insight.get("stats") or {}
        lengths = stats.get("lengths") or {}
        cutoff = int(insight.get("max_seq_length") or self.state.config.max_seq_length)
        self.query_one(TokenHistogram).show(lengths.get("histogram") or {}, cutoff, int(stats.get("over_max") or 0),
                                            int(stats.get("measured") or 0))
        pct = lengths.get("percentiles") or {}
        cut = ""
        if stats.get("over_max"):
            cut = (f"; truncation cuts part of the answer in {stats.get('answer_cut', 0)} and all of it in "
                   f"{stats.get('answer_lost', 0)} examples — raise max_seq_length in Settings or drop them")
        self.query_one("#length-line", Static).update(
            f"median {pct.get('p50', '?')} tokens, 95% under {pct.get('p95', '?')}, longest {lengths.get('max', '?')}"
            + cut)
        self.query_one(RenderedExample).show(list(insight.get("preview") or []))

    def validate_step(self) -> str | None:
        if self.state.load_result is None:
            return "Load a dataset first (step 3)."
        if self.state.config.clean and self.state.clean_result is None:
            return "Cleaning is still running…"
        if not self.state.conversations():
            return "Nothing left to train on: switch some filters off."
        return None


SCREEN = CleanScreen
