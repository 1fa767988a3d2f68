"""Step 5: how to train — the recommendation, its reasons, and every alternative with its memory."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Static

from screens.base import StepScreen
from screens.state import apply_config_updates
from screens.views import as_dict, bar, fmt_bytes, fmt_duration, pick

TECHNIQUE_NAMES = {"full": "Full fine-tune", "lora": "LoRA", "qlora": "QLoRA (4-bit)",
                   "lora_8bit": "LoRA on 8-bit", "freeze": "Freeze (top layers)"}


def alternative_row(alt: Any, seconds: float | None = None) -> dict:
    """One alternative of the recommendation as the table shows it."""
    a = as_dict(alt)
    setup = as_dict(a.get("setup") or {})
    a = {**setup, **{k: v for k, v in a.items() if k != "setup"}}
    technique = str(a.get("technique", "?"))
    label = a.get("label") or TECHNIQUE_NAMES.get(technique, technique)
    updates = {k: a[k] for k in ("technique", "gradient_checkpointing", "optimizer", "micro_batch_size")
               if a.get(k) is not None}
    return {
        "technique": technique,
        "label": str(label),
        "peak": a.get("peak_bytes"),
        "fits": bool(a.get("fits")),
        "available": a.get("available", True) is not False,
        "why_unavailable": a.get("why_unavailable"),
        "recommended": bool(a.get("recommended")),
        "seconds": seconds if seconds is not None else a.get("est_seconds"),
        "updates": updates,
        "breakdown": a.get("breakdown") or {},
        "launch": {k: a[k] for k in ("sharding", "num_gpus", "cpu_offload") if a.get(k)},
    }


def dataset_stats(state: Any) -> dict:
    """What the recommender reads about the data (see tuneui/recommend/advice.py)."""
    convs = state.conversations()
    stats: dict = {"num_examples": len(convs),
                   "assistant_turns": sum(1 for c in convs if any(m.get("role") == "assistant" for m in c))}
    fmt = getattr(getattr(state.load_result, "format", None), "name", None)
    if fmt:
        stats["format"] = fmt
    lengths = ((state.token_insight or {}).get("stats") or {}).get("lengths") or {}
    if lengths.get("count"):
        tokens = {"mean": lengths.get("mean"), "max": lengths.get("max"), **(lengths.get("percentiles") or {})}
        measured = lengths.get("count") or 1
        tokens["total"] = (lengths.get("total") or 0) * len(convs) / measured
        stats["tokens"] = tokens
    return stats


def gpu_bytes(hardware: Any) -> int | None:
    d = as_dict(hardware)
    gpus = d.get("gpus") or []
    if gpus:
        return min(int(pick(as_dict(g), "total_bytes", default=0) or 0) for g in gpus) or None
    return pick(d, "ram_available_bytes", "ram_total_bytes")


class TechniqueScreen(StepScreen):
    STEP = "technique"

    def __init__(self) -> None:
        super().__init__()
        self._alts: list[dict] = []
        self._seconds: list = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="inline-form"):
            yield Static("", id="hw-line")
            yield Input(placeholder="what-if: 1x24GiB, cpu", id="whatif")
            yield Button("Plan", id="whatif-apply")
        with Vertical(classes="panel"):
            yield Static("", id="recommendation")
        yield Static("", id="rag", classes="advice")
        with Vertical(classes="panel"):
            yield Label("Every option (Enter uses the highlighted one)", classes="panel-title")
            yield DataTable(id="alternatives", cursor_type="row", zebra_stripes=True)
            yield Static("★ recommended · memory is the peak per GPU against what a run may use", classes="muted")
            yield Static("", id="breakdown", classes="muted")
        with Horizontal(classes="button-row"):
            yield Button("Use recommended", id="use-recommended")
        yield Static("", id="choice")

    def on_mount(self) -> None:
        self.query_one("#alternatives", DataTable).add_columns("option", "peak memory", "vs memory", "fits",
                                                                 "est. time")
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        self.query_one("#whatif", Input).value = self.state.hardware_spec
        self._show_hw()
        if self.state.recommendation is None:
            self.compute()
        else:
            self._show()

    def _show_hw(self) -> None:
        hw = as_dict(self.state.hardware)
        mem = gpu_bytes(self.state.hardware)
        gpus = hw.get("gpus") or []
        where = (f"{len(gpus)}× {pick(as_dict(gpus[0]), 'name', default='GPU')} ({fmt_bytes(mem)})" if gpus
                 else f"CPU only ({fmt_bytes(mem)} RAM)" if hw else "probing…")
        tag = " [b](what-if)[/b]" if self.state.hardware_spec else ""
        self.query_one("#hw-line", Static).update(f"Planning for: {escape(where)}{tag}")

    @on(Input.Submitted, "#whatif")
    @on(Button.Pressed, "#whatif-apply")
    def _whatif(self, event) -> None:
        event.stop()
        from screens.welcome import apply_hardware_spec

        if apply_hardware_spec(self, self.query_one("#whatif", Input).value.strip()):
            self.state.technique_overridden = False
            self.refresh_from_state()

    def compute(self) -> None:
        self.set_status("estimating memory for every option…")
        self._compute()

    @work(thread=True, exclusive=True, group="recommend")
    def _compute(self) -> None:
        stats = dataset_stats(self.state)
        try:
            # Reached from the palette, earlier steps may not have run yet: fill in what they would have.
            if self.state.model_info is None:
                self.state.model_info = self.services.inspect_model(self.state.config.model)
            if self.state.hardware is None:
                self.state.probed_hardware = self.state.hardware = self.services.probe_hardware()
            rec = self.services.recommend(self.state.model_info, self.state.hardware, None, stats)
        except Exception as exc:
            self.deliver(self.show_error, exc, "Recommendation")
            return
        try:
            seconds = self.services.alternative_seconds(rec, stats)
        except Exception:  # times are a nicety; the memory table stands without them
            seconds = []
        self.deliver(self._computed, rec, seconds)

    def _computed(self, rec: Any, seconds: list) -> None:
        self._show_hw()
        self.state.recommendation = rec
        self._seconds = list(seconds)
        self.state.technique_overridden = False
        self._apply_recommended()
        self._show()

    def _apply_recommended(self) -> None:
        rec = self.state.recommendation
        updates = rec.run_config_updates() if hasattr(rec, "run_config_updates") else \
            dict(as_dict(rec).get("run_config_updates") or {})
        try:
            apply_config_updates(self.state, updates)
        except Exception as exc:
            self.show_error(exc, "Recommendation")
            return
        self.state.technique_overridden = False
        self.set_status(f"using the recommendation: {TECHNIQUE_NAMES.get(self.state.config.technique)}")

    def _show(self) -> None:
        d = as_dict(self.state.recommendation)
        technique = str(d.get("technique", "?"))
        lines = [f"Recommended: [b]{escape(str(d.get('label') or TECHNIQUE_NAMES.get(technique, technique)))}[/b]"
                 + ("" if d.get("fits", True) else " — [red]nothing fits this hardware[/red]")]
        lines += [f"  • {escape(str(r))}" for r in d.get("reasons") or []]
        if d.get("hardware_needed"):
            lines.append(f"  • [b]needed:[/b] {escape(str(d['hardware_needed']))}")
        for w in d.get("warnings") or []:
            lines.append(f"  [yellow]⚠ {escape(str(w))}[/yellow]")
        self.query_one("#recommendation", Static).update("\n".join(lines))
        rag = d.get("rag_advice")
        rag_box = self.query_one("#rag", Static)
        rag_box.update(f"[b]RAG may suit you better:[/b] {escape(str(rag))}" if rag else "")
        rag_box.display = bool(rag)
        mem = d.get("budget_bytes") or gpu_bytes(self.state.hardware)
        table = self.query_one("#alternatives", DataTable)
        table.clear()
        alts = d.get("alternatives") or []
        seconds = self._seconds + [None] * (len(alts) - len(self._seconds))
        epochs = float(self.state.config.epochs or 1)
        self._alts = [alternative_row(a, s * epochs if s else None) for a, s in zip(alts, seconds)]
        for i, alt in enumerate(self._alts):
            frac = (alt["peak"] or 0) / mem if mem else 0.0
            fits = "✓ fits" if alt["fits"] else "✗ no"
            if not alt["available"]:
                fits = "– n/a"
            mark = "★ " if alt["recommended"] else "  "
            table.add_row(mark + alt["label"], fmt_bytes(alt["peak"]), bar(frac, 10) + f" {frac:4.0%}",
                          fits, fmt_duration(alt["seconds"]) if alt["seconds"] else "–", key=str(i))
        best = next((i for i, a in enumerate(self._alts) if a["recommended"]), 0)
        if self._alts:
            table.move_cursor(row=best)
        self._show_choice()

    @on(DataTable.RowHighlighted, "#alternatives")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._alts):
            alt = self._alts[event.cursor_row]
            text = ", ".join(f"{k.replace('_', ' ')} {fmt_bytes(v)}" for k, v in alt["breakdown"].items() if v)
            text = f"peak memory = {text}" if text else ""
            if not alt["available"] and alt["why_unavailable"]:
                text = f"not available: {alt['why_unavailable']}. " + text
            self.query_one("#breakdown", Static).update(escape(text))

    @on(DataTable.RowSelected, "#alternatives")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.choose(event.cursor_row)

    def choose(self, index: int) -> None:
        alt = self._alts[index]
        if not alt["available"]:
            self.notify(f"Not available here: {alt['why_unavailable'] or 'unsupported'}", severity="warning")
            return
        try:
            apply_config_updates(self.state, alt["updates"])
        except Exception as exc:
            self.show_error(exc, "Override")
            return
        self.state.technique_overridden = True
        self._show_choice(alt)

    @on(Button.Pressed, "#use-recommended")
    def _use_recommended(self) -> None:
        if self.state.recommendation is not None:
            self._apply_recommended()
            self._show_choice()

    def _show_choice(self, alt: dict | None = None) -> None:
        cfg = self.state.config
        name = TECHNIQUE_NAMES.get(cfg.technique, cfg.technique)
        box = self.query_one("#choice", Static)
        if not self.state.technique_overridden:
            box.update(f"Chosen: [b]{name}[/b] (recommended)")
            box.set_class(False, "error")
            return
        if alt is not None and not alt["fits"]:
            mem = as_dict(self.state.recommendation).get("budget_bytes") or gpu_bytes(self.state.hardware)
            msg = (f"Chosen: [b]{escape(alt['label'])}[/b] — [b]will not fit[/b]: it needs about "
                   f"{fmt_bytes(alt['peak'])} but there is {fmt_bytes(mem)}. Expect an out-of-memory error.")
            box.update(msg)
            box.set_class(True, "error")
            self.notify("This option will not fit in memory.", severity="warning", title="Override")
            return
        extra = ""
        if alt is not None and alt["launch"]:
            extra = " — launch: " + ", ".join(f"{k} {v}" for k, v in alt["launch"].items())
        box.update(f"Chosen: [b]{name}[/b] (your override){escape(extra)}")
        box.set_class(False, "error")

    def validate_step(self) -> str | None:
        if self.state.recommendation is None:
            return "Waiting for the recommendation…"
        return None


SCREEN = TechniqueScreen
