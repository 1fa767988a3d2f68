"""The base model's half of report.json, measured after training so that the first step does not wait for it.

Before training only what costs nothing is taken: the figures a resumed run already wrote (base_eval.json)
or those of an earlier run on the same base, data and settings (the cache of `run_eval.cached_base`).
Everything else is measured once the tuned model is saved and evaluated, on a model that is exactly the
base the run started from:

- LoRA, QLoRA, 8-bit LoRA, DoRA, rsLoRA with peft's default or gaussian init: the adapter switched off
  (`disable_adapter()`). At init B = 0 (and DoRA's magnitude reproduces the weight), so the fresh adapter
  added nothing; the frozen (possibly quantised) base weights are the ones training used.
- PiSSA and OLoRA rewrite the base weights at init (W - BA stays in the base): with the adapter off the
  model is not the original. Their base is measured before training, as it always was.
- full and freeze: the trained weights replaced the base. DPO/KTO's trainer keeps an untouched reference
  copy, used when there; otherwise the trained model is freed and the base is loaded again.

A preference run's base figures (its ranking of the held-out replies and the forgetting probe, measured on
the same base model as above) are not cached: the ranking has no cache key (the key covers SFT's encoded
examples), and the probe alone (about 3,000 characters of prose: a few 256-token windows, one batched forward
pass) costs next to nothing once the base is in memory for the ranking anyway.

A stop during this evaluation ends the run at once (the adapter is already saved): report.json is then
written with the base figures missing and a warning says so.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator
from typing import Any

from tuneui.contract import events as ev
from tuneui.contract.fsutil import atomic_write_text
from tuneui.training.guards import StopRequested

TrainingRun = Any  # tuneui.training.runner.TrainingRun, which imports this module (no cycle for the type)

BASE_EVAL = "base_eval.json"


def measured_before_training(cfg) -> bool:
    """The techniques whose base no longer exists in memory once training has begun (see the module doc)."""
    from tuneui.training.lora_variants import REWRITES_BASE, LoraVariant

    return cfg.uses_peft and LoraVariant.from_config(cfg).lora_init in REWRITES_BASE


class BaseEvaluation:
    """Where a run's base figures come from, and when they are measured (see the module doc)."""

    def __init__(self, run: TrainingRun):
        self.run = run
        self.path = run.run_dir / BASE_EVAL
        self._key: str | None = None

    # -- before training: only what is free --------------------------------------------------
    def known(self) -> dict | None:
        """The figures without measuring anything (a resumed run's file, or the cache), else None."""
        if self.run.resume and self.path.exists():
            try:
                return json.loads(self.path.read_text())
            except (OSError, ValueError):
                pass  # a damaged file is measured again
        if self.run.cfg.objective != "sft":
            return None  # preference figures are not cached (the module doc says why)
        from tuneui.eval_cache import load_base_eval

        hit = load_base_eval(self.key())
        if hit is None:
            return None
        return self._keep(dict(hit, cached=True))

    def key(self) -> str:
        from tuneui.modelload import compute_dtype
        from tuneui.training.run_eval import base_key, quantization_of

        if self._key is None:
            run, cfg = self.run, self.run.cfg
            self._key = base_key(cfg, run.model_path, run.val_examples, run._prompts(), limit=cfg.eval_max_examples,
                                 quantization=quantization_of(cfg), dtype=str(compute_dtype(cfg)))
        return self._key

    # -- measuring -----------------------------------------------------------------------------
    def measure(self, model: Any) -> dict:
        """`model` is the untouched base: its figures, stored in the cache (sft) and in base_eval.json."""
        from tuneui.training.run_eval import cached_base

        compute = lambda: self.run.evaluate(model, progress=progress(self.run, "base evaluation"))  # noqa: E731
        if self.run.cfg.objective != "sft":
            return self._keep(compute())
        figures, cached = cached_base(self.key(), compute)
        return self._keep(dict(figures, cached=cached))

    def after_training(self) -> dict:
        """Measured on the base recovered from the trained run (the module doc says how, per technique).
        A stop here writes what is known and re-raises: the caller ends the run as stopped."""
        run = self.run
        run.set_phase("base evaluation")
        self._say("base evaluation: measuring the base model for the comparison (the adapter is saved)"
                  if run.cfg.uses_peft else "base evaluation: measuring the base model for the comparison")
        try:
            with self._base_model() as model:
                return self.measure(model)
        except StopRequested:
            run.events.emit(ev.Warning(
                step=run.step, reason="stopped during the base evaluation: the base model was not measured, so "
                                      "report.json has no base figures to compare with",
                advice=f"`tuneui evaluate {run.run_dir}` measures base and tuned later"))
            raise

    @contextlib.contextmanager
    def _base_model(self) -> Iterator[Any]:
        run = self.run
        if run.cfg.uses_peft:
            with run.model.disable_adapter():
                yield run.model
            return
        from transformers import PreTrainedModel

        ref = getattr(run.trainer, "ref_model", None)  # DPO/KTO full fine-tune: TRL loaded the base as reference
        if isinstance(ref, PreTrainedModel):  # (not when a DeepSpeed/FSDP wrapper holds it)
            yield ref
            return
        _free_trained(run)
        from tuneui.training.model_setup import build_model

        yield build_model(run.cfg, run.tokenizer, path=run.model_path)  # start_from: the run it started from

    # -- telling -------------------------------------------------------------------------------
    def _say(self, message: str) -> None:
        self.run.events.emit(ev.Preparing(step=self.run.step, message=message))

    def _keep(self, figures: dict) -> dict:
        if self.run.is_main:
            atomic_write_text(self.path, json.dumps(figures, default=str))
        return figures


def _free_trained(run: TrainingRun) -> None:
    """Drop the trained model and its optimizer state (saved and evaluated by now) before the base is loaded
    again: the peak is then one model, as during training, not two plus the optimizer's moments."""
    trainer = run.trainer
    run.model = trainer.model = trainer.model_wrapped = None
    trainer.optimizer = trainer.lr_scheduler = None
    accelerator = getattr(trainer, "accelerator", None)
    if accelerator is not None:
        accelerator.free_memory()
    gc.collect()


def progress(run: TrainingRun, phase: str) -> Callable[[str], None]:
    """An evaluation's progress as the run's phase (run.lock: `tuneui runs`) and as `preparing` events
    (the training screen's title, the headless console): "base evaluation: 16/64 prompts answered"."""

    def say(what: str) -> None:
        run.set_phase(f"{phase}: {what}")
        run.events.emit(ev.Preparing(step=run.step, message=f"{phase}: {what}"))

    return say
