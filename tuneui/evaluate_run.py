"""`tuneui evaluate RUN_DIR`: recompute report.json for a finished run, base vs tuned.

The base is the same weights with the adapter switched off for LoRA runs, and the original model
(loaded after the tuned one is released) for full/freeze runs, so memory never holds two models;
when the same base was already measured on the same data and settings, its cached figures are used.
A preference run is measured as it was at the end of training: how base and tuned rank the held-out replies,
and the forgetting probe (not cached, as during training).
Everything else the runner wrote in report.json (train loss, steps, time, data report) is kept.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

from tuneui.contract.errors import TuneuiError
from tuneui.contract.evaluation import EvaluationReport
from tuneui.contract.fsutil import atomic_write_text
from tuneui.contract.rundir import REPORT_FILE


def evaluate_run(run_dir: str | Path, *, limit: int | None = None, write: bool = True,
                 progress=None) -> EvaluationReport:
    """The new report (also written to RUN_DIR/report.json unless write=False)."""
    from tuneui.data.template_check import render_options
    from tuneui.evaluate import build_report
    from tuneui.modelload import resolve_model
    from tuneui.runload import load_causal_lm, load_tokenizer_for, load_tuned, locate
    from tuneui.training.dataset import as_prompted, encode_all, read_split
    from tuneui.training.run_eval import base_key, cached_base, evaluate_for_run

    run_dir = Path(run_dir)
    art = locate(run_dir)
    if art.run_dir is None or art.config is None:
        raise TuneuiError(f"{run_dir}: evaluation needs a run directory (run.toml and data/), not a bare adapter")
    if not (art.run_dir / "data" / "val.parquet").exists():
        raise TuneuiError(f"{art.run_dir}: no data/val.parquet: the run never wrote its split")
    cfg = art.config
    say = progress or (lambda msg: None)
    tokenizer = load_tokenizer_for(art)
    data = read_split(art.run_dir)
    n = cfg.eval_max_examples if limit is None else limit
    if cfg.objective == "sft":
        val_examples, _ = encode_all(tokenizer, data.val, cfg.max_seq_length, options=render_options(cfg),
                                     tools=data.val_tools or None)
        prompts = as_prompted(cfg, data.val)  # fold_system: prompted as training saw them

        def measure(model) -> dict:
            return evaluate_for_run(cfg, model, tokenizer, val_examples, prompts, limit=n)
    else:
        measure = _preference_measure(cfg.model_copy(update={"eval_max_examples": n}), tokenizer, data)
    say("loading the tuned model")
    model = load_tuned(art)
    dtype = str(next(model.parameters()).dtype)
    say("evaluating the tuned model")
    tuned = measure(model)
    base_model = art.base_model
    if base_model is None:
        raise TuneuiError(f"{run_dir}: the run does not name its base model, so there is nothing to compare with")
    if art.kind == "peft":
        def base_figures() -> dict:
            say("evaluating the base model (adapter off)")
            with model.disable_adapter():
                return measure(model)
    else:
        del model
        gc.collect()

        def base_figures() -> dict:
            say("evaluating the base model")
            return measure(load_causal_lm(base_model, art))
    if cfg.objective == "sft":
        key = base_key(cfg, resolve_model(base_model), val_examples, prompts, limit=n, quantization=None,
                       dtype=dtype)
        base, cached = cached_base(key, base_figures)
    else:  # not cached, as during training (tuneui/training/base_eval.py says why)
        base, cached = base_figures(), False
    if cached:
        say("the base model's figures for this data were cached by an earlier evaluation")
    report = build_report(base, tuned) | {"base_eval_cached": cached}
    old_path = art.run_dir / REPORT_FILE
    if old_path.exists():
        try:
            old = json.loads(old_path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        report = {**old, **report}
    report.setdefault("technique", cfg.technique)
    report.setdefault("model", cfg.model)
    typed = EvaluationReport.from_dict(report)
    if write:
        atomic_write_text(old_path, typed.to_json())
    return typed


def _preference_measure(cfg, tokenizer, data):
    """A preference run's measure of one model: its ranking of the held-out replies, encoded as training
    encoded them (the training pairs when there are none, as the run did), and the forgetting probe."""
    from tuneui.data.template_check import render_options
    from tuneui.training.preference import encode_run_data
    from tuneui.training.run_eval import evaluate_preference_for_run

    train, _, val, _ = encode_run_data(cfg, tokenizer, data, render_options(cfg))
    return lambda model: evaluate_preference_for_run(cfg, model, tokenizer, val or train)
