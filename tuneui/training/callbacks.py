"""The Trainer subclass and callbacks that turn training into events, checkpoints and guards."""

from __future__ import annotations

import math
import resource
import shutil
import time
from pathlib import Path

from transformers import Trainer, TrainerCallback

from tuneui.contract import events as ev
from tuneui.contract.events import EventWriter
from tuneui.training import checkpoints
from tuneui.training.guards import (
    DivergenceWatch,
    OverfitWatch,
    RunFailure,
    StopController,
    non_finite_loss,
)
from tuneui.training.lora_variants import LoraPlusMixin


def memory_bytes() -> int:
    """Peak accelerator memory when there is one, else this process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class TuneTrainer(LoraPlusMixin, Trainer):
    """Trainer that checks every micro-batch loss and makes checkpoint-write failures explicit; with
    loraplus_lr_ratio set its optimizer gives the LoRA B matrices that many times the learning rate."""

    def __init__(self, *args, run_cfg=None, run_dir: Path | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_cfg = run_cfg
        self.run_dir = run_dir
        self.loraplus_lr_ratio = getattr(run_cfg, "loraplus_lr_ratio", None)
        self.micro_losses: list[float] = []

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        value = float(loss)
        if not math.isfinite(value):
            raise non_finite_loss(self.state.global_step + 1, value, self.run_cfg)
        self.micro_losses.append(value)
        return loss

    def pop_step_loss(self) -> float | None:
        # Each micro-batch returns its share of the step's loss; their sum is the step loss.
        if not self.micro_losses:
            return None
        total = sum(self.micro_losses)
        self.micro_losses.clear()
        return total

    def _save_checkpoint(self, model, trial):
        try:
            return super()._save_checkpoint(model, trial)
        except OSError as exc:
            scratch = Path(str(self.args.output_dir)) / f"checkpoint-{self.state.global_step}"
            shutil.rmtree(scratch, ignore_errors=True)
            kept = checkpoints.listed(self.run_dir) if self.run_dir else []
            intact = f"the previous checkpoint {kept[-1].path.name} is intact" if kept else "no earlier checkpoint exists"
            raise RunFailure(
                f"could not write the checkpoint at step {self.state.global_step}: {exc.strerror or exc} "
                f"({exc.filename or self.args.output_dir}); {intact}",
                "free disk space or make the output directory writable, then continue with "
                f"`tuneui train {self.run_dir} --resume`",
            ) from None


# TRL's log keys -> the Step event's fields (present only when a preference objective trains).
PREFERENCE_LOGS = {"rewards/chosen": "rewards_chosen", "rewards/rejected": "rewards_rejected",
                   "rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy", "kl": "kl"}


def preference_fields(logs: dict) -> dict:
    return {ours: float(logs[theirs]) for theirs, ours in PREFERENCE_LOGS.items() if theirs in logs}


class RunCallback(TrainerCallback):
    """Step/eval events, divergence and overfitting watch, checkpoints, graceful stop, early stopping."""

    def __init__(self, *, cfg, run_dir: Path, writer: EventWriter, collator, is_main: bool,
                 stop: StopController, evaluate_fn=None):
        self.cfg, self.run_dir, self.writer, self.collator = cfg, run_dir, writer, collator
        self.is_main, self.stop, self.evaluate_fn = is_main, stop, evaluate_fn
        self.trainer: TuneTrainer | None = None
        self.divergence = DivergenceWatch(cfg.divergence_factor, cfg.divergence_patience)
        self.overfit = OverfitWatch(cfg.overfit_patience)
        self.best_state: dict | None = None
        self.best_step: int | None = None
        self.evals_since_best = 0
        self.last_train_loss: float | None = None
        self.stopped_early = False
        self._t = time.perf_counter()
        self._tokens = 0

    # -- logging -----------------------------------------------------------------------------------
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
        self.writer.emit(
            ev.Step(step=state.global_step, loss=float(logs["loss"]), lr=logs.get("learning_rate"),
            grad_norm=logs.get("grad_norm"), epoch=round(state.epoch or 0.0, 4),
            tokens_per_s=round(tps, 1), mem_bytes=memory_bytes(), total_steps=state.max_steps,
            **preference_fields(logs),
        ))

    # -- per optimizer step --------------------------------------------------------------------------
    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        loss = self.trainer.pop_step_loss() if self.trainer else None
        if loss is not None:
            self.last_train_loss = loss
            problem = self.divergence.update(step, loss)
            if problem:
                raise RunFailure(problem, "lower learning_rate (try a third of it), keep max_grad_norm at 1.0, "
                                          "and check the data for broken examples")
        last = step >= state.max_steps
        if self.cfg.eval_steps and step % self.cfg.eval_steps == 0 and not last:
            self.run_eval(step, model, control)
        if self.stop.requested.is_set():
            control.should_save = True
            control.should_training_stop = True
        elif (self.cfg.save_steps and step % self.cfg.save_steps == 0) or last or control.should_training_stop:
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        _barrier()  # every rank has written its part (RNG state) before the folder is sealed
        if self.is_main:
            scratch = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            try:
                final = checkpoints.finalize(scratch, self.run_dir, state.global_step, self.cfg)
                checkpoints.rotate(self.run_dir, self.cfg.save_total_limit)
            except OSError as exc:
                shutil.rmtree(scratch, ignore_errors=True)
                raise RunFailure(f"could not seal the checkpoint at step {state.global_step}: {exc}",
                                 "free disk space, then continue with --resume") from None
            self.writer.emit(ev.Checkpoint(step=state.global_step, path=str(final)))
        _barrier()

    # -- evaluation ----------------------------------------------------------------------------------
    def run_eval(self, step: int, model, control=None) -> float | None:
        if not self.evaluate_fn:
            return None
        t = time.perf_counter()
        loss = self.evaluate_fn(model)
        self._t += time.perf_counter() - t  # evaluation time is not training throughput
        if loss is None:
            return None
        self.writer.emit(ev.Eval(step=step, eval_loss=loss))
        warning = self.overfit.update(loss, self.last_train_loss)
        if warning:
            advice = ("stop here or lower epochs; more data or a smaller learning rate also help"
                      if not self.cfg.early_stopping_patience else "early stopping will keep the best weights")
            self.writer.emit(ev.Warning(step=step, reason=warning, advice=advice))
        if self.cfg.early_stopping_patience:
            self._track_best(step, loss, model, control)
        return loss

    def _track_best(self, step, loss, model, control) -> None:
        if loss <= min(self.overfit.evals):  # overfit.evals already holds this evaluation
            self.best_step, self.evals_since_best = step, 0
            self.best_state = {k: v.detach().to("cpu", copy=True)
                               for k, v in model.named_parameters() if v.requires_grad}
            return
        self.evals_since_best += 1
        if self.evals_since_best >= self.cfg.early_stopping_patience and control is not None:
            self.stopped_early = True
            control.should_training_stop = True
            self.writer.emit(ev.Warning(step=step, reason=f"early stopping: no better eval loss for "
                             f"{self.evals_since_best} evaluations; keeping the weights of step {self.best_step}",
                             advice=""))

    def restore_best(self, model) -> int | None:
        """Put the best-eval weights back (early stopping keeps them as the final adapter)."""
        if not self.best_state:
            return None
        params = dict(model.named_parameters())
        for name, value in self.best_state.items():
            params[name].data.copy_(value.to(params[name].device))
        return self.best_step
