"""Advice that comes from the dataset and the clock: sequence length, RAG vs fine-tuning, time per epoch.

`dataset_stats` is a plain dict; every key is optional:
  num_examples (or examples, rows)   examples after cleaning
  format                      auto-detected format name (or {"name": ...}); "text" means plain documents
  tokens: {mean, p50, p90, p95, p99, max, total}   tokens per example and in all (flat token_p95 ... also read)
  assistant_turns             examples that have an answer to learn (0 for raw documents)
The object `tuneui data inspect --json` prints is read as-is: its tokens.lengths (percentiles, mean, max,
total) when a tokenizer was given, else its word lengths at about 1.35 tokens per word.
"""

from __future__ import annotations

import math
from typing import Any

from tuneui.contract import defaults
from tuneui.hardware import HardwareProfile
from tuneui.models import ModelInfo

DEFAULT_SEQ_LEN = defaults.MAX_SEQ_LENGTH


TOKENS_PER_WORD = 1.35


def normalize_stats(stats: dict | None) -> dict | None:
    """Flatten `tuneui data inspect --json` output into the keys above (other dicts pass through)."""
    if not stats:
        return stats
    out = dict(stats)
    if isinstance(out.get("format"), dict):
        out["format"] = out["format"].get("name")
    if "num_examples" not in out and isinstance(out.get("examples"), int):
        out["num_examples"] = out["examples"]
    tok = out.get("tokens")
    lengths, scale = None, 1.0
    if isinstance(tok, dict) and isinstance(tok.get("lengths"), dict):
        lengths = tok["lengths"]
    elif not isinstance(tok, dict) and isinstance(out.get("lengths"), dict) and out["lengths"].get("unit") == "words":
        lengths, scale = out["lengths"], TOKENS_PER_WORD
    if lengths is not None:
        flat = {k: v * scale for k, v in (lengths.get("percentiles") or {}).items()}
        flat.update({k: lengths[k] * scale for k in ("mean", "max", "total") if isinstance(lengths.get(k), (int, float))})
        out["tokens"] = flat
    return out


def _num(d: dict | None, *keys: str) -> float | None:
    if not d:
        return None
    for k in keys:
        v = d.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


def token_stat(stats: dict | None, name: str) -> float | None:
    if not stats:
        return None
    tokens = stats.get("tokens") if isinstance(stats.get("tokens"), dict) else None
    return _num(tokens, name) or _num(stats, f"token_{name}", f"tokens_{name}")


def num_examples(stats: dict | None) -> int | None:
    v = _num(stats, "num_examples", "examples", "rows", "count")
    return int(v) if v is not None else None


def choose_seq_len(model: ModelInfo, stats: dict | None, requested: int | None) -> tuple[int, str]:
    """(max_seq_length, reason). Covers the dataset's 99th percentile rounded up to a multiple of 128."""
    ctx = model.max_position_embeddings or 1_000_000
    if requested:
        if requested > ctx:
            return ctx, (f"sequence length {requested} is longer than the model's context ({ctx}); "
                         f"capped at {ctx}")
        return requested, f"sequence length {requested}, as asked"
    p99 = token_stat(stats, "p99") or token_stat(stats, "p95") or token_stat(stats, "max")
    if p99:
        seq = max(128, int(math.ceil(p99 / 128) * 128))
        longest = token_stat(stats, "max")
        seq = min(seq, ctx)
        extra = f"; the longest ({int(longest)} tokens) is cut" if longest and longest > seq else ""
        return seq, (f"max sequence length {seq}: covers 99% of your examples ({int(p99)} tokens at the 99th "
                     f"percentile) without paying memory for padding{extra}")
    seq = min(DEFAULT_SEQ_LEN, ctx)
    return seq, f"max sequence length {seq}: a safe default; load a dataset to size it from its token counts"


