"""What the live screen knows about a run, built only from its events (tuneui/contract/events.py).

Kept free of widgets so the same state can be rebuilt from a finished run's events.jsonl, from a
follower mid-run, or from canned events in tests.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from tuneui.contract import events as ev
from tuneui.contract.evaluation import fmt_num, fmt_score
from tuneui.contract.events import TERMINAL_TYPES, Event
from tuneui.screens.views import fmt_bytes, fmt_duration, fmt_float


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


@dataclass
class PreferenceCurves:
    """A preference run's curves: TRL's training rewards per step and the periodic validations."""

    chosen: list[tuple[int, float]] = field(default_factory=list)
    rejected: list[tuple[int, float]] = field(default_factory=list)
    margin: list[tuple[int, float]] = field(default_factory=list)
    accuracy: list[tuple[int, float]] = field(default_factory=list)  # training, per step
    val_accuracy: list[tuple[int, float]] = field(default_factory=list)
    last_val: ev.Eval | None = None

    def __bool__(self) -> bool:
        return bool(self.margin or self.chosen or self.last_val)

    def add_step(self, e: ev.Step) -> None:
        for series, value in ((self.chosen, e.rewards_chosen), (self.rejected, e.rewards_rejected),
                              (self.margin, e.reward_margin), (self.accuracy, e.reward_accuracy)):
            if _finite(value):
                series.append((e.step, value))  # type: ignore[arg-type]

    def add_eval(self, e: ev.Eval) -> None:
        self.last_val = e
        if _finite(e.pref_accuracy):
            self.val_accuracy.append((e.step, e.pref_accuracy))  # type: ignore[arg-type]

    def stats_rows(self) -> list[tuple[str, str]]:
        val = self.last_val
        return [
            ("margin", fmt_float(self.margin[-1][1], 3) if self.margin else "–"),
            ("accuracy", f"{self.accuracy[-1][1]:.0%}" if self.accuracy else "–"),
            ("val accuracy", f"{val.pref_accuracy:.0%}" if val and val.pref_accuracy is not None else "–"),
            ("chosen drift", f"{val.logp_drift:+.2f}" if val and val.logp_drift is not None else "–"),
        ]


@dataclass
class RunProgress:
    status: str = "waiting"  # waiting | running | finished | failed | stopped | interrupted
    total_steps: int | None = None
    step: int = 0
    start_time: float | None = None
    first_step: tuple[float, int] | None = None  # (time, step) of the first step event seen
    last_time: float | None = None
    loss: list[tuple[int, float]] = field(default_factory=list)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)
    base_eval_loss: float | None = None  # the untrained model's, at step 0 of the curve
    lr: float | None = None
    tokens_per_s: float | None = None
    mem_bytes: float | None = None
    grad_norm: float | None = None
    epoch: float | None = None
    last_loss: float | None = None
    warnings: list[ev.Warning] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    info: ev.Started | None = None
    final: ev.Finished | ev.Failed | ev.Stopped | None = None  # the terminal event
    checkpoints: list[str] = field(default_factory=list)
    elapsed_before: float = 0.0  # run time of the earlier segments of a resumed run
    note: str = ""  # what the run said it is doing outside the steps (a `preparing` event), until the next step
    preference: PreferenceCurves = field(default_factory=PreferenceCurves)  # empty for sft runs

    def add(self, event: Event) -> None:
        t = event.time
        step = event.step
        previous = self.last_time
        self.last_time = t
        if isinstance(event, ev.Started):
            if event.resumed_from is not None and self.start_time is not None and previous is not None:
                # A resumed run goes on: its clock too (the time between the stop and the resume is not run time).
                self.elapsed_before += max(0.0, previous - self.start_time)
            self.info = event
            self.note = ""
            self.status = "running"
            self.final = None  # a resumed run: the earlier `stopped` no longer describes it
            self.start_time = t
            self.total_steps = event.total_steps or self.total_steps
            self.step = step
            self.first_step = None
            extra = f", resumed from {event.resumed_from}" if event.resumed_from else ""
            self._log(t, f"started {event.technique or ''} on {event.model or ''}: "
                         f"{event.train_examples if event.train_examples is not None else '?'} train / "
                         f"{event.val_examples if event.val_examples is not None else '?'} val "
                         f"examples, {self.total_steps or '?'} steps{extra}")
        elif isinstance(event, ev.Step):
            self.status = "running"
            self.note = ""
            self.step = step
            if self.first_step is None:
                self.first_step = (t, step)
            self.last_loss = event.loss
            if _finite(event.loss):
                self.loss.append((step, event.loss))  # type: ignore[arg-type]
            self.lr = event.lr
            self.tokens_per_s = event.tokens_per_s
            self.mem_bytes = event.mem_bytes
            self.grad_norm = event.grad_norm
            self.epoch = event.epoch
            self.preference.add_step(event)
            self._log(t, f"step {step}: loss {fmt_float(event.loss)}  lr {fmt_float(self.lr, 3)}")
        elif isinstance(event, ev.Eval) and event.is_preference:
            self.preference.add_eval(event)
            self._log(t, f"step {step}: validation {event.preference_summary()}")
        elif isinstance(event, ev.Eval):
            if _finite(event.eval_loss):
                # The base's point may come last (measured after training): the curve is kept in step order,
                # and "eval loss" in the stats stays the latest step's.
                point = (step, event.eval_loss)
                if event.base:
                    self.base_eval_loss = event.eval_loss
                    self.eval_loss = [p for p in self.eval_loss if p[0] != step]
                    self.eval_loss.insert(0, point)  # type: ignore[arg-type]
                else:
                    self.eval_loss.append(point)  # type: ignore[arg-type]
            who = "base model" if event.base else f"step {step}"
            self._log(t, f"{who}: eval loss {fmt_float(event.eval_loss)}")
        elif isinstance(event, ev.Checkpoint):
            self.checkpoints.append(event.path)
            self._log(t, f"step {step}: checkpoint saved to {event.path or '?'}")
        elif isinstance(event, ev.Preparing):
            self.note = event.message
            self._log(t, event.message)
        elif isinstance(event, ev.Warning):
            self.warnings.append(event)
            self._log(t, f"WARNING step {step}: {event.reason}")
        elif isinstance(event, (ev.Finished, ev.Failed, ev.Stopped)):
            self.status = event.type
            self.final = event
            self.note = ""
            self.step = max(self.step, step)
            what = {"finished": "finished", "failed": "FAILED", "stopped": "stopped"}[event.type]
            if isinstance(event, ev.Finished):
                detail = f"train loss {fmt_float(event.train_loss)}, {finished_figure(event)}"
                if _finite(event.eval_loss) and not (self.eval_loss and self.eval_loss[-1][0] == self.step
                                                     and self.eval_loss[-1][1] != self.base_eval_loss):
                    # The tuned model's, measured after the last step: the curve's end point, so a run
                    # without periodic validation shows where it went from the base, not the base alone.
                    self.eval_loss.append((self.step, event.eval_loss))  # type: ignore[arg-type]
            else:
                detail = event.reason
            self._log(t, f"{what} at step {step}" + (f": {detail}" if detail else ""))

    def _log(self, t: float | None, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(t)) if t is not None else "--:--:--"
        self.log.append(f"{stamp} {text}")
        del self.log[:-200]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_TYPES

    @property
    def fraction(self) -> float | None:
        if not self.total_steps:
            return None
        return min(1.0, self.step / self.total_steps)

    def eta_seconds(self) -> float | None:
        """Remaining time from the step rate seen so far (event times, so replays give the same ETA)."""
        if self.done or not self.total_steps or not self.first_step or self.last_time is None:
            return None
        t0, s0 = self.first_step
        steps = self.step - s0
        if steps <= 0 or self.last_time <= t0:
            return None
        return (self.total_steps - self.step) * (self.last_time - t0) / steps

    def elapsed_seconds(self, now: float | None = None) -> float | None:
        """Run time so far: up to `now` while running (the clock ticks between events), else to the last event."""
        if self.start_time is None or self.last_time is None:
            return None
        end = max(now, self.last_time) if now is not None and not self.done else self.last_time
        return self.elapsed_before + end - self.start_time

    @property
    def phase(self) -> str:
        if self.status == "waiting":
            return "starting the training process…"
        if self.status == "running" and self.note:
            return self.note
        if self.status == "running" and not self.loss and self.last_loss is None:
            return "preparing: loading the model and data…"
        return ""

    def stop_words(self) -> str:
        """What pressing Stop does now, said at once (the run's own `stopped` event follows)."""
        if self.note.startswith(("base evaluation", "final evaluation")):
            return "stopping: training is done and saved; the evaluation in progress is cut short…"
        if self.first_step is None:
            return "stopping: the run ends before its first step…"
        return "stopping: the run saves a checkpoint first…"

    def _eval_loss_text(self) -> str:
        if not self.eval_loss:
            return "–"
        last = self.eval_loss[-1]
        base = len(self.eval_loss) == 1 and last[1] == self.base_eval_loss
        return fmt_float(last[1]) + (" (base)" if base else "")

    def stats_rows(self, now: float | None = None) -> list[tuple[str, str]]:
        # A preference run shows its rewards in place of the epoch, an eval loss it does not measure and the
        # grad norm (the panel has room for eleven rows on a small terminal).
        pref = bool(self.preference)
        figures = ([("loss", fmt_float(self.last_loss)), *self.preference.stats_rows()] if pref else [
            ("epoch", fmt_float(self.epoch, 3)),
            ("loss", fmt_float(self.last_loss)),
            ("eval loss", self._eval_loss_text()),
        ])
        return [
            ("step", f"{self.step} / {self.total_steps or '?'}"),
            *figures,
            ("learning rate", fmt_float(self.lr, 3)),
            ("tokens/s", f"{self.tokens_per_s:,.0f}" if self.tokens_per_s is not None else "–"),
            ("memory", fmt_bytes(self.mem_bytes) if self.mem_bytes is not None else "–"),
            *([] if pref else [("grad norm", fmt_float(self.grad_norm, 3))]),
            ("elapsed", fmt_duration(self.elapsed_seconds(now))),
            ("ETA", self._eta_text()),
        ]

    def _eta_text(self) -> str:
        # "done" only for a run that finished: a stopped or failed one has work left, no time to give.
        return "done" if self.status == "finished" else "–" if self.done else fmt_duration(self.eta_seconds())


def finished_figure(final: ev.Finished) -> str:
    """What the finished banner says the run reached: the held-out preference accuracy of a preference
    run (its eval loss is not measured) and its forgetting probe (nothing else tells the user what preference
    tuning cost the model's general text), else the eval loss."""
    pref = final.report.get("preference") or {}
    tuned, base = pref.get("tuned") or {}, pref.get("base") or {}
    if tuned.get("accuracy") is not None:
        before = f"{fmt_score(base['accuracy'])} -> " if base.get("accuracy") is not None else ""
        figure = f"preference accuracy on {tuned.get('pairs', '?')} held-out pairs {before}{fmt_score(tuned['accuracy'])}"
    elif tuned.get("desirable_mean_logp") is not None:  # KTO ranks no pairs: how likely each kind of reply got
        figure = "mean log-probability of held-out replies, " + ", ".join(
            f"{side} {_before(base.get(f'{side}_mean_logp'))}{fmt_num(tuned.get(f'{side}_mean_logp'))}"
            for side in ("desirable", "undesirable"))
    else:
        figure = f"eval loss {fmt_float(final.eval_loss)}"
    forgetting = final.report.get("forgetting") or {}
    if pref and forgetting.get("ratio") is not None:
        figure += f", forgetting probe: {forgetting.get('level', 'unknown')} ({forgetting['ratio']:.2f}x perplexity)"
    return figure


def _before(value: float | None) -> str:
    return f"{fmt_num(value)} -> " if value is not None else ""
