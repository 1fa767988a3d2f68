"""Trainer callbacks that turn training progress into events.jsonl lines."""

from __future__ import annotations

import resource
import time

from transformers import TrainerCallback

from tuneui.training.events import EventWriter


def memory_bytes() -> int:
    """Peak accelerator memory when there is one, else this process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class EventsCallback(TrainerCallback):
    def __init__(self, writer: EventWriter, collator, evaluate_fn=None, eval_steps: int = 0):
        self.writer = writer
        self.collator = collator
        self.evaluate_fn = evaluate_fn
        self.eval_steps = eval_steps
        self._t = time.perf_counter()
        self._tokens = 0
        self.losses: list[tuple[int, float]] = []
        self.evals: list[tuple[int, float]] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()
        self._tokens = self.collator.tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return
        now = time.perf_counter()
        tokens = self.collator.tokens_seen - self._tokens
        # Every process sees its own share of the batch; the throughput is the whole job's.
        tps = tokens * max(args.world_size, 1) / max(now - self._t, 1e-9)
        self._t, self._tokens = now, self.collator.tokens_seen
        loss = float(logs["loss"])
        self.losses.append((state.global_step, loss))
        self.writer.emit(
            "step", state.global_step, loss=loss, lr=logs.get("learning_rate"),
            grad_norm=logs.get("grad_norm"), epoch=round(state.epoch or 0.0, 4),
            tokens_per_s=round(tps, 1), mem_bytes=memory_bytes(), total_steps=state.max_steps,
        )

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.evaluate_fn and self.eval_steps and state.global_step % self.eval_steps == 0 \
                and state.global_step < state.max_steps:
            self.run_eval(state.global_step, model)

    def run_eval(self, step: int, model) -> float | None:
        t = time.perf_counter()
        loss = self.evaluate_fn(model)
        if loss is not None:
            self.evals.append((step, loss))
            self.writer.emit("eval", step, eval_loss=loss)
        # Evaluation time is not training throughput.
        self._t += time.perf_counter() - t
        return loss
