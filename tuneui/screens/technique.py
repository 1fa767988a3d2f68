"""Step 5: how to train — the recommendation, its reasons, and every alternative with its memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Static

from tuneui.contract.errors import TuneuiError
from tuneui.contract.hardware import HardwareProfile
from tuneui.contract.modelinfo import ModelInfo
from tuneui.contract.recommend import MEMORY_REASON, TIME_REASON, Alternative, DatasetStats, Recommendation
from tuneui.screens.base import StepScreen
from tuneui.screens.objective import ObjectiveChosen, ObjectivePanel
from tuneui.screens.views import bar, fmt_bytes, fmt_duration
from tuneui.screens.widgets.table import Table

TECHNIQUE_NAMES = {"full": "Full fine-tune", "lora": "LoRA", "qlora": "QLoRA (4-bit)",
                   "lora_8bit": "LoRA on 8-bit", "freeze": "Freeze (top layers)"}


@dataclass
class Recommended(Message):
    model: ModelInfo
    hardware: HardwareProfile
    dataset: DatasetStats
    recommendation: Recommendation


@dataclass
class AlternativeRow:
    """One alternative of the recommendation as the table shows it."""

    alternative: Alternative
    seconds: float | None  # for the whole run (epochs x the engine's per-epoch estimate)
    updates: dict[str, Any] = field(default_factory=dict)  # RunConfig fields choosing it sets

    @property
    def label(self) -> str:
        return self.alternative.setup.label

    @property
    def launch(self) -> dict[str, Any]:
        s = self.alternative.setup
        return {k: v for k, v in (("sharding", s.sharding), ("num_gpus", s.num_gpus), ("cpu_offload", s.cpu_offload))
                if v and not (k == "num_gpus" and v == 1)}


def alternative_row(alt: Alternative, epochs: float) -> AlternativeRow:
    s = alt.setup
    seconds = alt.seconds_per_epoch * epochs if alt.seconds_per_epoch else None
    return AlternativeRow(alt, seconds, {"technique": s.technique, "gradient_checkpointing": s.gradient_checkpointing,
                                         "optimizer": s.optimizer, "micro_batch_size": s.micro_batch_size})


def memory_budget(rec: Recommendation | None, hardware: HardwareProfile | None) -> int | None:
    """What a run may use: the recommendation's budget, else the smallest GPU or the available RAM."""
    if rec is not None:
        return rec.budget_bytes
    if hardware is None:
        return None
    if hardware.gpus:
        return min(g.total_bytes for g in hardware.gpus)
    return hardware.ram_available_bytes or hardware.ram_total_bytes


