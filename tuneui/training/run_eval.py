"""A run's base-vs-tuned evaluation: the batched evaluation with the run's settings, and the base
model's figures taken from the cache when the same base was already measured on the same data.

Both the training run (tuned and base, both after training: training/base_eval.py) and
`tuneui evaluate RUN_DIR` go through here, so they measure the same things the same way; a preference
run (dpo, kto, orpo, simpo) through `evaluate_preference_for_run`, with the same forgetting probe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.data.schema import Conversation

PROBE_WINDOW = 256


def evaluate_for_run(cfg: RunConfig, model, tokenizer, val_examples: list[dict], val_convs: list[Conversation], *,
                     limit: int | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """One model's figures (`evaluate_batched.evaluate_model_batched`) with the run's evaluation settings."""
    from tuneui.evaluate_batched import evaluate_model_batched
    from tuneui.training.dataset import PaddingCollator

    return evaluate_model_batched(
        model, tokenizer, val_examples, val_convs, PaddingCollator(tokenizer.pad_token_id),
        limit=cfg.eval_max_examples if limit is None else limit, max_new_tokens=cfg.eval_max_new_tokens,
        batch_size=cfg.eval_batch_size, probe_window=PROBE_WINDOW, progress=progress,
    )


def evaluate_preference_for_run(cfg: RunConfig, model, tokenizer, rows: list[dict], *,
                                progress: Callable[[str], None] | None = None) -> dict:
    """A preference run's figures for one model: how it ranks the held-out replies (`rows`, encoded by
    `preference.encode_run_data`) and the same forgetting probe as SFT, so report.json compares both."""
    from tuneui.evaluate_batched import forgetting_probe
    from tuneui.training.preference import evaluate_preference, make_collator

    say = progress or (lambda what: None)
    rows = rows[:cfg.eval_max_examples or None]
    say(f"ranking the replies of {len(rows)} examples")
    figures = evaluate_preference(model, rows, make_collator(cfg, tokenizer))
    say("forgetting probe")
    return figures | forgetting_probe(model, tokenizer, window=PROBE_WINDOW)


def _examples_digest(examples: list[dict]) -> str:
    # What the validation loss consumes, token for token: a change in how conversations are
    # encoded (the template, the loss mask) changes the base's loss and so the key.
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([list(e["input_ids"]), list(e["labels"])], separators=(",", ":")).encode())
    return h.hexdigest()


def base_key(cfg: RunConfig, model_path: str | Path, val_examples: list[dict], val_convs: list[Conversation], *,
             limit: int, quantization: str | None, dtype: str) -> str:
    """The cache key of the base's figures for this run's data and evaluation settings."""
    from tuneui.eval_cache import base_eval_key
    from tuneui.evaluate_batched import probe_text

    settings = {"limit": limit, "max_new_tokens": cfg.eval_max_new_tokens, "batch_size": cfg.eval_batch_size,
                "probe_window": PROBE_WINDOW, "examples": _examples_digest(val_examples)}
    return base_eval_key(model=model_path, load={"dtype": dtype, "quantization": quantization},
                         val_convs=val_convs, max_seq_length=cfg.max_seq_length, settings=settings,
                         probe_text=probe_text(), revision=cfg.revision)


def cached_base(key: str, compute: Callable[[], dict]) -> tuple[dict, bool]:
    """The base's figures from the cache, else computed and stored; and whether they were cached."""
    from tuneui.eval_cache import load_base_eval, store_base_eval

    hit = load_base_eval(key)
    if hit is not None:
        return hit, True
    figures = compute()
    try:
        store_base_eval(key, figures)
    except OSError:
        pass  # a read-only cache costs the next run an evaluation, not this run its result
    return figures, False


def quantization_of(cfg: RunConfig) -> str | None:
    """How the training run holds the base in memory (it changes what the base computes)."""
    return {"qlora": f"4bit-{cfg.bnb_4bit_quant_type}-{cfg.bnb_4bit_double_quant}", "lora_8bit": "8bit"}.get(
        cfg.technique)
