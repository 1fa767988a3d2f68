"""Step 7: the live run — loss curves, rates, memory, progress with ETA, warnings, stop and resume.

The run is a separate process started through the engine (`tuneui.training.launch`); this screen
only follows its events.jsonl from a thread worker and posts them here as messages, so quitting
the app leaves the run going and `tuneui monitor RUN_DIR` (or Welcome › Open) re-attaches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, ProgressBar, Static

from tuneui.contract import events as ev
from tuneui.contract.config import PEFT_TECHNIQUES, RunConfig
from tuneui.contract.events import EXIT_CODES, Event
from tuneui.contract.runs import RunHandle
from tuneui.screens.base import StepScreen
from tuneui.screens.run_model import RunProgress, finished_figure
from tuneui.screens.views import fmt_duration, fmt_float
from tuneui.screens.widgets.plots import LossPlot, RewardPlot

LOG_LINES = 8


class TrainScreen(StepScreen):
    STEP = "train"
    NEXT_LABEL = "Chat"
    BINDINGS = [Binding("ctrl+x", "stop_run", "Stop (checkpoint)"),
                Binding("ctrl+r", "resume_run", "Resume")]

    @dataclass
    class EventsArrived(Message):
        events: list[Event]

    @dataclass
    class RunEnded(Message):
        """The process is gone; `code` is its exit status when known."""

        code: int | None

    def __init__(self) -> None:
        super().__init__()
        self.progress = RunProgress()
        self._stop_follow = threading.Event()
        self._warnings_seen = 0

    def compose_body(self) -> ComposeResult:
        yield Static("No run yet: finish Settings and press Start training, or open a run from Welcome.",
                     id="run-title")
        yield Static("", id="warnings")
        with Horizontal(id="run-top"):
            yield LossPlot(id="loss-plot")
            yield RewardPlot(id="reward-plot")
            yield Static("", id="run-stats", markup=False)
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=100, show_eta=False, id="progress")
            yield Static("", id="eta")
        with Vertical(classes="panel", id="log-box"):
            yield Label("Log", classes="panel-title")
            yield Static("", id="log", markup=False)
        with Horizontal(classes="button-row"):
            yield Button("Stop (saves a checkpoint)", id="stop", variant="error", disabled=True)
            yield Button("Resume", id="resume", disabled=True)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self.query_one("#warnings", Static).display = False
        self._render_all()
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        if not self.is_mounted or self.state.pending_run is None:
            return
        action, run_dir = self.state.pending_run
        self.state.pending_run = None
        if action == "start":
            self.start_new_run()
        elif action == "resume" and run_dir is not None:
            self.resume_run(run_dir)
        elif action == "attach" and run_dir is not None:
            self.attach_run(run_dir)

    # Starting and attaching -----------------------------------------------------------------
    def _reset(self, run_dir: Path | None) -> None:
        self._stop_follow.set()
        self._stop_follow = threading.Event()
        self.progress = RunProgress()
        self._warnings_seen = 0
        self.state.run_dir = run_dir
        self.query_one("#warnings", Static).display = False
        self._render_all()

    def start_new_run(self) -> None:
        if self.state.run_handle is not None and self.state.run_handle.poll() is None:
            self.notify("A run is already going; stop it first.", severity="warning")
            return
        self._reset(None)
        self.query_one("#run-title", Static).update(f"Starting [b]{escape(self.state.config.name)}[/b]…")
        self._launch(self.state.config, None, False)

    def resume_run(self, run_dir: Path) -> None:
        self._reset(run_dir)
        self.query_one("#run-title", Static).update(f"Resuming {escape(str(run_dir))}…")
        self._launch(None, run_dir, True)

    def attach_run(self, run_dir: Path) -> None:
        self._reset(run_dir)
        handle: RunHandle | None
        try:
            handle = self.engine.attach(run_dir)
        except Exception as exc:  # a run dir without a live process is still worth showing
            handle = None
            if not (Path(run_dir) / "events.jsonl").exists():
                self.show_error(exc, "Open run")
                return
        self.state.run_handle = handle
        self._following(run_dir)

    @dataclass
    class RunLaunched(Message):
        handle: RunHandle

    @dataclass
    class LaunchFailed(Message):
        error: Exception

    @work(thread=True, exclusive=True, group="launch")
    def _launch(self, config: RunConfig | None, run_dir: Path | None, resume: bool) -> None:
        try:
            if config is None:
                assert run_dir is not None  # a resume names its run
                config = self.engine.load_run_config(run_dir)
            self.post_result(self.RunLaunched(self.engine.start_run(config, run_dir, resume=resume)))
        except Exception as exc:
            self.post_result(self.LaunchFailed(exc))

    @on(LaunchFailed)
    def _launch_failed(self, message: LaunchFailed) -> None:
        exc = message.error
        self.progress.status = "failed"
        self.query_one("#run-title", Static).update(f"[red]Could not start the run:[/red] {escape(str(exc))}")
        self.show_error(exc, "Training")
        self._render_buttons()

    @on(RunLaunched)
    def _launched(self, message: RunLaunched) -> None:
        self.state.run_handle = message.handle
        self._following(Path(message.handle.run_dir))

    def _following(self, run_dir: Path) -> None:
        self.state.run_dir = Path(run_dir)
        self._render_title()
        self._render_buttons()
        self.follow(Path(run_dir), self.state.run_handle, self._stop_follow)

    @work(thread=True, exclusive=True, group="follow")
    def follow(self, run_dir: Path, handle: RunHandle | None, stop: threading.Event) -> None:
        """Post new events until the process is gone (or, with no process to watch, until the stream
        ends with a terminal event). A resumed run appends to the same file after its old `stopped`
        event, so a terminal event alone does not end the watch while the process lives."""
        follower = self.engine.follow(run_dir)
        interval = self.tune_app.poll_interval
        while not stop.is_set():
            events = follower.poll()
            if events:
                self.post_message(self.EventsArrived(events))
            if handle is None:
                if events and events[-1].terminal:
                    return
            elif (code := handle.poll()) is not None:
                tail = follower.poll()  # the last lines written just before the exit
                if tail:
                    self.post_message(self.EventsArrived(tail))
                self.post_message(self.RunEnded(code))
                return
            stop.wait(interval)

    # Live updates -------------------------------------------------------------------------
    @on(EventsArrived)
    def _events(self, message: EventsArrived) -> None:
        for event in message.events:
            self.progress.add(event)
        self._render_all()
        for w in self.progress.warnings[self._warnings_seen:]:
            self.notify(f"{w.reason}\n{w.advice}".strip(), title="Training warning", severity="warning",
                        timeout=12)
        self._warnings_seen = len(self.progress.warnings)
        final = self.progress.final
        if self.progress.done:
            self.set_status("")
        if isinstance(final, ev.Failed):
            self.notify(f"{final.reason or 'the run failed'}\n{final.advice}".strip(),
                        title="Training failed", severity="error", timeout=20)
        elif isinstance(final, ev.Finished):
            self.notify("Training finished. Next: chat with your model.", title="Done", timeout=10)

    @on(RunEnded)
    def _ended(self, message: RunEnded) -> None:
        if not self.progress.done:
            ending = {code: kind for kind, code in EXIT_CODES.items()}
            self.progress.status = ending.get(message.code, "failed") if message.code is not None else "failed"
            if self.progress.status == "failed":
                reason = (f"the training process exited with code {message.code} without saying why; "
                          f"see the log in {self.state.run_dir}")
                self.progress.final = ev.Failed(step=self.progress.step, reason=reason)
                self.progress.log.append(reason)
            self._render_all()

    def _render_all(self) -> None:
        p = self.progress
        self._render_title()
        self.query_one(LossPlot).show(p.loss, p.eval_loss, p.total_steps)
        rewards = self.query_one(RewardPlot)
        rewards.display = bool(p.preference)  # preference runs only: an SFT run's screen is unchanged
        if p.preference:
            rewards.show(p.preference, p.total_steps)
        self._render_stats()
        bar = self.query_one("#progress", ProgressBar)
        if p.total_steps:
            bar.update(total=p.total_steps, progress=p.step)
        eta = p.eta_seconds()
        self.query_one("#eta", Static).update(
            f"step {p.step}/{p.total_steps or '?'}" + (f" · ETA {fmt_duration(eta)}" if eta is not None else ""))
        self._render_warnings()
        self._render_log()
        self._render_buttons()

    def _render_log(self) -> None:
        # The newest lines, newest last; a Static (not a scrolling log) so it always shows the end.
        self.query_one("#log", Static).update("\n".join(self.progress.log[-LOG_LINES:]) or "(no events yet)")

    def _tick(self) -> None:
        """Once a second while running: the elapsed time moves between events."""
        if self.progress.status == "running":
            self._render_stats()

    def _render_stats(self) -> None:
        rows = self.progress.stats_rows(self.tune_app.clock())
        self.query_one("#run-stats", Static).update("\n".join(f"{k:<14}{v}" for k, v in rows))

    def _render_title(self) -> None:
        p = self.progress
        run_dir = self.state.run_dir
        if run_dir is None:
            return
        colour = {"running": "green", "finished": "green", "failed": "red", "stopped": "yellow"}.get(p.status, "")
        status = f"[{colour}]{p.status}[/{colour}]" if colour else p.status
        info = p.info
        what = f" · {info.technique or ''} on {info.model or ''}" if info else ""
        phase = f"  [i]{p.phase}[/i]" if p.phase else ""
        self.query_one("#run-title", Static).update(
            f"Run [b]{escape(Path(run_dir).name)}[/b] — {status}{escape(what)}{phase}\n"
            f"[dim]{escape(str(run_dir))}[/dim]")

    def _render_warnings(self) -> None:
        box = self.query_one("#warnings", Static)
        p = self.progress
        lines = [f"⚠ {escape(w.reason)} — {escape(w.advice)}" for w in p.warnings[-3:]]
        final = p.final
        if isinstance(final, ev.Failed):
            lines.append(f"✗ FAILED: {escape(final.reason)}" + (f" — {escape(final.advice)}" if final.advice else ""))
        elif isinstance(final, ev.Stopped):
            ck = final.checkpoint
            lines.append("■ Stopped" + (f"; checkpoint saved in {escape(ck)}" if ck else "")
                         + ". Resume (Ctrl+R) continues from it.")
        elif isinstance(final, ev.Finished):
            info = p.info
            written = "Adapter" if info is None or info.technique in PEFT_TECHNIQUES else "Model"
            lines.append(f"✓ Finished: train loss {fmt_float(final.train_loss)}, {finished_figure(final)}. "
                         f"{written}: {escape(final.adapter_path or '')}")
        box.update("\n".join(lines))
        box.display = bool(lines)
        box.set_class(isinstance(final, ev.Failed) or bool(p.warnings), "alert")
        box.set_class(isinstance(final, ev.Finished), "success")

    def _render_buttons(self) -> None:
        p = self.progress
        alive = self.state.run_handle is not None and p.status in ("running", "waiting") and not p.done
        self.query_one("#stop", Button).disabled = not alive
        self.query_one("#resume", Button).disabled = not (self.state.run_dir and p.status in ("stopped", "failed"))

    # Actions -------------------------------------------------------------------------------
    @on(Button.Pressed, "#stop")
    def action_stop_run(self) -> None:
        handle = self.state.run_handle
        if handle is None or self.progress.done:
            self.notify("No running run to stop.", severity="warning")
            return
        try:
            handle.stop()
        except Exception as exc:
            self.show_error(exc, "Stop")
            return
        self.set_status(self.progress.stop_words())
        self.query_one("#stop", Button).disabled = True

    @on(Button.Pressed, "#resume")
    def action_resume_run(self) -> None:
        if self.state.run_dir is None or self.progress.status not in ("stopped", "failed"):
            self.notify("Only a stopped (or failed) run can be resumed.", severity="warning")
            return
        self.state.run_handle = None
        self.resume_run(self.state.run_dir)

    def on_unmount(self) -> None:
        self._stop_follow.set()

    def validate_step(self) -> str | None:
        if self.progress.status != "finished":
            return "The chat needs a finished run."
        return None


SCREEN = TrainScreen
