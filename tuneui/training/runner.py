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
from tuneui.contract.errors import TuneuiError
from tuneui.contract.events import EventWriter
from tuneui.contract.fsutil import atomic_dir, atomic_write_text
from tuneui.contract.rundir import LOG_FILE, PID_FILE
from tuneui.contract.runlock import RunLock
from tuneui.training import checkpoints
from tuneui.training import resume as resuming
from tuneui.training.guards import RunFailure, StopController, StopRequested
from tuneui.training.run_outcome import claim, oom_advice, report_summary
from tuneui.training.run_trackers import log_to_trackers, setup_trackers


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


class TrainingRun:
    def __init__(self, cfg: RunConfig, run_dir: Path, *, resume: bool = False, lock: RunLock | None = None):
        self.cfg = cfg
        self.lock = lock
        self.phase = "starting"
        self.run_dir = Path(run_dir).resolve()  # report.json and events name it; absolute wherever read from
        self.resume = resume
        self.is_main = _rank() == 0
        self.events = EventWriter(self.run_dir, enabled=self.is_main)
        self.stop = StopController(on_immediate=self._stopped_now, on_graceful=self._stopping)
        self.notes: list[str] = []
        self.started = time.time()
        self.trainer: Any = None  # the HF Trainer, built in train()
        self.resume_from: checkpoints.Checkpoint | None = None
        self.trackers: Any = None  # tuneui.trackers.TrackerPlan on the main process when report_to is set
        self.initial_adapter: Path | None = None  # PiSSA/OLoRA: what adapter/ is converted against
        self.finish_only = False  # resumed at or past the last step: only save, evaluate, report
        self.start: dict | None = None  # start_from: the finished run this one starts from, resolved

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        if self.lock is not None:
            try:
                self.lock.set_phase(phase)
            except OSError:
                pass  # a full disk must not turn a phase note into a crash

    def _stopped_now(self, signame: str) -> None:
        self.events.emit(ev.Stopped(step=self.step, reason=f"second {signame}: stopped immediately",
                         checkpoint=self._last_checkpoint()))

    def _stopping(self, signame: str) -> None:
        # Said at once, so whoever sent the signal sees it was heard while the step in flight ends.
        try:
            self.events.emit(ev.Warning(step=self.step, reason=f"{signame} received: finishing the current step, "
                                        "then a checkpoint and stop", advice="send it again to stop at once "
                                        "(the step in progress is then lost)"))
        except OSError:
            pass

    @property
    def step(self) -> int:
        return self.trainer.state.global_step if self.trainer is not None else 0

    def _last_checkpoint(self) -> str | None:
        kept = checkpoints.listed(self.run_dir)
        return str(kept[-1].path) if kept else None

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        from transformers import set_seed

        from tuneui.data.template_check import render_options
        from tuneui.modelload import load_tokenizer
        from tuneui.training.dataset import make_collator, prepare_run_data, read_split, split_complete
        from tuneui.training.model_setup import build_model, count_parameters

        cfg = self.cfg
        setup_trackers(self)
        if self.resume:
            point = resuming.find_resume_point(
                self.run_dir, cfg, warn=lambda r: self.events.emit(ev.Warning(step=0, reason=r, advice="")))
            self.resume_from = point.checkpoint
        set_seed(cfg.seed)
        # The data first: what this run cannot train is refused before a model or tokenizer is fetched.
        self.set_phase("preparing data")
        if self.resume_from is not None or (self.resume and split_complete(self.run_dir)):
            self.data = read_split(self.run_dir)  # exactly the examples the interrupted run used
        else:
            self.data = prepare_run_data(cfg, self.run_dir, write=self.is_main)
        self.notes += self.data.report.get("warnings", [])
        self.set_phase("fetching the model")
        self.model_path = self._fetch_model()
        self.set_phase("loading the tokenizer")
        self.tokenizer = load_tokenizer(cfg, notes=self.notes)
        if cfg.start_from:
            from tuneui.training.start_from import resolve

            self.set_phase("preparing the run to start from")
            self.start = resolve(cfg, self.run_dir, self.tokenizer, write=self.is_main, say=self._say)
            self.model_path = self.start["model_path"]
        log_to_trackers(self, "start")
        self.set_phase("tokenising")
        options = render_options(cfg)
        if cfg.objective == "sft":
            self._encode_sft(options)
        else:
            from tuneui.training.preference import encode_run_data

            (self.train_examples, self.train_stats,
             self.val_examples, self.val_stats) = encode_run_data(cfg, self.tokenizer, self.data, options)
        if not self.train_examples:
            raise TuneuiError(f"no trainable examples: all {self.train_stats.total} were refused by the loss "
                              f"masking: {self.train_stats.summary()}", source=cfg.dataset)
        for note in self.notes:
            self.events.emit(ev.Warning(step=0, reason=note, advice=""))
        for name, stats in (("training", self.train_stats), ("validation", self.val_stats)):
            if stats.dropped:
                self.events.emit(ev.Warning(
                    step=0, reason=f"{stats.dropped} of {stats.total} {name} examples dropped by the loss masking: "
                                   f"{stats.summary()}",
                    advice=stats.advice(cfg.max_seq_length)))
        if cfg.objective == "sft":
            self.collator = make_collator(cfg, self.tokenizer)
        else:
            from tuneui.training import preference

            self.collator = preference.make_collator(cfg, self.tokenizer)
        self.set_phase("loading the model")
        set_seed(cfg.seed)
        self.model = build_model(cfg, self.tokenizer, path=self.model_path)
        if self.is_main and cfg.uses_peft:
            from tuneui.training.lora_variants import LoraVariant, snapshot_initial

            self.initial_adapter = snapshot_initial(self.model, LoraVariant.from_config(cfg), self.run_dir)
        self.trainable_params, self.total_params = count_parameters(self.model)

    def _encode_sft(self, options) -> None:
        from tuneui.data.template_check import refuse_if_rejected
        from tuneui.training.dataset import encode_all

        cfg = self.cfg
        train_tools, val_tools = self.data.train_tools or None, self.data.val_tools or None
        if self.data.train_origins is not None and self.data.val_origins is not None:
            # One rendering per example before any tokenizing: a template that rejects the data
            # stops the run here, naming the rows, instead of mid-run with a raw TemplateError.
            refuse_if_rejected(self.tokenizer, [(self.data.train, self.data.train_origins, train_tools),
                                                (self.data.val, self.data.val_origins, val_tools)],
                               options=options, skip=cfg.skip_bad_lines)
        self.train_examples, self.train_stats = encode_all(self.tokenizer, self.data.train, cfg.max_seq_length,
                                                           options=options, tools=train_tools)
        self.val_examples, self.val_stats = encode_all(self.tokenizer, self.data.val, cfg.max_seq_length,
                                                       options=options, tools=val_tools)

    def _fetch_model(self) -> str:
        """The base model's folder; the demo model is fetched and converted here on first use, with
        what is happening said in events.jsonl and on the console (it takes about a minute)."""
        from tuneui.modelload import resolve_model

        return resolve_model(self.cfg.model, say=self._say)

    def _say(self, message: str) -> None:
        self.events.emit(ev.Preparing(message=message))
        if self.is_main:
            print(f"tuneui: {message}", file=sys.stderr, flush=True)

    def _trainer(self, callbacks: list):
        from transformers.trainer_callback import PrinterCallback

        from tuneui.training.arguments import training_arguments
        from tuneui.training.callbacks import TuneTrainer

        cfg = self.cfg
        if cfg.objective != "sft":
            from tuneui.training.preference import build_trainer

            trainer = build_trainer(cfg, self.run_dir, self.model, self.tokenizer, self.train_examples,
                                    self.collator, callbacks)
            trainer.remove_callback(PrinterCallback)
            return trainer
        args = training_arguments(cfg, self.run_dir)
        train = self.train_examples
        if not cfg.packing:
            train = [dict(e, length=len(e["input_ids"])) for e in train]
        trainer = TuneTrainer(model=self.model, args=args, train_dataset=train, data_collator=self.collator,
                              callbacks=callbacks, run_cfg=cfg, run_dir=self.run_dir)
        trainer.remove_callback(PrinterCallback)  # events.jsonl and our own console lines replace it
        return trainer

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, model, progress=None) -> dict:
        from tuneui.training.run_eval import evaluate_for_run

        if self.cfg.objective != "sft":  # how the model ranks the held-out replies (training pairs if none)
            from tuneui.training.run_eval import evaluate_preference_for_run

            return evaluate_preference_for_run(self.cfg, model, self.tokenizer,
                                               self.val_examples or self.train_examples, progress=progress)
        return evaluate_for_run(self.cfg, model, self.tokenizer, self.val_examples, self._prompts(), progress=progress)

    def _prompts(self) -> list:
        """Validation conversations as generation sees them (fold_system folds them as training did)."""
        from tuneui.training.dataset import as_prompted

        return as_prompted(self.cfg, self.data.val)

    def _periodic_eval(self):
        """What RunCallback measures every eval_steps: the validation loss, or a preference run's figures."""
        if self.cfg.objective == "sft":
            return self._val_loss
        from tuneui.contract.config import REFERENCE_FREE_OBJECTIVES
        from tuneui.training.preference import make_collator
        from tuneui.training.preference_validation import PreferenceValidation

        return PreferenceValidation(self.val_examples[:self.cfg.eval_max_examples or None],
                                    make_collator(self.cfg, self.tokenizer), beta=self.cfg.pref_beta,
                                    trainer=lambda: self.trainer,
                                    reference_free=self.cfg.objective in REFERENCE_FREE_OBJECTIVES)

    def _val_loss(self, model) -> float | None:
        from tuneui.evaluate import eval_loss
        from tuneui.training.dataset import PaddingCollator

        return eval_loss(model, self.val_examples, PaddingCollator(self.tokenizer.pad_token_id))

    # -- train -------------------------------------------------------------------------------------
    def train(self) -> dict | None:
        from tuneui.training.callbacks import RunCallback

        cfg = self.cfg
        self.events.emit(
            ev.Started(step=self.resume_from.step if self.resume_from else 0, run_dir=str(self.run_dir),
            model=cfg.model, technique=cfg.technique, total_steps=self._total_steps(),
            train_examples=len(self.train_examples), val_examples=len(self.val_examples),
            dropped_examples=self.train_stats.dropped, refusals=dict(self.train_stats.refused),
            truncated_examples=self.train_stats.truncated,
            trainable_params=self.trainable_params, total_params=self.total_params,
            resumed_from=str(self.resume_from.path) if self.resume_from else None, pid=os.getpid(),
        ))
        base = self._base_before_training() if self.is_main else {}
        self.set_phase("training")
        self.callback = RunCallback(cfg=cfg, run_dir=self.run_dir, writer=self.events, collator=self.collator,
                                    is_main=self.is_main, stop=self.stop,
                                    evaluate_fn=self._periodic_eval() if self.is_main else None)
        self.trainer = self._trainer([self.callback])
        self.callback.trainer = self.trainer
        if self.resume_from is not None:
            self.callback.carry_over(self.resume_from)
        if self.resume_from is not None and self.resume_from.step >= self._total_steps():
            self.finish_only = True
            logged = resuming.load_for_finish(self.trainer, self.resume_from)
            loss = self.callback.mean_loss() if self.callback.loss_steps else logged
            self.train_loss = float(loss) if loss is not None else float("nan")
            return base
        result = self.trainer.train(
            resume_from_checkpoint=str(self.resume_from.path) if self.resume_from else None)
        whole_run = self.callback.mean_loss() if self.resume_from is not None else None
        self.train_loss = float(whole_run if whole_run is not None else result.training_loss)
        return base

    def _base_before_training(self) -> dict | None:
        """The base's figures when they cost nothing now (or cannot be had later): else None, and
        `finish` measures them after the tuned model is saved (tuneui/training/base_eval.py)."""
        from tuneui.training.base_eval import BaseEvaluation, measured_before_training

        self.base_eval = BaseEvaluation(self)
        with self.stop.interruptible():
            base = self.base_eval.known()
            if base is None and measured_before_training(self.cfg):
                self.set_phase("base evaluation")
                base = self.base_eval.measure(self.model)
        if base is not None and self.resume_from is None:
            self._emit_base_point(base)
        return base

    def _emit_base_point(self, base: dict) -> None:
        """The validation curve's starting point (step 0), whenever the base's loss is known."""
        if base.get("eval_loss") is not None:
            self.events.emit(ev.Eval(step=0, eval_loss=base["eval_loss"], base=True))

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
        from tuneui.training import savefail
        from tuneui.training.lora_variants import save_adapter

        out = self.run_dir / "adapter"
        model = self.trainer.accelerator.unwrap_model(self.model)
        with atomic_dir(out) as tmp:
            try:
                save_adapter(model, tmp, self.initial_adapter)  # PiSSA/OLoRA: converted for the original base
                self.tokenizer.save_pretrained(tmp)
            except Exception as exc:  # classified before atomic_dir removes the scratch folder
                kept = checkpoints.listed(self.run_dir)
                intact = (f"the checkpoint {kept[-1].path.name} is intact, so --resume finishes the run"
                          if kept else "no checkpoint exists")
                failure = savefail.classify(exc, what="the final adapter", target=out, intact=intact,
                                            needed=savefail.model_checkpoint_bytes(model) // 3,
                                            resume_hint=f"run `tuneui train {self.run_dir} --resume`")
                if failure is None:
                    raise
                raise failure from None
        return out

    def finish(self, base: dict | None) -> dict:
        from tuneui.training import base_eval

        best_step = self.callback.restore_best(self.model) if self.cfg.early_stopping_patience else None
        self.set_phase("saving")
        adapter = self.save_final()
        self.set_phase("final evaluation")
        tuned = self.evaluate(self.model, progress=base_eval.progress(self, "final evaluation"))
        if base is not None:
            return self._report(base, tuned, adapter, best_step)
        try:
            base = self.base_eval.after_training()
        except StopRequested:
            self._report({}, tuned, adapter, best_step)  # the tuned half is worth keeping
            raise
        self._emit_base_point(base)
        return self._report(base, tuned, adapter, best_step)

    def _report(self, base: dict, tuned: dict, adapter: Path, best_step: int | None) -> dict:
        from tuneui.evaluate import build_report

        report = build_report(base, tuned)
        report.update(
            technique=self.cfg.technique, model=self.cfg.model, train_loss=self.train_loss,
            steps=self.trainer.state.global_step, best_step=best_step, stopped_early=self.callback.stopped_early,
            wall_time_s=round(time.time() - self.started, 1), adapter=str(adapter), model_path=str(self.model_path),
            base_eval_cached=bool(base.get("cached")), base_measured=bool(base),
            data=self.data.report, encode={"train": self.train_stats.to_dict(), "val": self.val_stats.to_dict()},
        )
        if self.start is not None:
            report.update(start_from=self.start)
        if self.cfg.objective != "sft":
            report.update(objective=self.cfg.objective)
        atomic_write_text(self.run_dir / "report.json", json.dumps(report, indent=2, default=str))
        log_to_trackers(self, "end")
        return report


