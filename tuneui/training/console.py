"""What `tuneui train` shows while it trains: progress in the style of rich/tqdm, read from the run's
own events.jsonl (the same stream the wizard and `tuneui monitor` follow), so the console can never
say something the run directory does not.

On a terminal one line is rewritten in place (step/total, loss, tokens/s, elapsed, ETA); when the
output is a pipe or a log (CI, `| tee`) a plain line is written at the first step, every `interval`
seconds and at the last step, so logs stay readable. `--json` writes the events themselves to stdout,
one per line; `--quiet` shows nothing but errors and the outcome.

Third-party chatter the user cannot act on (bitsandbytes asking for `pip install kernels`, deprecation
warnings, the loaders' own progress bars) goes to the run's train.log instead of the console.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tuneui.contract import events as ev
from tuneui.contract.rundir import LOG_FILE

MODES = ("auto", "live", "lines", "json", "quiet")


def fmt_duration(seconds: float) -> str:
    s = max(int(round(seconds)), 0)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def monitor_hint(run_dir: Path) -> str:
    return f"tuneui: run directory {run_dir}\n  watch it live (loss curves, stop, resume): tuneui monitor {run_dir}"


@dataclass
class _State:
    total: int | None = None
    step: int = 0
    loss: float | None = None
    tokens_per_s: float | None = None
    margin: float | None = None  # preference runs: the last step's reward margin and accuracy
    accuracy: float | None = None
    first_step: int | None = None
    first_time: float | None = None
    last_time: float | None = None


class ConsoleProgress:
    """Follow RUN_DIR/events.jsonl in a thread and print what happens; `close()` prints the rest."""

    def __init__(self, run_dir: Path, *, mode: str = "auto", stream: TextIO | None = None,
                 out: TextIO | None = None, interval: float = 10.0, refresh: float = 0.5):
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        if mode == "auto":
            mode = "live" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode = mode
        self.interval = interval
        self.refresh = refresh
        self.follower = ev.EventFollower(run_dir)
        self.state = _State()
        self.started = time.monotonic()
        self._printed_at = 0.0
        self._printed_step: int | None = None
        self._live_shown = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ConsoleProgress:
        if self.mode != "quiet":
            self._thread = threading.Thread(target=self._loop, name="tuneui-console", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.mode != "quiet":
            self._handle(self.follower.poll())
            self._clear_live()

    def _loop(self) -> None:
        while not self._done.wait(self.refresh if self.mode == "live" else 0.2):
            try:
                self._handle(self.follower.poll())
                if self.mode == "live" and self.state.first_time is not None:
                    self._show_live()
            except (OSError, ValueError):  # a closed console must not take the run down
                return

    # -- rendering -----------------------------------------------------------------------------
    def progress_line(self, now: float | None = None) -> str:
        st = self.state
        now = time.monotonic() if now is None else now
        total = f"/{st.total}" if st.total else ""
        parts = [f"step {st.step}{total}"]
        if st.loss is not None:
            parts.append(f"loss {st.loss:.4f}")
        if st.margin is not None:
            parts.append(f"margin {st.margin:.3f}")
        if st.accuracy is not None:
            parts.append(f"acc {st.accuracy:.0%}")
        if st.tokens_per_s is not None:
            parts.append(f"{st.tokens_per_s:,.0f} tokens/s")
        parts.append(f"elapsed {fmt_duration(now - self.started)}")
        if st.total and st.step >= st.total:
            parts.append("ETA 0s")
        elif (st.total and st.first_step is not None and st.first_time is not None and st.last_time is not None
              and st.step > st.first_step):
            per_step = (st.last_time - st.first_time) / (st.step - st.first_step)
            parts.append(f"ETA {fmt_duration(per_step * (st.total - st.step))}")
        return " · ".join(parts)

    def _handle(self, events: list[ev.Event]) -> None:
        for e in events:
            if self.mode == "json":
                self.out.write(e.model_dump_json() + "\n")
                self.out.flush()
                continue
            self._take(e)

    def _take(self, e: ev.Event) -> None:
        st = self.state
        now = time.monotonic()
        if isinstance(e, ev.Started):
            st.total = e.total_steps or st.total
            what = f"{e.technique} on {e.model}" if e.technique and e.model else "training"
            examples = f", {e.train_examples} training examples" if e.train_examples is not None else ""
            self._say(f"tuneui: {what}{examples}, {st.total or '?'} steps")
        elif isinstance(e, ev.Preparing):
            self._say(f"tuneui: {e.message}")
        elif isinstance(e, ev.Step):
            st.total = e.total_steps or st.total
            st.step, st.loss = e.step, e.loss if e.loss is not None else st.loss
            st.tokens_per_s = e.tokens_per_s if e.tokens_per_s is not None else st.tokens_per_s
            st.margin = e.reward_margin if e.reward_margin is not None else st.margin
            st.accuracy = e.reward_accuracy if e.reward_accuracy is not None else st.accuracy
            if st.first_time is None:  # the rate is measured between steps: setup and base eval are not steps
                st.first_step, st.first_time = e.step, now
            st.last_time = now
            if self.mode == "live":
                self._show_live()
            elif (self._printed_at == 0.0 or now - self._printed_at >= self.interval
                  or (st.total is not None and e.step >= st.total)):
                self._say(self.progress_line(now))
                self._printed_at, self._printed_step = now, e.step
        elif isinstance(e, ev.Eval) and e.eval_loss is not None:
            who = "base model" if e.base else f"step {e.step}"
            self._say(f"tuneui: eval loss {e.eval_loss:.4f} ({who})")
        elif isinstance(e, ev.Eval) and e.is_preference:
            self._say(f"tuneui: validation at step {e.step}: {e.preference_summary()}")
        elif isinstance(e, ev.Warning):
            advice = f"\n  advice: {e.advice}" if e.advice else ""
            self._say(f"tuneui: warning: {e.reason}{advice}")
        elif e.terminal:
            st.step = max(st.step, e.step)
            if self.mode == "lines" and st.first_time is not None and self._printed_step != st.step:
                self._say(self.progress_line(now))  # where it got to: steps are logged only every few
                self._printed_step = st.step
            if isinstance(e, ev.Finished):
                self._say(f"tuneui: finished at step {e.step} in {fmt_duration(now - self.started)}")
            elif isinstance(e, ev.Stopped) and e.advice:
                self._say(f"tuneui: stopped at step {e.step}; {e.advice}")

    def _say(self, line: str) -> None:
        self._clear_live()
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.mode == "live" and self.state.first_time is not None and not self._done.is_set():
            self._show_live()

    def _show_live(self) -> None:
        self.stream.write("\r\x1b[K" + self.progress_line())
        self.stream.flush()
        self._live_shown = True

    def _clear_live(self) -> None:
        if self._live_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._live_shown = False


class _LazyLog:
    """A log file opened at its first line: the run directory may not be this run's yet (the lock
    decides), and a run with nothing to log leaves no file."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: TextIO | None = None

    def write(self, text: str) -> int:
        try:
            if self._fh is None:
                self._fh = self.path.open("a", encoding="utf-8", buffering=1)
            return self._fh.write(text)
        except OSError:
            return 0  # a full disk or a vanished directory costs the chatter, never the run

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()


