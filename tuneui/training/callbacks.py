"""The Trainer subclass and callbacks that turn training into events, checkpoints and guards."""

from __future__ import annotations

import contextlib
import math
import re
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from transformers import Trainer, TrainerCallback

from tuneui.contract import events as ev
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import EventWriter
from tuneui.training import checkpoints, savefail
from tuneui.training import resume as resuming
from tuneui.training.guards import (
    DivergenceWatch,
    OverfitWatch,
    RunFailure,
    StopController,
    non_finite_loss,
)
from tuneui.training.lora_variants import LoraPlusMixin
from tuneui.training.preference_watch import PreferenceWatch


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
        except Exception as exc:
            scratch = Path(str(self.args.output_dir)) / f"checkpoint-{self.state.global_step}"
            failure = self._save_failure(exc, scratch.parent)  # first: the free space as the save saw it
            shutil.rmtree(scratch, ignore_errors=True)  # never leave a half-written folder on a full disk
            if failure is None:
                raise
            raise failure from None

    def _save_failure(self, exc: BaseException, target: Path) -> RunFailure | None:
        kept = checkpoints.listed(self.run_dir) if self.run_dir else []
        intact = f"the previous checkpoint {kept[-1].path.name} is intact" if kept else "no earlier checkpoint exists"
        needed = savefail.folder_bytes(kept[-1].path) if kept else savefail.model_checkpoint_bytes(self.model)
        return savefail.classify(exc, what=f"the checkpoint at step {self.state.global_step}", target=target,
                                 needed=needed, intact=intact,
                                 resume_hint=f"continue with `tuneui train {self.run_dir} --resume`")

    # Loading a checkpoint unpickles optimizer, scheduler and RNG states with torch's weights-only
    # loader, which refuses anything but tensors; a refusal becomes one line naming the folder.
    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        with _refused_pickle(resume_from_checkpoint, "the model weights"):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)

    def _load_optimizer_and_scheduler(self, checkpoint):
        with _refused_pickle(checkpoint, "optimizer.pt / scheduler.pt"):
            return super()._load_optimizer_and_scheduler(checkpoint)

    def _load_rng_state(self, checkpoint):
        with _refused_pickle(checkpoint, "rng_state.pth"):
            return super()._load_rng_state(checkpoint)


@contextlib.contextmanager
def _refused_pickle(checkpoint, files: str) -> Iterator[None]:
    import pickle

    try:
        yield
    except pickle.UnpicklingError as exc:
        # torch words it differently by version and pickle protocol; keep its one line that names the culprit
        detail = next((ln.strip().split(". ")[0].removeprefix("WeightsUnpickler error: ")
                       for ln in str(exc).splitlines() if re.search(r"unsupported|blocked|not an allowed", ln, re.I)), "")
        raise ConfigError(f"refused to load {files}: not plain tensor data, it asks to run code"
                          + (f" ({detail.rstrip('.')})" if detail else "")
                          + "; this checkpoint was not written by tuneui or was tampered with",
                          source=str(checkpoint)) from None


