"""One training run, in this process: setup, train, save, evaluate, report (torchtune-style steps).

Whoever started the process follows `events.jsonl`; the exit code says how it ended
(0 finished, 1 the run failed, 2 bad input, 130 stopped by the user).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tuneui.contract import events as ev
from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError, TuneuiError
from tuneui.contract.events import EventWriter
from tuneui.contract.fsutil import atomic_dir, atomic_write_text
from tuneui.contract.rundir import PID_FILE
from tuneui.training import checkpoints
from tuneui.training.guards import RunFailure, StopController

BASE_EVAL = "base_eval.json"


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


class TrainingRun:
    def __init__(self, cfg: RunConfig, run_dir: Path, *, resume: bool = False):
        self.cfg = cfg
        self.run_dir = Path(run_dir).resolve()  # report.json and events name it; absolute wherever read from
        self.resume = resume
        self.is_main = _rank() == 0
        self.events = EventWriter(self.run_dir, enabled=self.is_main)
        self.stop = StopController(on_immediate=self._stopped_now)
        self.notes: list[str] = []
        self.started = time.time()
        self.trainer: Any = None  # the HF Trainer, built in train()
        self.resume_from: checkpoints.Checkpoint | None = None

    def _stopped_now(self, signame: str) -> None:
        self.events.emit(ev.Stopped(step=self.step, reason=f"second {signame}: stopped immediately",
                         checkpoint=self._last_checkpoint()))

    @property
    def step(self) -> int:
        return self.trainer.state.global_step if self.trainer is not None else 0

    def _last_checkpoint(self) -> str | None:
        kept = checkpoints.listed(self.run_dir)
        return str(kept[-1].path) if kept else None

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        from transformers import set_seed

        from tuneui.modelload import load_tokenizer
        from tuneui.training.dataset import (
            encode_all,
            make_collator,
            prepare_run_data,
            read_split,
        )
        from tuneui.training.model_setup import build_model, count_parameters

        cfg = self.cfg
        if self.resume:
            self.resume_from = checkpoints.newest_complete(
                self.run_dir, warn=lambda r: self.events.emit(ev.Warning(step=0, reason=r, advice="")))
            if self.resume_from is None:
                raise ConfigError(f"{self.run_dir}: no complete checkpoint to resume from; "
                                  f"start the run again without --resume (or with -o NEW_DIR)")
            checkpoints.check_compatible(self.resume_from.path, cfg)
        set_seed(cfg.seed)
        self.model_path = self._fetch_model()
        self.tokenizer = load_tokenizer(cfg, notes=self.notes)
        if self.resume:
            self.data = read_split(self.run_dir)  # exactly the examples the interrupted run used
        else:
            self.data = prepare_run_data(cfg, self.run_dir, write=self.is_main)
        self.train_examples, self.train_stats = encode_all(self.tokenizer, self.data.train, cfg.max_seq_length)
        self.val_examples, self.val_stats = encode_all(self.tokenizer, self.data.val, cfg.max_seq_length)
        if not self.train_examples:
            raise TuneuiError(
                f"no trainable examples: all {self.train_stats.total} lost every reply token to truncation at "
                f"max_seq_length={cfg.max_seq_length} (raise max_seq_length)", source=cfg.dataset)
        for note in self.notes:
            self.events.emit(ev.Warning(step=0, reason=note, advice=""))
        if self.train_stats.dropped_all_masked:
            self.events.emit(
                ev.Warning(step=0,
                reason=f"{self.train_stats.dropped_all_masked} of {self.train_stats.total} training examples "
                       f"dropped: no reply tokens left after truncation to {cfg.max_seq_length} tokens",
                advice="raise max_seq_length or shorten the prompts"))
        self.collator = make_collator(cfg, self.tokenizer)
        set_seed(cfg.seed)
        self.model = build_model(cfg, self.tokenizer)
        self.trainable_params, self.total_params = count_parameters(self.model)

    def _fetch_model(self) -> str:
        """The base model's folder; the demo model is fetched and converted here on first use, with
        what is happening said in events.jsonl and on the console (it takes about a minute)."""
        from tuneui.modelload import resolve_model

        def say(message: str) -> None:
            self.events.emit(ev.Preparing(message=message))
            if self.is_main:
                print(f"tuneui: {message}", file=sys.stderr, flush=True)

        return resolve_model(self.cfg.model, say=say)

    def _trainer(self, callbacks: list):
        from transformers.trainer_callback import PrinterCallback

        from tuneui.training.arguments import training_arguments
        from tuneui.training.callbacks import TuneTrainer

        cfg = self.cfg
        args = training_arguments(cfg, self.run_dir)
        train = self.train_examples
        if not cfg.packing:
            train = [dict(e, length=len(e["input_ids"])) for e in train]
        trainer = TuneTrainer(model=self.model, args=args, train_dataset=train, data_collator=self.collator,
                              callbacks=callbacks, run_cfg=cfg, run_dir=self.run_dir)
        trainer.remove_callback(PrinterCallback)  # events.jsonl and our own console lines replace it
        return trainer

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, model) -> dict:
        from tuneui.training.run_eval import evaluate_for_run

        return evaluate_for_run(self.cfg, model, self.tokenizer, self.val_examples, self.data.val)

    def _val_loss(self, model) -> float | None:
        from tuneui.evaluate import eval_loss
        from tuneui.training.dataset import PaddingCollator

        return eval_loss(model, self.val_examples, PaddingCollator(self.tokenizer.pad_token_id))

    def _base_metrics(self) -> dict:
        from tuneui.modelload import compute_dtype
        from tuneui.training.run_eval import base_key, cached_base, quantization_of

        path = self.run_dir / BASE_EVAL
        if self.resume and path.exists():
            return json.loads(path.read_text())
        # The untrained model is the base (a fresh LoRA adapter adds exactly zero), and the same
        # base on the same data was often measured by an earlier run: its figures are reused.
        key = base_key(self.cfg, self.model_path, self.val_examples, self.data.val,
                       limit=self.cfg.eval_max_examples, quantization=quantization_of(self.cfg),
                       dtype=str(compute_dtype(self.cfg)))
        base, cached = cached_base(key, lambda: self.evaluate(self.model))
        base["cached"] = cached
        atomic_write_text(path, json.dumps(base, default=str))
        return base

    # -- train -------------------------------------------------------------------------------------
    def train(self) -> dict:
        from tuneui.training.callbacks import RunCallback

        cfg = self.cfg
        self.events.emit(
            ev.Started(step=self.resume_from.step if self.resume_from else 0, run_dir=str(self.run_dir),
            model=cfg.model, technique=cfg.technique, total_steps=self._total_steps(),
            train_examples=len(self.train_examples), val_examples=len(self.val_examples),
            dropped_examples=self.train_stats.dropped_all_masked, truncated_examples=self.train_stats.truncated,
            trainable_params=self.trainable_params, total_params=self.total_params,
            resumed_from=str(self.resume_from.path) if self.resume_from else None, pid=os.getpid(),
        ))
        base = self._base_metrics() if self.is_main else {}
        if self.is_main and not self.resume and base.get("eval_loss") is not None:
            self.events.emit(ev.Eval(step=0, eval_loss=base["eval_loss"], base=True))
        self.callback = RunCallback(cfg=cfg, run_dir=self.run_dir, writer=self.events, collator=self.collator,
                                    is_main=self.is_main, stop=self.stop,
                                    evaluate_fn=self._val_loss if self.is_main else None)
        self.trainer = self._trainer([self.callback])
        self.callback.trainer = self.trainer
        result = self.trainer.train(
            resume_from_checkpoint=str(self.resume_from.path) if self.resume_from else None)
        self.train_loss = float(result.training_loss)
        return base

    def _total_steps(self) -> int:
        import math

        if self.cfg.max_steps > 0:
            return self.cfg.max_steps
        world = int(os.environ.get("WORLD_SIZE", "1"))
        per_epoch = math.ceil(len(self.train_examples) / (self.cfg.micro_batch_size * world))
        per_epoch = math.ceil(per_epoch / self.cfg.gradient_accumulation_steps)
        return int(math.ceil(per_epoch * self.cfg.epochs))

    # -- save --------------------------------------------------------------------------------------
    def save_final(self) -> Path:
        """adapter/ (PEFT safetensors, or the full model for full/freeze) + tokenizer, atomically."""
        out = self.run_dir / "adapter"
        with atomic_dir(out) as tmp:
            model = self.trainer.accelerator.unwrap_model(self.model)
            model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
        return out

    def finish(self, base: dict) -> dict:
        from tuneui.evaluate import build_report

        best_step = self.callback.restore_best(self.model) if self.cfg.early_stopping_patience else None
        adapter = self.save_final()
        tuned = self.evaluate(self.model)
        report = build_report(base, tuned)
        report.update(
            technique=self.cfg.technique, model=self.cfg.model, train_loss=self.train_loss,
            steps=self.trainer.state.global_step, best_step=best_step, stopped_early=self.callback.stopped_early,
            wall_time_s=round(time.time() - self.started, 1), adapter=str(adapter), model_path=str(self.model_path),
            base_eval_cached=bool(base.get("cached")),
            data=self.data.report, encode={"train": self.train_stats.to_dict(), "val": self.val_stats.to_dict()},
        )
        atomic_write_text(self.run_dir / "report.json", json.dumps(report, indent=2, default=str))
        return report


def oom_advice(cfg: RunConfig) -> str:
    from tuneui.training.fit_probe import step_down

    smaller = step_down(cfg)
    if smaller is None:
        return "this is already the smallest setup; use a GPU with more memory or a smaller model"
    changes = [f"{f} = {getattr(smaller, f)!r}" for f in RunConfig.model_fields
               if getattr(smaller, f) != getattr(cfg, f)]
    return "try the next smaller setup: " + ", ".join(changes) + " (then --resume, or start again)"


def run_training(cfg: RunConfig, run_dir: str | Path, *, resume: bool = False) -> int:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run = TrainingRun(cfg, run_dir, resume=resume)
    if run.is_main:
        cfg.save(run_dir / "run.toml")  # on resume too: --set overrides (e.g. more steps) are part of the run
        atomic_write_text(run_dir / PID_FILE, str(os.getpid()))
    run.stop.install()
    try:
        run.setup()
        base = run.train()
        if run.stop.requested.is_set():
            run.events.emit(ev.Stopped(step=run.step, reason=f"stopped by {run.stop.signal_name}",
                            checkpoint=run._last_checkpoint(),
                            advice=f"continue with `tuneui train {run_dir} --resume`"))
            return 130
        if not run.is_main:
            return 0
        report = run.finish(base)
        run.events.emit(ev.Finished(step=run.step, train_loss=run.train_loss, eval_loss=report["eval_loss"]["tuned"],
                        adapter_path=report["adapter"], report=report_summary(report)))
        return 0
    except TuneuiError as exc:
        run.events.emit(ev.Failed(step=run.step, reason=str(exc), advice="fix the input named above and start again"))
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RunFailure as exc:
        run.events.emit(ev.Failed(step=run.step, reason=exc.reason, advice=exc.advice))
        print(f"tuneui: run failed: {exc.reason}\n  advice: {exc.advice}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - any crash must end as a `failed` event, not silence
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            reason, advice = f"out of memory at step {run.step}: {str(exc).splitlines()[0]}", oom_advice(cfg)
        else:
            traceback.print_exc()
            reason, advice = f"{type(exc).__name__}: {exc}", "see train.log in the run directory for the traceback"
        run.events.emit(ev.Failed(step=run.step, reason=reason, advice=advice))
        print(f"tuneui: run failed: {reason}\n  advice: {advice}", file=sys.stderr)
        return 1
    finally:
        run.stop.uninstall()
        if run.is_main:
            (run_dir / PID_FILE).unlink(missing_ok=True)


def report_summary(report: dict) -> dict:
    return {k: report[k] for k in ("task_metric", "eval_loss", "perplexity", "token_f1", "forgetting") if k in report}
