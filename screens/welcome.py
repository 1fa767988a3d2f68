"""Step 1: what tuneui found on this machine, recent runs, and how to start or re-attach."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Static

from screens.base import StepScreen
from screens.views import as_dict, fmt_bytes, fmt_float, pick


def hardware_lines(hw: Any) -> list[str]:
    d = as_dict(hw)
    if not d:
        return ["probing…"]
    lines = []
    for i, gpu in enumerate(pick(d, "gpus", default=[]) or []):
        g = as_dict(gpu)
        total = pick(g, "total_bytes", "memory_total_bytes", "total_memory_bytes", "memory_bytes")
        free = pick(g, "free_bytes", "memory_free_bytes", "free_memory_bytes")
        extra = f", {fmt_bytes(free)} free" if free is not None else ""
        bf16 = " · bf16" if g.get("bf16") or g.get("supports_bf16") else ""
        lines.append(f"GPU {i}: {pick(g, 'name', default='GPU')} — {fmt_bytes(total)}{extra}{bf16}")
    if not lines:
        backend = pick(d, "accelerator", "backend", "device")
        lines.append("GPU: none found — training runs on the CPU (fine for the demo model)"
                     if backend in (None, "cpu") else f"Accelerator: {backend}")
    cpu = pick(d, "cpu_count", "cpu_cores", "cpus")
    cpu_name = pick(d, "cpu_name", "cpu_model", default="")
    if cpu is not None:
        lines.append(f"CPU: {cpu} cores {cpu_name}".rstrip())
    ram = pick(d, "ram_bytes", "ram_total_bytes", "memory_bytes", "total_ram_bytes")
    if ram is not None:
        lines.append(f"RAM: {fmt_bytes(ram)}")
    disk = pick(d, "disk_free_bytes", "free_disk_bytes", "disk_free")
    if disk is not None:
        lines.append(f"Disk free: {fmt_bytes(disk)}")
    for note in pick(d, "notes", "warnings", default=[]) or []:
        lines.append(f"note: {note}")
    return lines


def _when(started: Any, now: float) -> str:
    t = None
    try:
        t = float(started)
    except (TypeError, ValueError):
        if isinstance(started, str) and started:
            return started[:16].replace("T", " ")
    if t is None:
        return "?"
    ago = max(0.0, now - t)
    if ago < 3600:
        return f"{int(ago // 60)} min ago"
    if ago < 86400:
        return f"{int(ago // 3600)} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(t))


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
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
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
            hw = self.services.probe_hardware()
        except Exception as exc:  # the probe must never take the UI down
            self.deliver(self.show_error, exc, "Hardware probe")
            return
        self.deliver(self._probed, hw)

    def _probed(self, hw: Any) -> None:
        self.state.probed_hardware = hw
        if not self.state.hardware_spec:
            self.state.hardware = hw
        self.show_hardware()

    def show_hardware(self) -> None:
        lines = hardware_lines(self.state.hardware)
        if self.state.hardware_spec:
            lines.insert(0, f"[b]what-if:[/b] {self.state.hardware_spec} (clear the box to use this machine)")
        self.query_one("#hw", Static).update("\n".join(lines))
        self.query_one("#whatif", Input).value = self.state.hardware_spec

    @on(Input.Submitted, "#whatif")
    @on(Button.Pressed, "#whatif-apply")
    def apply_whatif(self, event) -> None:
        event.stop()
        spec = self.query_one("#whatif", Input).value.strip()
        apply_hardware_spec(self, spec)
        self.show_hardware()

    @work(thread=True, exclusive=True, group="runs")
    def load_runs(self) -> None:
        try:
            runs = [as_dict(r) for r in self.services.list_runs()]
        except Exception as exc:
            self.deliver(self.show_error, exc, "Recent runs")
            return
        self.deliver(self._show_runs, runs)

    def _show_runs(self, runs: list[dict]) -> None:
        table = self.query_one("#runs", DataTable)
        table.clear()
        now = self.services.clock()
        for r in runs:
            run_dir = str(pick(r, "run_dir", "path", default=""))
            table.add_row(str(pick(r, "name", default=Path(run_dir).name)), str(pick(r, "status", default="?")),
                          str(pick(r, "technique", default="")), _when(pick(r, "started", "start_time"), now),
                          fmt_float(pick(r, "last_loss", "loss")), key=run_dir)
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
    def open_run(self, event) -> None:
        event.stop()
        run_dir = self._selected_run()
        if run_dir is None:
            self.notify("Select a run first.", severity="warning")
            return
        self.app.open_train("attach", run_dir)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#resume-run")
    def resume_run(self, event) -> None:
        event.stop()
        run_dir = self._selected_run()
        if run_dir is None:
            self.notify("Select a stopped run to resume.", severity="warning")
            return
        self.app.open_train("resume", run_dir)  # type: ignore[attr-defined]


def apply_hardware_spec(screen: StepScreen, spec: str) -> bool:
    """Use what-if hardware (or the probed machine when spec is empty); shared with Technique."""
    state = screen.state
    if not spec:
        state.hardware_spec = ""
        state.hardware = state.probed_hardware
        state.recommendation = None
        return True
    try:
        hw = screen.services.parse_gpus(spec)
    except Exception as exc:
        screen.show_error(exc, "What-if hardware")
        return False
    state.hardware_spec = spec
    state.hardware = hw
    state.recommendation = None
    screen.set_status(f"planning for {spec}")
    return True


SCREEN = WelcomeScreen