def _say_failed(run: TrainingRun, event: ev.Event) -> None:
    try:
        run.events.emit(event)
    except OSError as exc:  # a full disk can refuse even the line that says so
        print(f"tuneui: could not record the {event.type} event in events.jsonl: {exc.strerror}", file=sys.stderr)


def run_training(cfg: RunConfig, run_dir: str | Path, *, resume: bool = False) -> int:
    run_dir = Path(run_dir)
    try:
        lock = claim(run_dir, is_main=_rank() == 0)
    except TuneuiError as exc:  # nothing of this run was written: the directory may be someone else's
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    run = TrainingRun(cfg, run_dir, resume=resume, lock=lock)
    run.stop.install()
    try:
        with run.stop.interruptible():
            if run.is_main:
                cfg.save(run_dir / "run.toml")  # on resume too: --set overrides (e.g. more steps) are part of the run
                atomic_write_text(run_dir / PID_FILE, str(os.getpid()))
                if not resume or resuming.needs_run_id(run_dir):
                    resuming.new_run_id(run_dir)
            run.set_phase("setup")
            run.setup()
        base = run.train()
        if run.stop.requested.is_set():
            run.events.emit(ev.Stopped(step=run.step, reason=f"stopped by {run.stop.signal_name}",
                            checkpoint=run._last_checkpoint(),
                            advice=f"continue with `tuneui train {run_dir} --resume`"))
            return 130
        if not run.is_main:
            return 0
        with run.stop.interruptible():
            report = run.finish(base)
        run.events.emit(ev.Finished(step=run.step, train_loss=run.train_loss, eval_loss=report["eval_loss"]["tuned"],
                        adapter_path=report["adapter"], report=report_summary(report)))
        return 0
    except StopRequested as exc:
        print(f"tuneui: stopped by {exc.signal_name} during {run.phase}", file=sys.stderr)
        _say_failed(run, ev.Stopped(step=run.step, reason=f"stopped by {exc.signal_name} during {run.phase}",
                                    checkpoint=run._last_checkpoint(),
                                    advice=f"continue with `tuneui train {run_dir} --resume`"))
        return exc.exit_code
    except TuneuiError as exc:
        _say_failed(run, ev.Failed(step=run.step, reason=str(exc), advice="fix the input named above and start again"))
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RunFailure as exc:
        _say_failed(run, ev.Failed(step=run.step, reason=exc.reason, advice=exc.advice))
        print(f"tuneui: run failed: {exc.reason}\n  advice: {exc.advice}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - any crash must end as a `failed` event, not silence
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            reason, advice = f"out of memory at step {run.step}: {str(exc).splitlines()[0]}", oom_advice(cfg)
        else:
            traceback.print_exc()
            reason = f"{type(exc).__name__}: {exc}"
            # Only the wizard's runs have a train.log (launch.start_run); a headless run printed it above.
            advice = ("see train.log in the run directory for the traceback" if (run_dir / LOG_FILE).exists()
                      else "the traceback is printed above")
        _say_failed(run, ev.Failed(step=run.step, reason=reason, advice=advice))
        print(f"tuneui: run failed: {reason}\n  advice: {advice}", file=sys.stderr)
        return 1
    finally:
        run.stop.uninstall()
        if run.is_main:
            (run_dir / PID_FILE).unlink(missing_ok=True)
        if lock is not None:
            lock.release()
