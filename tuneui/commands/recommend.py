"""`tuneui recommend`: which technique fits this model on this (or a what-if) machine, and why.

JSON output (`--json`), a stable object:
  {"schema": 1, "technique": str, "fits": bool, "label": str, "peak_bytes": int, "budget_bytes": int,
   "breakdown": {component: bytes}, "run_config": {RunConfig field: value}, "launch": {...},
   "reasons": [str], "time": {...}, "rag_advice": str|null, "hardware_needed": str|null, "warnings": [str],
   "model": {...}, "hardware": {...},
   "alternatives": [{"label", "technique", "optimizer", "gradient_checkpointing", "sharding", "num_gpus",
                     "cpu_offload", "peak_bytes", "breakdown", "fits", "available", "recommended", ...}]}
"""

from __future__ import annotations

import argparse
import json

from tuneui.contract import defaults
from tuneui.contract.config import OBJECTIVES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recommend", help="recommend a fine-tuning technique and batch for a model on this or a what-if GPU",
        description="Estimate memory for every technique and recommend the best one that fits.",
    )
    p.add_argument("--model", required=True, help="hub id (from the local cache), model directory, or 'demo'")
    p.add_argument("--revision", default=None, help="hub revision")
    p.add_argument("--gpus", default=None,
                   help="what-if hardware instead of probing: 1x24GiB, 2x80GiB, A100-80GB, 2xH100, cpu")
    p.add_argument("--seq-len", type=int, default=None,
                   help=f"max sequence length (default: from --data, else {defaults.MAX_SEQ_LENGTH})")
    p.add_argument("--batch", type=int, default=defaults.TARGET_BATCH,
                   help=f"target effective batch size (default {defaults.TARGET_BATCH})")
    p.add_argument("--lora-r", type=int, default=defaults.LORA_R,
                   help=f"LoRA rank used for the estimates (default {defaults.LORA_R})")
    p.add_argument("--packing", action=argparse.BooleanOptionalAction, default=False,
                   help="plan for packed rows (RunConfig packing = true) instead of length-grouped padded "
                        "batches, the default")
    p.add_argument("--dora", action="store_true",
                   help="price the LoRA rows with DoRA (RunConfig use_dora): about 2x the adapters' activations")
    p.add_argument("--objective", default="sft", choices=OBJECTIVES,
                   help="what the run optimises (RunConfig objective): dpo, orpo and simpo run two sequences per "
                        "pair, dpo and kto keep a frozen reference copy with full/freeze fine-tuning")
    p.add_argument("--data", default=None, help="a dataset file: sizes the sequence length and checks RAG fit")
    p.add_argument("--json", action="store_true", help="print the stable JSON object instead of a table")
    p.set_defaults(func=run)


def _gib(n: int | float) -> str:
    return f"{n / 1024**3:.1f}"


def dataset_stats_from_file(path: str) -> dict:
    """The same object `tuneui data inspect --json` prints (format, examples, word lengths), plus whether
    every example is a bare document, for the recommender's sequence length and RAG check."""
    from tuneui.data import load_dataset

    result = load_dataset(path)
    out = result.to_dict(max_problems=0)
    out["lengths"] = result.lengths.to_dict() if result.lengths is not None else {}
    out["assistant_turns"] = result.examples
    if result.kind == "text":
        out["format"] = "text"  # one message per example: documents with no prompt/answer structure
    return out


def render(rec) -> str:
    s, m, hw = rec.setup, rec.model, rec.hardware
    lines = [f"model     {m.name}: {m.size_label} parameters, {m.num_layers} layers, "
             f"hidden {m.hidden_size}, vocab {m.vocab_size}",
             f"hardware  {hw.summary()}" + (f"  (what-if: {hw.what_if})" if hw.what_if else ""),
             ""]
    verdict = "RECOMMENDED" if rec.fits else "NOTHING FITS; the smallest setup is"
    lines.append(f"{verdict}: {s.label}, micro-batch {rec.micro_batch_size} x accumulation "
                 f"{rec.gradient_accumulation_steps}, seq {rec.max_seq_length}: about {_gib(rec.estimate.peak_bytes)} "
                 f"GiB of {_gib(rec.budget_bytes)} GiB usable")
    parts = ", ".join(f"{k} {_gib(v)}" for k, v in rec.estimate.breakdown.items() if v)
    lines.append(f"  peak ({rec.estimate.phase}): {parts} GiB")
    if rec.launch.get("num_processes", 1) > 1 or rec.launch.get("cpu_offload"):
        lines.append(f"  launch: {json.dumps(rec.launch)}")
    lines.append("")
    lines += [f"  - {r}" for r in rec.reasons]
    if rec.rag_advice:
        lines += ["", "Should you fine-tune at all?", f"  {rec.rag_advice}"]
    per = "peak GiB per GPU" if hw.gpus else "peak GiB of memory"  # a CPU-only machine has no GPU to be per
    lines += ["", f"All alternatives (micro-batch 1, seq {rec.max_seq_length}; {per}):",
              f"  {'setup':52} {'peak':>7} {'weights':>8} {'grads':>6} {'optim':>6} {'acts':>6}  fits"]
    for a in sorted(rec.alternatives, key=lambda a: a.estimate.peak_bytes):
        b = a.estimate.sizes
        fits = "yes" if a.fits else ("n/a" if not a.available else "no")
        mark = " <- recommended" if a.recommended else ""
        lines.append(f"  {a.setup.label:52} {_gib(a.estimate.peak_bytes):>7} {_gib(b['weights']):>8} "
                     f"{_gib(b['gradients']):>6} {_gib(b['optimizer']):>6} "
                     f"{_gib(b['activations'] + b['logits']):>6}  {fits}{mark}")
    lines.append("  (estimates: weights, gradients, optimizer state, activations incl. logits; peak adds "
                 "transients, allocator slack and the CUDA context)")
    for w in rec.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tuneui.contract.errors import TuneuiError
    from tuneui.hardware import parse_gpus, probe
    from tuneui.models import inspect_model
    from tuneui.recommend import recommend

    if args.seq_len is not None and args.seq_len < 8:
        raise TuneuiError(f"--seq-len {args.seq_len}: must be at least 8")
    if args.batch < 1:
        raise TuneuiError(f"--batch {args.batch}: must be at least 1")
    model = inspect_model(args.model, revision=args.revision)
    hardware = parse_gpus(args.gpus) if args.gpus else probe()
    stats = dataset_stats_from_file(args.data) if args.data else None
    rec = recommend(model, hardware, seq_len=args.seq_len, target_batch=args.batch, dataset_stats=stats,
                    lora_r=args.lora_r, packing=args.packing, dora=args.dora, objective=args.objective)
    if args.json:
        print(json.dumps({"schema": 1, **rec.to_dict()}, indent=2))
    else:
        print(render(rec))
    return 0