def rag_advice(stats: dict | None) -> str | None:
    """Plain-words advice when retrieval (RAG) or continued pre-training suits the data better than
    instruction fine-tuning; None when the data looks like behaviour/style/format examples."""
    if not stats:
        return None
    n = num_examples(stats)
    fmt = str(stats.get("format") or "").lower()
    answers = _num(stats, "assistant_turns", "examples_with_answers")
    mean_tokens = token_stat(stats, "mean") or token_stat(stats, "p50")
    documents = fmt in ("text", "raw", "documents", "plain_text") or (answers == 0 and n)
    if documents:
        long_docs = mean_tokens is not None and mean_tokens > 1500
        what = "long documents (a knowledge base)" if long_docs else "plain documents"
        return (f"Your data is {what} with no instruction/answer structure. If you want the model to answer "
                "questions from this material, retrieval-augmented generation (RAG) is the better tool: it looks "
                "facts up at question time, can cite them, and stays current when the documents change, while "
                "fine-tuning does not reliably store facts. Training on raw text is continued pre-training: it "
                "teaches the domain's language and style, and needs a lot of text (millions of tokens) to matter. "
                "Fine-tuning is for behaviour, style and format: give it examples of the answers you want.")
    if n is not None and n < 50:
        return (f"Only {n} examples: too few for fine-tuning to learn a behaviour reliably (it will memorise "
                "them). Put them in the prompt as few-shot examples, or use RAG if the goal is knowledge; "
                "fine-tuning starts to pay off from a few hundred varied examples.")
    if fmt == "qa" and mean_tokens is not None and mean_tokens > 800:
        return ("Your question/answer pairs carry long factual answers: if the goal is that the model knows "
                "these facts, RAG over the source documents is more reliable than fine-tuning, which teaches "
                "the answer format and tone far better than it teaches facts.")
    return None


# Model FLOPs utilisation we see in practice for single-node training (an estimate, said as one).
_MFU = {"full": 0.40, "freeze": 0.35, "lora": 0.35, "lora_8bit": 0.20, "qlora": 0.25}
_CPU_TFLOPS_PER_CORE = 0.05


def flops_per_token(model: ModelInfo, technique: str, seq_len: int, checkpointing: bool, p_train: int) -> float:
    """Training FLOPs per token: forward 2N; backward 2N for activation gradients plus 2 per trainable weight
    for weight gradients (6N for full, about 4N for LoRA); checkpointing re-runs the forward (+2N);
    causal attention adds 6 * L * s * q (score and value matmuls, forward and backward)."""
    n = model.active_params
    q = model.num_heads * model.head_dim
    if technique == "full":
        f = 6 * n
    elif technique == "freeze":
        f = 2 * n + 4 * p_train  # activation gradients only flow through the trainable top layers
    else:
        f = 4 * n + 6 * p_train
    if checkpointing:
        f += 2 * n
    return f + 6 * model.num_layers * seq_len * q


def time_estimate(model: ModelInfo, hardware: HardwareProfile, technique: str, seq_len: int,
                  checkpointing: bool, p_train: int, stats: dict | None) -> dict[str, Any]:
    per_token = flops_per_token(model, technique, seq_len, checkpointing, p_train)
    if hardware.gpus:
        tflops = hardware.tflops or (90.0 if hardware.bf16 else 30.0)
        tflops *= hardware.num_gpus
        mfu = _MFU.get(technique, 0.3)
        where = f"{hardware.num_gpus}x {hardware.gpus[0].name}"
    else:
        tflops, mfu = hardware.cpu_cores * _CPU_TFLOPS_PER_CORE, 0.5
        where = f"{hardware.cpu_cores} CPU cores"
    rate = tflops * 1e12 * mfu / per_token  # tokens per second
    total = token_stat(stats, "total")
    if total is None:
        mean, n = token_stat(stats, "mean"), num_examples(stats)
        total = mean * n if mean and n else None
    out: dict[str, Any] = {"tokens_per_s": round(rate, 1), "flops_per_token": per_token,
                           "tflops": tflops, "utilisation": mfu, "tokens_per_epoch": total}
    if total:
        secs = total / rate
        out["seconds_per_epoch"] = round(secs, 1)
        out["text"] = (f"about {_duration(secs)} per epoch for {int(total):,} tokens (an estimate: "
                       f"{per_token / model.active_params:.1f} FLOPs per parameter per token at {mfu:.0%} of "
                       f"{tflops:g} TFLOPS on {where})")
    else:
        out["seconds_per_epoch"] = None
        out["text"] = (f"about {_duration(1e6 / rate)} per million training tokens (an estimate: "
                       f"{mfu:.0%} of {tflops:g} TFLOPS on {where})")
    return out


def _duration(secs: float) -> str:
    # A tiny model on a fast machine takes well under a second per million tokens: "0 s" says nothing.
    if secs < 0.01:
        return "under 0.01 s"
    if secs < 9.5:
        return f"{secs:.2g} s"
    if secs < 90:
        return f"{secs:.0f} s"
    if secs < 5400:
        return f"{secs / 60:.0f} min"
    if secs < 86400 * 2:
        return f"{secs / 3600:.1f} h"
    return f"{secs / 86400:.1f} days"