class TechniqueScreen(StepScreen):
    STEP = "technique"

    def __init__(self) -> None:
        super().__init__()
        self._alts: list[AlternativeRow] = []
        self._planned_for: DatasetStats | None = None  # the data the shown recommendation planned for

    def compose_body(self) -> ComposeResult:
        yield ObjectivePanel(self.state, self.engine)
        with Horizontal(classes="inline-form"):
            yield Static("", id="hw-line")
            yield Input(placeholder="what-if: 1x24GiB, cpu", id="whatif")
            yield Button("Plan", id="whatif-apply")
        with Vertical(classes="panel"):
            yield Static("", id="recommendation")
        yield Static("", id="rag", classes="advice")
        with Vertical(classes="panel"):
            yield Label("Every option (Enter uses the highlighted one)", classes="panel-title")
            yield Table(id="alternatives", cursor_type="row", zebra_stripes=True)
            yield Static("", id="table-note", classes="muted")
            yield Static("", id="breakdown", classes="muted")
        with Horizontal(classes="button-row"):
            yield Button("Use recommended", id="use-recommended")
        yield Static("", id="choice")

    def on_mount(self) -> None:
        self.query_one("#alternatives", DataTable).add_columns("option", "peak memory", "vs usable", "fits",
                                                                 "time")
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        self.query_one(ObjectivePanel).refresh_from_state()
        self.query_one("#whatif", Input).value = self.state.hardware_spec
        self._show_hw()
        # The data may have changed since the recommendation (a late token measurement, new cleaning),
        # or the objective (other data): plan again for what the run will really train on.
        rec = self.state.recommendation
        if rec is None or self._planned_for != self.state.dataset_stats() or \
                rec.setup.objective != self.state.config.objective:
            self.compute()
        else:
            self._show()

    @on(ObjectiveChosen)
    def _objective_chosen(self) -> None:
        # A reference model, or none, changes every option's memory; and the recommendation sets the
        # objective it planned for, so an old one would put the old objective back.
        self.compute()

    def _show_hw(self) -> None:
        hw = self.state.hardware
        mem = memory_budget(None, hw)
        where = ("probing…" if hw is None else f"{len(hw.gpus)}× {hw.gpus[0].name} ({fmt_bytes(mem)})" if hw.gpus
                 else f"CPU only ({fmt_bytes(mem)} RAM)")
        tag = " [b](what-if)[/b]" if self.state.hardware_spec else ""
        self.query_one("#hw-line", Static).update(f"Planning for: {escape(where)}{tag}")

    @on(Input.Submitted, "#whatif")
    @on(Button.Pressed, "#whatif-apply")
    def _whatif(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        from tuneui.screens.welcome import apply_hardware_spec

        if apply_hardware_spec(self, self.query_one("#whatif", Input).value.strip()):
            self.state.technique_overridden = False
            self.refresh_from_state()

    def compute(self) -> None:
        self.set_status("estimating memory for every option…")
        self._compute()

    @work(thread=True, exclusive=True, group="recommend")
    def _compute(self) -> None:
        stats = self.state.dataset_stats()
        try:
            # Reached from the palette, earlier steps may not have run yet: fill in what they would have.
            model = self.state.model_info or self.engine.inspect_model(self.state.config.model)
            hardware = self.state.hardware or self.engine.probe_hardware()
            self.post_result(Recommended(model, hardware, stats, self.engine.recommend(
                model, hardware, stats, objective=self.state.config.objective)))
        except Exception as exc:
            self.post_failure("Recommendation", exc)

    @on(Recommended)
    def _computed(self, message: Recommended) -> None:
        if self.state.model_info is None:
            self.state.model_info = message.model
        if self.state.hardware is None:
            self.state.probed_hardware = self.state.hardware = message.hardware
        self._show_hw()
        self.state.recommendation = message.recommendation
        self._planned_for = message.dataset
        self.state.technique_overridden = False
        self._apply_recommended()
        self._show()

    def _apply_recommended(self) -> None:
        rec = self.state.recommendation
        if rec is None:
            return
        try:
            self.state.config = self.state.config.updated(**rec.run_config_updates())
        except TuneuiError as exc:
            self.show_error(exc, "Recommendation")
            return
        self.state.technique_overridden = False
        self.set_status(f"using the recommendation: {TECHNIQUE_NAMES.get(self.state.config.technique)}")

    def _show(self) -> None:
        rec = self.state.recommendation
        if rec is None:
            return
        lines = [f"Recommended: [b]{escape(rec.setup.label)}[/b]"
                 + ("" if rec.fits else " — [red]nothing fits this hardware[/red]")]
        # The memory and time estimates are in the table below (the same computation): not said twice.
        lines += [f"  • {escape(r)}" for r in rec.reasons if not r.startswith((MEMORY_REASON, TIME_REASON))]
        if rec.hardware_needed:
            lines.append(f"  • [b]needed:[/b] {escape(rec.hardware_needed)}")
        for w in rec.warnings:
            lines.append(f"  [yellow]⚠ {escape(w)}[/yellow]")
        self.query_one("#recommendation", Static).update("\n".join(lines))
        rag_box = self.query_one("#rag", Static)
        rag_box.update(f"[b]RAG may suit you better:[/b] {escape(rec.rag_advice)}" if rec.rag_advice else "")
        rag_box.display = bool(rec.rag_advice)
        mem = memory_budget(rec, self.state.hardware)
        table = self.query_one("#alternatives", DataTable)
        table.clear()
        epochs = float(self.state.config.epochs)
        self._alts = [alternative_row(a, epochs) for a in rec.alternatives]
        for i, row in enumerate(self._alts):
            alt = row.alternative
            # The recommended row at the micro-batch it is recommended with (the others are priced at
            # micro-batch 1): the very estimate the run is planned on, not a second, smaller one.
            peak = rec.estimate.peak_bytes if alt.recommended else alt.estimate.peak_bytes
            frac = peak / mem if mem else 0.0
            fits = "✓ fits" if alt.fits else "✗ no"
            if not alt.available:
                fits = "– n/a"
            mark = "★ " if alt.recommended else "  "
            table.add_row(mark + row.label, fmt_bytes(peak), bar(frac, 10) + f" {frac:4.0%}",
                          fits, fmt_duration(row.seconds) if row.seconds else "–", key=str(i))
        hw = rec.hardware or self.state.hardware
        where = "per GPU" if hw is not None and hw.gpus else "(RAM)"  # a CPU-only machine has no GPU
        self.query_one("#table-note", Static).update(
            f"★ recommended, at micro-batch {rec.micro_batch_size}; the others at micro-batch 1 · peak memory "
            f"{where}, against the {fmt_bytes(mem)} a run may use · time for {epochs:g} epoch"
            f"{'' if epochs == 1 else 's'}, estimated")
        best = next((i for i, r in enumerate(self._alts) if r.alternative.recommended), 0)
        if self._alts:
            table.move_cursor(row=best)
        self._show_choice()

    @on(DataTable.RowHighlighted, "#alternatives")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._alts):
            alt = self._alts[event.cursor_row].alternative
            rec = self.state.recommendation
            shown = rec.estimate if alt.recommended and rec is not None else alt.estimate  # as in the table
            text = ", ".join(f"{k.replace('_', ' ')} {fmt_bytes(v)}" for k, v in shown.breakdown.items() if v)
            text = f"peak memory = {text}" if text else ""
            if not alt.available and alt.why_unavailable:
                text = f"not available: {alt.why_unavailable}. " + text
            self.query_one("#breakdown", Static).update(escape(text))

    @on(DataTable.RowSelected, "#alternatives")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.choose(event.cursor_row)

    def choose(self, index: int) -> None:
        row = self._alts[index]
        if not row.alternative.available:
            self.notify(f"Not available here: {row.alternative.why_unavailable or 'unsupported'}", severity="warning")
            return
        try:
            self.state.config = self.state.config.updated(**row.updates)
        except TuneuiError as exc:
            self.show_error(exc, "Override")
            return
        self.state.technique_overridden = True
        self._show_choice(row)

    @on(Button.Pressed, "#use-recommended")
    def _use_recommended(self) -> None:
        if self.state.recommendation is not None:
            self._apply_recommended()
            self._show_choice()

    def _show_choice(self, row: AlternativeRow | None = None) -> None:
        cfg = self.state.config
        name = TECHNIQUE_NAMES.get(cfg.technique, cfg.technique)
        box = self.query_one("#choice", Static)
        if not self.state.technique_overridden:
            box.update(f"Chosen: [b]{name}[/b] (recommended)")
            box.set_class(False, "error")
            return
        if row is not None and not row.alternative.fits:
            mem = memory_budget(self.state.recommendation, self.state.hardware)
            msg = (f"Chosen: [b]{escape(row.label)}[/b] — [b]will not fit[/b]: it needs about "
                   f"{fmt_bytes(row.alternative.estimate.peak_bytes)} but there is {fmt_bytes(mem)}. "
                   "Expect an out-of-memory error.")
            box.update(msg)
            box.set_class(True, "error")
            self.notify("This option will not fit in memory.", severity="warning", title="Override")
            return
        extra = ""
        if row is not None and row.launch:
            extra = " — launch: " + ", ".join(f"{k} {v}" for k, v in row.launch.items())
        box.update(f"Chosen: [b]{name}[/b] (your override){escape(extra)}")
        box.set_class(False, "error")

    def validate_step(self) -> str | None:
        if self.state.recommendation is None:
            return "Waiting for the recommendation…"
        return None


SCREEN = TechniqueScreen
