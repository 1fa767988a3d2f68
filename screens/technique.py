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


def alternative_row(alt: Any) -> dict:
    """One alternative, flattened: technique, label, peak bytes, fits, seconds, the setup fields."""
    a = as_dict(alt)
    setup = as_dict(a.get("setup") or {})
    merged = {**setup, **{k: v for k, v in a.items() if k != "setup"}}
    technique = str(pick(merged, "technique", default="?"))
    label = pick(merged, "label", default=None)
    if not label:
        bits = [TECHNIQUE_NAMES.get(technique, technique)]
        if merged.get("gradient_checkpointing"):
            bits.append("grad ckpt")
        if merged.get("optimizer") and merged.get("optimizer") != "adamw":
            bits.append(str(merged["optimizer"]))
        if merged.get("sharding"):
            bits.append(str(merged["sharding"]))
        if merged.get("cpu_offload"):
            bits.append("CPU offload")
        label = ", ".join(bits)
    return {
        "technique": technique,
        "label": str(label),
        "peak": pick(merged, "peak_bytes", "estimated_peak_bytes", "peak"),
        "fits": bool(pick(merged, "fits", default=False)),
        "seconds": pick(merged, "est_seconds", "estimated_seconds", "seconds", "time_s", "est_time_s"),
        "updates": merged.get("run_config_updates") or {
            k: merged[k] for k in ("technique", "gradient_checkpointing", "optimizer", "micro_batch_size",
                                   "gradient_accumulation_steps", "precision") if k in merged},
        "breakdown": merged.get("breakdown") or {},
    }


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
        if self.state.model_info is None:
            self.query_one("#recommendation", Static).update("Choose a model first (step 2).")
            return
        if self.state.hardware is None:
            self.query_one("#recommendation", Static).update("Waiting for the hardware probe…")
            return
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

    @work(thread=True, exclusive=True, group="recommend")
    def compute(self) -> None:
        self.app.call_from_thread(self.set_status, "estimating memory for every option…")
        insight = self.state.token_insight or {}
        stats = {"num_examples": len(self.state.conversations()), "token_lengths": insight.get("lengths")}
        try:
            rec = self.services.recommend(self.state.model_info, self.state.hardware,
                                          self.state.config.max_seq_length, stats)
        except Exception as exc:
            self.app.call_from_thread(self.show_error, exc, "Recommendation")
            return
        self.app.call_from_thread(self._computed, rec)

    def _computed(self, rec: Any) -> None:
        self.state.recommendation = rec
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
        reasons = "\n".join(f"  • {escape(str(r))}" for r in d.get("reasons") or [])
        self.query_one("#recommendation", Static).update(
            f"Recommended: [b]{TECHNIQUE_NAMES.get(technique, technique)}[/b]\n{reasons}")
        rag = d.get("rag_advice")
        rag_box = self.query_one("#rag", Static)
        rag_box.update(f"[b]RAG may suit you better:[/b] {escape(str(rag))}" if rag else "")
        rag_box.display = bool(rag)
        mem = gpu_bytes(self.state.hardware)
        table = self.query_one("#alternatives", DataTable)
        table.clear()
        self._alts = [alternative_row(a) for a in d.get("alternatives") or []]
        for i, alt in enumerate(self._alts):
            frac = (alt["peak"] or 0) / mem if mem else 0.0
            table.add_row(alt["label"], fmt_bytes(alt["peak"]), bar(frac, 12) + f" {frac:4.0%}",
                          "✓ fits" if alt["fits"] else "✗ no", fmt_duration(alt["seconds"]), key=str(i))
        self._show_choice()

    @on(DataTable.RowHighlighted, "#alternatives")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._alts):
            parts = self._alts[event.cursor_row]["breakdown"]
            text = ", ".join(f"{k.replace('_', ' ')} {fmt_bytes(v)}" for k, v in parts.items() if v)
            self.query_one("#breakdown", Static).update(f"breakdown: {text}" if text else "")

    @on(DataTable.RowSelected, "#alternatives")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.choose(event.cursor_row)

    def choose(self, index: int) -> None:
        alt = self._alts[index]
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
            mem = gpu_bytes(self.state.hardware)
            msg = (f"Chosen: [b]{escape(alt['label'])}[/b] — [b]will not fit[/b]: it needs about "
                   f"{fmt_bytes(alt['peak'])} but there is {fmt_bytes(mem)}. Expect an out-of-memory error.")
            box.update(msg)
            box.set_class(True, "error")
            self.notify("This option will not fit in memory.", severity="warning", title="Override")
            return
        box.update(f"Chosen: [b]{name}[/b] (your override)")
        box.set_class(False, "error")

    def validate_step(self) -> str | None:
        if self.state.recommendation is None:
            return "Waiting for the recommendation…"
        return None


SCREEN = TechniqueScreen
