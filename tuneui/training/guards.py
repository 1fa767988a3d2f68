"""Watching a run for the ways long runs go wrong, and stopping it cleanly when asked.

Each problem becomes an event a person can act on: the reason in plain words plus advice.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any


class RunFailure(Exception):
    """The run cannot usefully continue; reason and advice go into the `failed` event."""

    exit_code = 1

    def __init__(self, reason: str, advice: str):
        super().__init__(reason)
        self.reason = reason
        self.advice = advice


def non_finite_loss(step: int, loss: float, cfg) -> RunFailure:
    advice = "lower learning_rate (e.g. halve it)"
    if cfg.precision == "fp16":
        advice = "use precision = 'bf16' (fp16 overflows easily) and " + advice
    if cfg.max_grad_norm == 0:
        advice += ", and turn gradient clipping back on (max_grad_norm = 1.0)"
    return RunFailure(f"loss became {loss} at step {step}; the weights are no longer usable from here", advice)


class DivergenceWatch:
    """Loss far above its running minimum for `patience` consecutive steps means the run diverged.

    A single spike is normal (a hard batch); a sustained rise to `factor` times the best loss
    seen, after warm-up, is not. Near zero the ratio alone means nothing: a converged run whose
    batches score 0.02 to 0.06 nats is "3x its best" on every other step (the real-model demo
    was stopped that way at its last step), so the loss must also sit `min_rise` nats above
    its best.
    """

    def __init__(self, factor: float = 2.0, patience: int = 10, warmup_steps: int = 10, min_rise: float = 0.5):
        self.factor, self.patience, self.warmup, self.min_rise = factor, patience, warmup_steps, min_rise
        self.best = math.inf
        self.bad = 0

    def update(self, step: int, loss: float) -> str | None:
        if step <= self.warmup:
            self.best = min(self.best, loss)
            return None
        if loss > self.factor * self.best and loss - self.best > self.min_rise:
            self.bad += 1
        else:
            self.bad = 0
        self.best = min(self.best, loss)
        if self.bad >= self.patience:
            return (f"loss diverged: {loss:.3f} at step {step}, over {self.factor:g}x its best "
                    f"{self.best:.3f} for {self.bad} steps in a row")
        return None


class OverfitWatch:
    """Eval loss rising for `patience` evaluations in a row while train loss keeps falling."""

    def __init__(self, patience: int = 3):
        self.patience = patience
        self.evals: list[float] = []
        self.train_at_eval: list[float] = []
        self.warned = False

    def update(self, eval_loss: float, train_loss: float | None) -> str | None:
        self.evals.append(eval_loss)
        self.train_at_eval.append(train_loss if train_loss is not None else math.nan)
        k = self.patience
        if len(self.evals) <= k or self.warned:
            return None
        ev, tr = self.evals[-k - 1:], self.train_at_eval[-k - 1:]
        rising = all(b > a for a, b in zip(ev, ev[1:]))
        falling = tr[-1] < tr[0]
        if rising and falling:
            self.warned = True
            return (f"overfitting: eval loss rose {k} evaluations in a row ({ev[0]:.3f} -> {ev[-1]:.3f}) "
                    f"while train loss fell ({tr[0]:.3f} -> {tr[-1]:.3f})")
        return None

    def best(self) -> float:
        return min(self.evals) if self.evals else math.inf


class StopRequested(BaseException):
    """A stop signal that arrived where there is nothing to finish first (setup, evaluation, the
    final save): it unwinds at once, like KeyboardInterrupt, and the run ends as `stopped`."""

    exit_code = 130

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopController:
    """SIGINT/SIGTERM: the first asks for a graceful stop (finish the step, checkpoint, exit 130);
    a second stops at once. Checkpoints are only ever renamed into place when complete, so an
    immediate stop can lose the step in progress but never corrupt the last complete checkpoint.

    Outside the training steps there is no step to finish: inside `interruptible()` (setup,
    tokenising, evaluation, the final save) the first signal raises StopRequested at once, so a
    stop is honoured within moments in every phase rather than after the next optimizer step."""

    def __init__(self, on_immediate=None, on_graceful=None):
        self.requested = threading.Event()
        self.signal_name: str | None = None
        self._on_immediate = on_immediate
        self._on_graceful = on_graceful  # told at once that a graceful stop is under way
        self._previous: dict[int, Any] = {}
        self._raise = 0  # depth of interruptible() blocks

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.requested.is_set():
            if self._on_immediate:
                self._on_immediate(signal.Signals(signum).name)
            os._exit(130)
        self.signal_name = signal.Signals(signum).name
        self.requested.set()
        if self._raise:
            raise StopRequested(self.signal_name)
        if self._on_graceful:
            self._on_graceful(self.signal_name)

    def request(self, reason: str = "requested") -> None:
        self.signal_name = reason
        self.requested.set()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A block a stop signal may cut short (a stop that came before it stops it at the start)."""
        if self.requested.is_set():
            raise StopRequested(self.signal_name or "request")
        self._raise += 1
        try:
            yield
        finally:
            self._raise -= 1
