"""Step 1: what tuneui found on this machine, recent runs, and how to start or re-attach."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Static

from tuneui.contract.hardware import HardwareProfile
from tuneui.contract.runs import RunSummary
from tuneui.screens.base import StepScreen
from tuneui.screens.views import fmt_bytes, fmt_float
from tuneui.screens.widgets.table import Table


@dataclass
class HardwareProbed(Message):
    hardware: HardwareProfile


@dataclass
class RunsListed(Message):
    runs: list[RunSummary]


def hardware_lines(hw: HardwareProfile | None) -> list[str]:
    if hw is None:
        return ["probing…"]
    lines = []
    for gpu in hw.gpus:
        bf16 = " · bf16" if gpu.bf16 else ""
        lines.append(f"GPU {gpu.index}: {gpu.name} — {fmt_bytes(gpu.total_bytes)}, {fmt_bytes(gpu.free_bytes)} free"
                     f"{bf16}")
    if not lines:
        lines.append("GPU: none found — training runs on the CPU (fine for the demo model)"
                     if hw.accelerator == "cpu" else f"Accelerator: {hw.accelerator}")
    lines.append(f"CPU: {hw.cpu_cores} cores")
    if hw.ram_total_bytes:
        lines.append(f"RAM: {fmt_bytes(hw.ram_total_bytes)}")
    if hw.disk_free_bytes is not None:
        lines.append(f"Disk free: {fmt_bytes(hw.disk_free_bytes)}")
    lines += [f"note: {note}" for note in hw.warnings]
    return lines


def _when(started: float | None, now: float) -> str:
    if started is None:
        return "?"
    ago = max(0.0, now - started)
    if ago < 3600:
        return f"{int(ago // 60)} min ago"
    if ago < 86400:
        return f"{int(ago // 3600)} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(started))


class WelcomeScreen(StepScreen):
    STEP = "welcome"
    NEXT_LABEL = "New run"

    def compose_body(self) -> ComposeResult:
        yield Static("[b]tuneui[/b] — fine-tune a language model on your own data, step by step. "
                     "Press [b]Ctrl+N[/b] (or the button) to start a new run, [b]F1[/b] for help.",
                     id="intro")
        with Horizontal(id="welcome-cols"):
            with Vertical(id="hw-box", classes="panel"):
                yield Label("This machine", classes="panel-title")
                yield Static("probing…", id="hw")
                with Horizontal(classes="inline-form"):
                    yield Input(placeholder="what-if: 1x24GiB, 2x80GiB, cpu", id="whatif")
                    yield Button("Plan", id="whatif-apply")
            with Vertical(id="runs-box", classes="panel"):
                yield Label("Recent runs", classes="panel-title")
                yield Table(id="runs", cursor_type="row", zebra_stripes=True)
                with Horizontal(classes="button-row"):
                    yield Button("Open", id="open-run")
                    yield Button("Resume", id="resume-run")
                    yield Button("Refresh", id="refresh-runs")

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.add_columns("run", "status", "technique", "started", "last loss")
        if self.state.hardware is None:
            self.probe()
        else:
            self.show_hardware()
        self.load_runs()

    def refresh_from_state(self) -> None:
        self.show_hardware()
        self.load_runs()

    @work(thread=True, exclusive=True, group="probe")
    def probe(self) -> None:
        try:
            self.post_result(HardwareProbed(self.engine.probe_hardware()))
        except Exception as exc:  # the probe must never take the UI down
            self.post_failure("Hardware probe", exc)

    @on(HardwareProbed)
    def _probed(self, message: HardwareProbed) -> None:
        self.state.probed_hardware = message.hardware
        if not self.state.hardware_spec:
            self.state.hardware = message.hardware
        self.show_hardware()

    def show_hardware(self) -> None:
        lines = hardware_lines(self.state.hardware)
        if self.state.hardware_spec:
            lines.insert(0, f"[b]what-if:[/b] {self.state.hardware_spec} (clear the box to use this machine)")
        self.query_one("#hw", Static).update("\n".join(lines))
        self.query_one("#whatif", Input).value = self.state.hardware_spec

    @on(Input.Submitted, "#whatif")
    @on(Button.Pressed, "#whatif-apply")
    def apply_whatif(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        spec = self.query_one("#whatif", Input).value.strip()
        apply_hardware_spec(self, spec)
        self.show_hardware()

    @work(thread=True, exclusive=True, group="runs")
    def load_runs(self) -> None:
        try:
            self.post_result(RunsListed(self.engine.list_runs()))
        except Exception as exc:
            self.post_failure("Recent runs", exc)

    @on(RunsListed)
    def _show_runs(self, message: RunsListed) -> None:
        runs = message.runs
        table = self.query_one("#runs", DataTable)
        table.clear()
        now = self.tune_app.clock()
        for r in runs:
            table.add_row(r.name, r.status, r.technique or "", _when(r.started, now), fmt_float(r.last_loss),
                          key=str(r.run_dir))
        if not runs:
            table.add_row("(no runs yet)", "", "", "", "", key="")

    def _selected_run(self) -> Path | None:
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return Path(key) if key else None

    @on(Button.Pressed, "#refresh-runs")
    def _refresh(self) -> None:
        self.load_runs()

    @on(DataTable.RowSelected, "#runs")
    @on(Button.Pressed, "#open-run")
    def open_run(self, event: DataTable.RowSelected | Button.Pressed) -> None:
        event.stop()
        run_dir = self._selected_run()
        if run_dir is None:
            self.notify("Select a run first.", severity="warning")
            return
        self.tune_app.open_train("attach", run_dir)

    @on(Button.Pressed, "#resume-run")
    def resume_run(self, event: Button.Pressed) -> None:
        event.stop()
        run_dir = self._selected_run()
        if run_dir is None:
            self.notify("Select a stopped run to resume.", severity="warning")
            return
        self.tune_app.open_train("resume", run_dir)


def apply_hardware_spec(screen: StepScreen, spec: str) -> bool:
    """Use what-if hardware (or the probed machine when spec is empty); shared with Technique."""
    state = screen.state
    if not spec:
        state.hardware_spec = ""
        state.hardware = state.probed_hardware
        state.recommendation = None
        return True
    try:
        hw = screen.engine.parse_gpus(spec)
    except Exception as exc:
        screen.show_error(exc, "What-if hardware")
        return False
    state.hardware_spec = spec
    state.hardware = hw
    state.recommendation = None
    screen.set_status(f"planning for {spec}")
    return True


SCREEN = WelcomeScreen