def _to_console(h: logging.Handler) -> bool:
    consoles = {id(s) for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__) if s is not None}
    return type(h) is logging.StreamHandler and id(getattr(h, "stream", None)) in consoles


def _capture_console_handlers(routed: logging.Handler) -> Callable[[], None]:
    """Libraries that print through a logger of their own, with propagation off and a handler on
    stdout (DeepSpeed's "Setting accelerator to CPU", said when the Trainer imports it), never reach
    the root handler: their console handlers are swapped for the log's, on the loggers that exist now
    and on those a library creates later, during the run."""
    swapped: list[tuple[logging.Logger, logging.Handler]] = []
    active = [True]
    previous_class = logging.getLoggerClass()

    def take(logger: logging.Logger, h: logging.Handler) -> logging.Handler:
        if not active[0] or logger.name.startswith("tuneui") or not _to_console(h):
            return h
        swapped.append((logger, h))
        return routed

    class RoutedLogger(previous_class):  # type: ignore[misc,valid-type]
        def addHandler(self, hdlr: logging.Handler) -> None:  # noqa: N802 - logging's own name
            super().addHandler(take(self, hdlr))

    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            for h in list(logger.handlers):
                if take(logger, h) is routed:
                    logger.removeHandler(h)
                    logger.addHandler(routed)
    logging.setLoggerClass(RoutedLogger)

    def restore() -> None:
        active[0] = False
        logging.setLoggerClass(previous_class)
        for logger, h in swapped:
            logger.removeHandler(routed)
            logger.addHandler(h)

    return restore


def route_third_party_output(run_dir: Path) -> Callable[[], None]:
    """Send library warnings, library logging and the loaders' progress bars to RUN_DIR/train.log:
    none of it is something the user of `tuneui train` can act on, and it buried the progress. tuneui's
    own messages are printed or written as events, not through these channels, so they stay visible.
    Returns what puts it all back (a caller that goes on after the run, like a test, gets its console back)."""
    log = _LazyLog(run_dir / LOG_FILE)
    undo: list[Callable[[], None]] = []

    def showwarning(message, category, filename, lineno, file=None, line=None):
        log.write(warnings.formatwarning(message, category, filename, lineno, line))

    previous = warnings.showwarning
    warnings.showwarning = showwarning
    undo.append(lambda: setattr(warnings, "showwarning", previous))
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    undo.append(lambda: root.removeHandler(handler))
    undo.append(_capture_console_handlers(handler))
    try:
        from huggingface_hub import utils as hub_utils
        from transformers.utils import logging as hf_logging

        if hf_logging.is_progress_bar_enabled():
            hf_logging.disable_progress_bar()
            undo.append(hf_logging.enable_progress_bar)
        hf_logging.disable_default_handler()  # its own stderr handler; propagate to ours instead
        hf_logging.enable_propagation()
        undo += [hf_logging.enable_default_handler, hf_logging.disable_propagation]
        if not hub_utils.are_progress_bars_disabled():
            hub_utils.disable_progress_bars()
            undo.append(hub_utils.enable_progress_bars)
    except ImportError:
        pass
    try:
        import datasets

        if datasets.is_progress_bar_enabled():
            datasets.disable_progress_bars()
            undo.append(datasets.enable_progress_bars)
    except ImportError:
        pass

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore
