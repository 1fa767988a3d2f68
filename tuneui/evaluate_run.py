"""`tuneui evaluate RUN_DIR`: recompute report.json for a finished run, base vs tuned.

The base is the same weights with the adapter switched off for LoRA runs, and the original model
(loaded after the tuned one is released) for full/freeze runs, so memory never holds two models.
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


def _evaluate(model, tokenizer, val_examples, val_convs, limit: int, max_new_tokens: int) -> dict:
    from tuneui.evaluate import evaluate_model
    from tuneui.training.dataset import PaddingCollator

    return evaluate_model(model, tokenizer, val_examples, val_convs, PaddingCollator(tokenizer.pad_token_id),
                          limit=limit, max_new_tokens=max_new_tokens)


def evaluate_run(run_dir: str | Path, *, limit: int | None = None, write: bool = True,
                 progress=None) -> EvaluationReport:
    """The new report (also written to RUN_DIR/report.json unless write=False)."""
    from tuneui.data.template_check import render_options
    from tuneui.evaluate import build_report
    from tuneui.runload import load_causal_lm, load_tokenizer_for, load_tuned, locate
    from tuneui.training.dataset import as_prompted, encode_all, read_split

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
    val_examples, _ = encode_all(tokenizer, data.val, cfg.max_seq_length, options=render_options(cfg),
                                 tools=data.val_tools or None)
    n = cfg.eval_max_examples if limit is None else limit
    args = (tokenizer, val_examples, as_prompted(cfg, data.val), n, cfg.eval_max_new_tokens)
    say("loading the tuned model")
    model = load_tuned(art)
    say("evaluating the tuned model")
    tuned = _evaluate(model, *args)
    if art.kind == "peft":
        say("evaluating the base model (adapter off)")
        with model.disable_adapter():
            base = _evaluate(model, *args)
    else:
        del model
        gc.collect()
        say("evaluating the base model")
        if art.base_model is None:
            raise TuneuiError(f"{run_dir}: the run does not name its base model, so there is nothing to compare with")
        base = _evaluate(load_causal_lm(art.base_model, art), *args)
    report = build_report(base, tuned)
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
