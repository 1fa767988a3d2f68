"""One training run, in this process: setup, train, save, evaluate, report.

Whoever started the process follows `events.jsonl`; the exit code says how it ended
(0 finished, 1 the run failed, 2 bad input, 130 stopped by the user).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tuneui.errors import TuneuiError
from tuneui.fsutil import atomic_write_text
from tuneui.training.config import RunConfig
from tuneui.training.events import EventWriter

from tuneui.training.launch import PID_FILE


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


class TrainingRun:
    def __init__(self, cfg: RunConfig, run_dir: Path):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.is_main = _rank() == 0
        self.events = EventWriter(self.run_dir, enabled=self.is_main)
        self.notes: list[str] = []
        self.started = time.time()

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        from transformers import set_seed

        from tuneui.training.dataset import encode_all, make_collator, prepare_run_data
        from tuneui.training.model_setup import build_model, count_parameters, load_tokenizer

        cfg = self.cfg
        set_seed(cfg.seed)
        self.tokenizer = load_tokenizer(cfg, notes=self.notes)
        self.data = prepare_run_data(cfg, self.run_dir) if self.is_main or not (self.run_dir / "data").exists() \
            else None
        if self.data is None:
            from tuneui.training.dataset import read_split

            self.data = read_split(self.run_dir)
        self.train_examples, self.train_stats = encode_all(self.tokenizer, self.data.train, cfg.max_seq_length)
        self.val_examples, self.val_stats = encode_all(self.tokenizer, self.data.val, cfg.max_seq_length)
        if not self.train_examples:
            raise TuneuiError(
                f"no trainable examples: all {self.train_stats.total} were dropped because truncation at "
                f"max_seq_length={cfg.max_seq_length} cut off every reply (raise max_seq_length)",
                source=cfg.dataset,
            )
        for note in self.notes:
            self.events.emit("warning", 0, reason=note, advice="")
        if self.train_stats.dropped_all_masked:
            self.events.emit(
                "warning", 0,
                reason=f"{self.train_stats.dropped_all_masked} of {self.train_stats.total} training examples "
                       f"dropped: no reply tokens left after truncation to {cfg.max_seq_length} tokens",
                advice="raise max_seq_length or shorten the prompts",
            )
        self.collator = make_collator(cfg, self.tokenizer)
        set_seed(cfg.seed)
        self.model = build_model(cfg, self.tokenizer)
        self.trainable_params, self.total_params = count_parameters(self.model)

    def _trainer(self, callbacks: list):
        from transformers import Trainer, TrainingArguments

        from tuneui.training.model_setup import compute_dtype
        import torch

        cfg = self.cfg
        dtype = compute_dtype(cfg)
        optim = {"adamw": "adamw_torch", "adamw_8bit": "adamw_bnb_8bit",
                 "paged_adamw_8bit": "paged_adamw_8bit", "sgd": "sgd"}[cfg.optimizer]
        args = TrainingArguments(
            output_dir=str(self.run_dir / "trainer"),
            per_device_train_batch_size=cfg.micro_batch_size,
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
            lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio,
            max_grad_norm=cfg.max_grad_norm, optim=optim,
            num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
            logging_steps=cfg.logging_steps, logging_first_step=True,
            save_strategy="no", eval_strategy="no", report_to="none",
            seed=cfg.seed, data_seed=cfg.seed,
            bf16=dtype == torch.bfloat16 and cfg.technique not in ("qlora", "lora_8bit"),
            fp16=dtype == torch.float16,
            use_cpu=not torch.cuda.is_available(),
            remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True,
            train_sampling_strategy="random" if cfg.packing else "group_by_length",
            length_column_name="length",
            ddp_find_unused_parameters=False,
        )
        train = self.train_examples
        if not cfg.packing:
            train = [dict(e, length=len(e["input_ids"])) for e in train]
        return Trainer(model=self.model, args=args, train_dataset=train, data_collator=self.collator,
                       callbacks=callbacks)

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, model) -> dict:
        from tuneui.evaluate import evaluate_model
        from tuneui.training.dataset import PaddingCollator

        return evaluate_model(
            model, self.tokenizer, self.val_examples, self.data.val,
            PaddingCollator(self.tokenizer.pad_token_id),
            limit=self.cfg.eval_max_examples, max_new_tokens=self.cfg.eval_max_new_tokens,
        )

    def _val_loss(self, model) -> float | None:
        from tuneui.evaluate import eval_loss
        from tuneui.training.dataset import PaddingCollator

        return eval_loss(model, self.val_examples, PaddingCollator(self.tokenizer.pad_token_id))

    # -- train -------------------------------------------------------------------------------------
    def train(self) -> dict:
        from tuneui.training.callbacks import EventsCallback

        cfg = self.cfg
        base = self.evaluate(self.model) if self.is_main else {}
        self.callback = EventsCallback(self.events, self.collator,
                                       evaluate_fn=self._val_loss if self.is_main else None,
                                       eval_steps=cfg.eval_steps)
        self.trainer = self._trainer([self.callback])
        self.events.emit(
            "started", 0, run_dir=str(self.run_dir), model=cfg.model, technique=cfg.technique,
            total_steps=self._total_steps(), train_examples=len(self.train_examples),
            val_examples=len(self.val_examples), dropped_examples=self.train_stats.dropped_all_masked,
            truncated_examples=self.train_stats.truncated, trainable_params=self.trainable_params,
            total_params=self.total_params, base_eval_loss=base.get("eval_loss"),
        )
        result = self.trainer.train()
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
        tmp = Path(tempfile.mkdtemp(prefix=".adapter.", dir=self.run_dir))
        try:
            model = self.trainer.accelerator.unwrap_model(self.model)
            model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
            tmp.chmod(0o755)
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    def finish(self, base: dict) -> dict:
        from tuneui.evaluate import build_report

        tuned = self.evaluate(self.model)
        report = build_report(base, tuned)
        report.update(
            technique=self.cfg.technique, model=self.cfg.model, train_loss=self.train_loss,
            steps=self.trainer.state.global_step, wall_time_s=round(time.time() - self.started, 1),
            data=self.data.report, encode={"train": self.train_stats.to_dict(), "val": self.val_stats.to_dict()},
        )
        atomic_write_text(self.run_dir / "report.json", json.dumps(report, indent=2, default=str))
        return report


def prepare_run_dir(cfg: RunConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "run.toml")


def run_training(cfg: RunConfig, run_dir: str | Path) -> int:
    run_dir = Path(run_dir)
    prepare_run_dir(cfg, run_dir)
    run = TrainingRun(cfg, run_dir)
    if run.is_main:
        atomic_write_text(run_dir / PID_FILE, str(os.getpid()))
    try:
        run.setup()
        base = run.train()
        if not run.is_main:
            return 0
        adapter = run.save_final()
        report = run.finish(base)
        run.events.emit(
            "finished", run.trainer.state.global_step, train_loss=run.train_loss,
            eval_loss=report["eval_loss"]["tuned"], adapter_path=str(adapter), report=report_summary(report),
        )
        return 0
    except TuneuiError as exc:
        run.events.emit("failed", 0, reason=str(exc), advice="fix the input named above and start again")
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - any crash must end as a `failed` event, not silence
        traceback.print_exc()
        run.events.emit("failed", getattr(getattr(run, "trainer", None), "state", None) and
                        run.trainer.state.global_step or 0,
                        reason=f"{type(exc).__name__}: {exc}", advice="see train.log for the traceback")
        return 1
    finally:
        if run.is_main:
            (run_dir / PID_FILE).unlink(missing_ok=True)


def report_summary(report: dict) -> dict:
    return {k: report[k] for k in ("task_metric", "eval_loss", "perplexity", "token_f1") if k in report}
