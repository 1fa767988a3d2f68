"""Step 4: what cleaning removes and why, filter toggles, token lengths, and the trained example.

A filter that would remove more than a third of the data (`ask_above`) asks first: its examples are
shown with a choice to remove them or to switch the filter off, and Next waits for the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, DataTable, Label, Select, Static

from tuneui.contract.cleaning import CleanOptions, CleanResult, FilterStats
from tuneui.contract.datasets import LoadProgress, LoadResult, TokenInsight
from tuneui.contract.errors import TuneuiError
from tuneui.contract.recommend import Recommendation
from tuneui.screens.base import StepScreen
from tuneui.screens.widgets.plots import TokenHistogram
from tuneui.screens.widgets.rendered import RenderedExample
from tuneui.screens.widgets.table import Table

# The on/off switches of CleanOptions the step shows as checkboxes (thresholds stay in run.toml).
TOGGLES = [name for name, info in CleanOptions.model_fields.items() if info.annotation in (bool, "bool")]


@dataclass
class Cleaned(Message):
    load: LoadResult
    options: CleanOptions
    result: CleanResult


@dataclass
class TokensMeasured(Message):
    insight: TokenInsight


@dataclass
class Replanned(Message):
    planned_with: Recommendation  # the plan this one replaces (a newer plan in between wins)
    recommendation: Recommendation


@dataclass
class CleanProgressed(Message):
    progress: LoadProgress


# How to switch each filter off, as a cleaning option (the "keep them" answer to a large removal).
SWITCH_OFF: dict[str, dict[str, object]] = {
    "encoding": {"fix_encoding": False}, "empty_turns": {"empty_turns": False}, "pairs": {"pairs": False},
    "pii": {"pii": "off"}, "boilerplate": {"boilerplate": False}, "quality": {"quality": False},
    "too_short": {"min_length": 0}, "too_long": {"max_length": None}, "exact_duplicates": {"exact_dedup": False},
    "near_duplicates": {"near_dedup": False},
}


def example_text(example: dict[str, Any]) -> str:
    """One caught example as the report records it: where it was, an excerpt, and why."""
    where = example.get("line", example.get("index"))
    prefix = f"#{where} " if where is not None else ""
    reason = example.get("reason") or ""
    return f"{prefix}{str(example.get('text', ''))[:160]}" + (f"  ({reason})" if reason else "")


def example_note(insight: TokenInsight) -> str:
    """Which example the preview shows, how its reasoning is trained, and what the masking refuses."""
    lines = []
    preview, stats = insight.preview, insight.stats
    if preview is not None and preview.refusal is not None:
        r = preview.refusal
        lines.append(f"No example to show: example {r.row}: {r.message} [{r.reason}]")
    elif preview is not None:
        setting = "true" if preview.train_reasoning else "false"
        said = preview.reasoning[:1].upper() + preview.reasoning[1:] + "."
        lines.append(f"Example {preview.row}. " + (said if preview.reasoning else (
            f"No reasoning in it; <think> blocks in replies are {'trained' if preview.train_reasoning else 'masked'} "
            f"(train_reasoning = {setting}, in Settings).")))
    for r in stats.refusals:
        lines.append(f"{r.count} of {stats.measured} examples cannot be trained [{r.reason}], e.g. example {r.row}: "
                     f"{r.message}" + (f"; remedy: {r.remedy}" if r.remedy else ""))
    return "\n".join(lines)


class CleanScreen(StepScreen):
    STEP = "clean"
    # The filter table sits behind every filter's toggle in the Tab order (ten Tabs): one key instead.
    BINDINGS = [Binding("ctrl+f", "focus_filters", "Filter table")]

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[FilterStats] = []
        # What the shown cleaning belongs to: a new dataset or new options mean cleaning again.
        self._for_load: LoadResult | None = None
        self._for_options: CleanOptions | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="clean-summary")
        with Vertical(classes="panel", id="confirm-box"):
            yield Static("", id="confirm-text")
            with Horizontal(classes="inline-form"):
                yield Button("Remove them", id="accept-large", variant="warning")
                yield Button("Keep them (switch the filter off)", id="undo-large")
        with Horizontal(id="clean-cols"):
            with Vertical(classes="panel", id="toggles-box"):
                yield Label("Filters (Space toggles)", classes="panel-title")
                yield Checkbox("clean the data", value=True, id="clean-on")
                yield Vertical(id="toggles")
            with Vertical(classes="panel", id="removed-box"):
                yield Label("Removed per filter (select one to see examples)", classes="panel-title")
                yield Table(id="filters", cursor_type="row")
                yield Static("", id="examples")
        with Vertical(classes="panel"):
            yield TokenHistogram(id="histogram")
            yield Static("", id="length-line", classes="muted")
        with Vertical(classes="panel"):
            yield Label("One example exactly as it will be trained", classes="panel-title")
            yield RenderedExample("", id="rendered")
            yield Static("", id="example-note", classes="muted")

    def on_mount(self) -> None:
        self.query_one("#confirm-box", Vertical).display = False
        self.query_one("#filters", DataTable).add_columns("filter", "on", "removed", "changed", "what it catches")
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        self.query_one("#clean-on", Checkbox).value = bool(self.state.config.clean)
        if self.state.load_result is None:
            self.query_one("#clean-summary", Static).update("Load a dataset first (step 3).")
            return
        self._build_toggles()
        if (self.state.clean_result is None or self._for_load is not self.state.load_result
                or self._for_options != self.state.config.cleaning):
            self.run_clean()
        else:
            self._show_result()
        if self.state.token_insight is None:
            self.measure()
        else:
            self._show_insight()

    def action_focus_filters(self) -> None:
        self.query_one("#filters", Table).focus()

    def _build_toggles(self) -> None:
        box = self.query_one("#toggles", Vertical)
        if box.children:  # the options' keys never change; their values are kept in the widgets
            return
        options = self.state.config.cleaning
        toggles: list[Checkbox | Select[str]] = [
            Checkbox(k.replace("_", " "), value=bool(getattr(options, k)), id=f"opt-{k}", classes="opt")
            for k in TOGGLES]
        # personal data: mask it, drop the example, or leave it
        toggles.append(Select([("personal data: mask", "mask"), ("personal data: drop example", "drop"),
                               ("personal data: keep", "off")], value=options.pii, allow_blank=False,
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
            self._set_option(cid[4:], event.value)

    @on(Select.Changed, "#opt-pii")
    def _pii(self, event: Select.Changed) -> None:
        self._set_option("pii", event.value)

    def _set_option(self, key: str, value: object) -> None:
        options = self.state.config.cleaning
        if getattr(options, key) != value:
            self.state.config = self.state.config.updated(cleaning={**options.to_dict(), key: value})
            self.run_clean()

    def run_clean(self) -> None:
        # Status first, on the UI thread: a worker that starts late must not overwrite a newer message.
        load = self.state.load_result
        if load is None:
            return
        self.set_status(f"cleaning {load.examples:,} examples…")
        self._run_clean(load, self.state.config.cleaning)

    @work(thread=True, exclusive=True, group="clean")
    def _run_clean(self, load: LoadResult, options: CleanOptions) -> None:
        try:
            result = self.engine.clean(load, options, progress=lambda p: self.post_result(CleanProgressed(p)))
            self.post_result(Cleaned(load, options, result))
        except Exception as exc:
            self.post_failure("Cleaning", exc)

    @on(CleanProgressed)
    def _progressed(self, message: CleanProgressed) -> None:
        self.set_status(message.progress.line())

    @on(Cleaned)
    def _cleaned(self, message: Cleaned) -> None:
        self._for_load, self._for_options = message.load, message.options
        self.state.clean_result = message.result
        self._show_result()
        self.set_status("Next: the training technique")
        self.measure()

    def _show_confirm(self) -> None:
        """The first filter that removes more than `ask_above` of the data and is not accepted yet."""
        box = self.query_one("#confirm-box", Vertical)
        result = self.state.clean_result
        pending = result.report.unconfirmed if result is not None and self.state.config.clean else []
        box.display = bool(pending)
        if not pending:
            return
        f, before = pending[0], result.report.before if result is not None else 0
        shown = "\n".join(f"  • {escape(example_text(e))}" for e in f.examples[:3])
        self.query_one("#confirm-text", Static).update(
            f"[b][yellow]{f.name.replace('_', ' ')} would remove {f.removed:,} of {before:,} examples "
            f"({f.removed / max(before, 1):.0%})[/yellow][/b] — {escape(f.description)}. For example:\n{shown}")

    @on(Button.Pressed, "#accept-large")
    def _accept_large(self, event: Button.Pressed) -> None:
        event.stop()
        result = self.state.clean_result
        if result is None or not result.report.unconfirmed:
            return
        options = self.state.config.cleaning
        name = result.report.unconfirmed[0].name
        self.state.config = self.state.config.updated(
            cleaning={**options.to_dict(), "accept_large": [*options.accept_large, name]})
        # Accepting changes nothing about the result: record it without cleaning again.
        result.report.options["accept_large"] = list(self.state.config.cleaning.accept_large)
        self._for_options = self.state.config.cleaning
        self._show_result()

    @on(Button.Pressed, "#undo-large")
    def _undo_large(self, event: Button.Pressed) -> None:
        event.stop()
        result = self.state.clean_result
        if result is None or not result.report.unconfirmed:
            return
        name = result.report.unconfirmed[0].name
        self.state.config = self.state.config.updated(
            cleaning={**self.state.config.cleaning.to_dict(), **SWITCH_OFF[name]})
        box = self.query_one("#toggles", Vertical)
        for key, value in SWITCH_OFF[name].items():
            for widget in box.query(f"#opt-{key}"):
                if isinstance(widget, Checkbox) and isinstance(value, bool):
                    widget.value = value
                elif isinstance(widget, Select) and isinstance(value, str):
                    widget.value = value
        self.run_clean()

    def _show_result(self) -> None:
        self._show_confirm()
        result = self.state.clean_result
        if result is None:
            return
        report = result.report
        removed = report.removed_total
        summary = (f"[b]{report.before}[/b] examples → [b]{report.after}[/b] after cleaning ({removed} removed)"
                   if self.state.config.clean
                   else f"[yellow]cleaning is off:[/yellow] all {report.before} examples will be trained")
        self.query_one("#clean-summary", Static).update(summary)
        table = self.query_one("#filters", DataTable)
        table.clear()
        self._rows = list(report.filters)
        for r in self._rows:
            table.add_row(r.name.replace("_", " "), "on" if r.enabled else "off", str(r.removed),
                          str(r.modified or ""), r.description[:60])
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
        name = r.name.replace("_", " ")
        if not r.removed and not r.modified:
            box.update(f"{name}: nothing caught" + ("" if r.enabled else " (filter is off)"))
            return
        shown = [f"• {escape(example_text(e))}" for e in r.examples[:3]]
        box.update(f"[b]{name}[/b] caught, for example:\n" + "\n".join(shown or ["(no examples)"]))

    def measure(self) -> None:
        convs = self.state.examples()
        if not convs:
            return
        self.query_one("#rendered", RenderedExample).update("measuring token lengths with the model's tokenizer…")
        self._measure(convs)

    @work(thread=True, exclusive=True, group="tokens")
    def _measure(self, convs: list) -> None:
        try:
            self.post_result(TokensMeasured(self.engine.token_insight(convs, self.state.config)))
        except Exception as exc:
            self.post_failure("Token statistics", exc)

    @on(TokensMeasured)
    def _measured(self, message: TokensMeasured) -> None:
        self.state.token_insight = message.insight
        self._show_insight()
        state = self.state
        if (state.recommendation is not None and not state.technique_overridden and state.model_info is not None
                and state.hardware is not None):
            # Technique was planned before the data was measured (Next pressed early): plan again.
            self._replan(state.recommendation)

    @work(thread=True, exclusive=True, group="replan")
    def _replan(self, planned_with: Recommendation) -> None:
        state = self.state
        if state.model_info is None or state.hardware is None:
            return
        try:
            rec = self.engine.recommend(state.model_info, state.hardware, state.dataset_stats(),
                                        objective=state.config.objective)
        except Exception as exc:
            self.post_failure("Recommendation", exc)
            return
        self.post_result(Replanned(planned_with, rec))

    @on(Replanned)
    def _replanned(self, message: Replanned) -> None:
        from tuneui.screens.replan import replanned

        state = self.state
        if state.recommendation is not message.planned_with or state.technique_overridden:
            return  # planned again meanwhile, or the user chose: theirs wins
        try:
            state.config = state.config.updated(**replanned(state.config, message.planned_with,
                                                            message.recommendation))
        except TuneuiError as exc:
            self.show_error(exc, "Recommendation")
            return
        state.recommendation = message.recommendation
        current = self.app.screen
        if current is not self and isinstance(current, StepScreen) and current.is_mounted:
            current.call_after_refresh(current.refresh_from_state)  # Settings shows the new values at once

    def _show_insight(self) -> None:
        insight = self.state.token_insight
        if insight is None:
            return
        stats = insight.stats
        lengths = stats.lengths
        self.query_one(TokenHistogram).show(lengths.histogram, insight.max_seq_length, stats.over_max, stats.measured)
        pct = lengths.percentiles
        cut = ""
        if stats.over_max:
            cut = (f"; truncation cuts part of the answer in {stats.answer_cut} and all of it in "
                   f"{stats.answer_lost} examples — raise max_seq_length in Settings or drop them")
        self.query_one("#length-line", Static).update(
            f"median {pct.get('p50', '?')} tokens, 95% under {pct.get('p95', '?')}, longest {lengths.max}" + cut)
        self.query_one(RenderedExample).show(insight.preview.segments if insight.preview else [])
        self.query_one("#example-note", Static).update(escape(example_note(insight)))

    def validate_step(self) -> str | None:
        if self.state.load_result is None:
            return "Load a dataset first (step 3)."
        if self.state.config.clean and self.state.clean_result is None:
            return "Cleaning is still running…"
        result = self.state.clean_result
        if self.state.config.clean and result is not None and result.report.unconfirmed:
            f = result.report.unconfirmed[0]
            return (f"{f.name.replace('_', ' ')} would remove {f.removed:,} of {result.report.before:,} examples: "
                    "remove them or keep them first.")
        if not self.state.example_count():
            return "Nothing left to train on: switch some filters off."
        return None


SCREEN = CleanScreen