# TRL's log keys -> the Step event's fields (present only when a preference objective trains).
PREFERENCE_LOGS = {"rewards/chosen": "rewards_chosen", "rewards/rejected": "rewards_rejected",
                   "rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy", "kl": "kl",
                   "log_odds_chosen": "log_odds_chosen", "log_odds_ratio": "log_odds_ratio", "nll_loss": "nll_loss"}


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
        # The whole run's summed step losses, carried through checkpoints, so a resumed run reports
        # the same mean training loss as an uninterrupted one (the Trainer's covers one session).
        self.loss_sum, self.loss_steps = 0.0, 0
        self.preference = PreferenceWatch()  # fed only by preference runs
        self._t = time.perf_counter()
        self._tokens = 0

    # -- logging -----------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()
        self._tokens = self.collator.tokens_seen
        # The first `step` event comes only when that step is done (seconds to minutes on a CPU): said now,
        # the console and the training screen show that training has begun rather than a silent wait.
        self.writer.emit(ev.Preparing(step=state.global_step, message=f"training: step {state.global_step + 1} "
                                      f"of {state.max_steps} running"))

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return
        now = time.perf_counter()
        tokens = self.collator.tokens_seen - self._tokens
        # Every process sees its own share of the batch; the throughput is the whole job's.
        tps = tokens * max(args.world_size, 1) / max(now - self._t, 1e-9)
        self._t, self._tokens = now, self.collator.tokens_seen
        self.preference.note_step(logs.get("rewards/margins"))
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
            self.loss_sum += loss
            self.loss_steps += 1
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
                final = checkpoints.finalize(scratch, self.run_dir, state.global_step, self.cfg,
                                             {"train_loss_sum": self.loss_sum, "train_loss_steps": self.loss_steps})
                checkpoints.rotate(self.run_dir, self.cfg.save_total_limit)
            except Exception as exc:
                failure = self.trainer._save_failure(exc, scratch.parent) if self.trainer else None
                shutil.rmtree(scratch, ignore_errors=True)
                if failure is None:
                    raise
                raise failure from None
            self.writer.emit(ev.Checkpoint(step=state.global_step, path=str(final)))
        _barrier()
        if self.stop.requested.is_set():  # asked during the save: stop on this checkpoint, not one step later
            control.should_training_stop = True

    def carry_over(self, ckpt: checkpoints.Checkpoint) -> None:
        """Continue the run's loss sum and its preference alerts' history from the checkpoint resumed from."""
        facts = checkpoints.manifest(ckpt.path)
        if isinstance(facts.get("train_loss_steps"), int):
            self.loss_sum, self.loss_steps = float(facts["train_loss_sum"]), facts["train_loss_steps"]
        # Nothing new persisted: the validations are in events.jsonl, and those past the checkpoint are measured again.
        self.preference.replay(resuming.events_until(ev.read_events(self.run_dir), ckpt.step))

    def mean_loss(self) -> float | None:
        return self.loss_sum / self.loss_steps if self.loss_steps else None

    # -- evaluation ----------------------------------------------------------------------------------
    def run_eval(self, step: int, model, control=None) -> float | None:
        if not self.evaluate_fn:
            return None
        t = time.perf_counter()
        loss = self.evaluate_fn(model)
        self._t += time.perf_counter() - t  # evaluation time is not training throughput
        if isinstance(loss, dict):  # a preference run's validation figures (tuneui.training.preference_validation)
            self.writer.emit(ev.Eval(step=step, **loss))
            self._to_trackers(loss)
            for reason, advice in self.preference.note_eval(step, loss):
                self.writer.emit(ev.Warning(step=step, reason=reason, advice=advice))
            return None
        if loss is None:
            return None
        self.writer.emit(ev.Eval(step=step, eval_loss=loss))
        self._to_trackers({"eval_loss": loss})
        warning = self.overfit.update(loss, self.last_train_loss)
        if warning:
            advice = ("stop here or lower epochs; more data or a smaller learning rate also help"
                      if not self.cfg.early_stopping_patience else "early stopping will keep the best weights")
            self.writer.emit(ev.Warning(step=step, reason=warning, advice=advice))
        if self.cfg.early_stopping_patience:
            self._track_best(step, loss, model, control)
        return loss

    def _to_trackers(self, figures: dict) -> None:
        """The periodic validation to the run's trackers (report_to), as the Trainer's own evaluation would log it:
        `eval_`-prefixed names, which the wandb, trackio and TensorBoard integrations show as eval/<name>
        (eval/loss, eval/pref_accuracy, ...) at the current step."""
        trainer = self.trainer
        if trainer is None or not trainer.args.report_to:
            return
        logs = {name if name.startswith("eval_") else f"eval_{name}": float(value)
                for name, value in figures.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
        # The callbacks directly, not Trainer.log: TRL's DPO/KTO log() would fold the training metrics gathered
        # since the last logging step into these and clear them, changing the next `step` event's rewards. The
        # handler clears should_log, which the Trainer reads after on_step_end to log this step: kept as it was.
        should_log = trainer.control.should_log
        trainer.callback_handler.on_log(trainer.args, trainer.state, trainer.control, logs)
        trainer.control.should_log = should_log

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
