"""How close is tuneui's memory estimate to what training really allocates?

Builds randomly initialised Llama-shaped models from configs (no download), runs a few real optimizer
steps per technique, measures peak tensor memory and prints estimate vs measurement per row, the median
absolute error and the worst under-estimate, then one JSON line:
  {"median_abs_err": ..., "worst_under": ..., "device": ..., "rows": N}

CPU (default when no GPU): small models, memory read from the torch profiler's allocation accounting.
CUDA: torch.cuda.max_memory_allocated; `--full` runs 0.5B..7B-shaped models (random bf16 weights).
The comparison is against the estimate's `tensor_bytes` (live tensors), the part both counters see;
the CUDA context and allocator slack the estimate adds on top are not measurable this way.

  python benchmarks/memory_accuracy.py            # quick grid
  python benchmarks/memory_accuracy.py --full     # big grid (GPU)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuneui.models import info_from_config  # noqa: E402
from tuneui.recommend.memory import Setup, estimate  # noqa: E402
from tuneui.recommend.shapes import REFERENCE_CONFIGS  # noqa: E402
from tuneui.training.measure import live_tensor_bytes, measure_peak, model_tensors  # noqa: E402

QUICK_CONFIGS = {
    "llama-tiny-gqa": dict(hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=8,
                           num_key_value_heads=2, vocab_size=4096),
    "llama-small": dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=4, num_attention_heads=8,
                        num_key_value_heads=8, vocab_size=8000),
}
# Random bf16 weights in the shapes of real 0.5B..7B models (GPU grid).
FULL_CONFIGS = {f"{k} ({v})": REFERENCE_CONFIGS[k] for k, v in
                [("0.5B", "Qwen2.5-0.5B"), ("1.5B", "Qwen2.5-1.5B"), ("3B", "Llama-3.2-3B"), ("7B", "Llama-2-7B")]}
TECHNIQUES = [
    ("full", dict(technique="full")),
    ("full ckpt", dict(technique="full", gradient_checkpointing=True)),
    ("full adamw_8bit", dict(technique="full", optimizer="adamw_8bit")),
    ("freeze", dict(technique="freeze", freeze_trainable_layers=2)),
    ("lora", dict(technique="lora")),
    ("lora ckpt", dict(technique="lora", gradient_checkpointing=True)),
    ("lora dora", dict(technique="lora", dora=True)),
    ("lora dora ckpt", dict(technique="lora", dora=True, gradient_checkpointing=True)),
    ("lora_8bit", dict(technique="lora_8bit")),
    ("qlora nf4", dict(technique="qlora", double_quant=False)),
    ("qlora nf4+dq", dict(technique="qlora")),
    ("qlora nf4+dq ckpt", dict(technique="qlora", gradient_checkpointing=True)),
]


def _config(shape: dict):
    from transformers import LlamaConfig

    # every shape is built as a Llama (Qwen2's q/k/v biases are left out, here and in the estimate)
    fields = {k: v for k, v in shape.items() if k != "model_type"}
    return LlamaConfig(**{"max_position_embeddings": 4096, "tie_word_embeddings": False, "rms_norm_eps": 1e-5,
                          **fields})


def save_random_model(shape: dict, tmp: Path) -> Path:
    """A random-init bf16 Llama-shaped model on disk, so tuneui's own loader can build it."""
    import torch
    from transformers import AutoModelForCausalLM

    path = tmp / f"model-{abs(hash(json.dumps(shape, sort_keys=True)))}"
    if not path.exists():
        AutoModelForCausalLM.from_config(_config(shape), dtype=torch.bfloat16).save_pretrained(path)
    return path


def run_row(model_dir: Path, s: Setup, device: str, steps: int = 2) -> int:
    """Build the model with tuneui's build_model (the exact training setup) and measure `steps` steps
    taken the way the runner takes them (autocast, optimizer, clipping)."""
    import gc

    import torch

    from tuneui.contract.config import RunConfig
    from tuneui.modelload import compute_dtype
    from tuneui.training.fit_probe import autocast_dtype_for, make_optimizer, make_train_step, worst_case_batch
    from tuneui.training.model_setup import build_model

    cfg = RunConfig(model=str(model_dir), technique=s.technique, optimizer=s.optimizer, precision=s.precision,
                    gradient_checkpointing=s.gradient_checkpointing, micro_batch_size=s.micro_batch_size,
                    max_seq_length=s.seq_len, lora_r=s.lora_r, bnb_4bit_double_quant=s.double_quant,
                    freeze_trainable_layers=s.freeze_trainable_layers, use_dora=s.dora)
    model = build_model(cfg)
    if s.technique not in ("qlora", "lora_8bit"):
        model.to(device)
    model.train()
    opt = make_optimizer(model, s.optimizer)
    batch = worst_case_batch(s.micro_batch_size, s.seq_len, model.config.vocab_size, s.packed, device)
    step = make_train_step(model, opt, batch=batch, device=device,
                           autocast_dtype=autocast_dtype_for(cfg, compute_dtype(cfg)))
    try:
        return measure_peak(step, device, lambda: live_tensor_bytes(model_tensors(model, opt)), steps)
    finally:
        model = opt = step = None  # free this row's model before the next one is built
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the big grid (0.5B..7B shapes; needs a GPU)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--only", default=None, help="substring filter on technique labels")
    ap.add_argument("--no-packing", dest="packing", action="store_false",
                    help="padded batches (RunConfig packing=false) instead of tuneui's default packed rows")
    ap.add_argument("--precision", default="bf16", choices=["bf16", "fp32"],
                    help="compute dtype (tuneui trains in fp32 on CPU, bf16 on GPUs that have it)")
    args = ap.parse_args(argv)

    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    configs = FULL_CONFIGS if args.full else QUICK_CONFIGS
    seq = args.seq_len or (1024 if args.full else 512)
    batch = args.batch or (2 if args.full else 2)
    dev_name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    techniques = [t for t in TECHNIQUES if not args.only or args.only in t[0]]
    if device == "cpu":
        # bitsandbytes' 8-bit optimizers have no CPU kernels; their state size is arithmetic anyway.
        techniques = [t for t in techniques if "8bit" not in t[1].get("optimizer", "")]

    rows = []
    print(f"device: {dev_name}; {args.precision}, {'packed' if args.packing else 'padded'}, seq_len {seq}, "
          f"micro-batch {batch}; "
          "estimate = live tensors at the peak",
          flush=True)
    print(f"{'model':28} {'technique':20} {'estimate MiB':>12} {'measured MiB':>12} {'error':>8} {'s':>5}")
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, shape in configs.items():
            model_dir = save_random_model(shape, Path(tmpdir))
            info = info_from_config({"tie_word_embeddings": False, **shape, "model_type": "llama"}, name=name)
            for label, kw in techniques:
                s = Setup(micro_batch_size=batch, seq_len=seq, device=device.split(":")[0],
                          precision=args.precision, packed=args.packing, padded=not args.packing, **kw)
                est = estimate(info, s).tensor_bytes
                t0 = time.perf_counter()
                try:
                    measured = run_row(model_dir, s, device)
                except Exception as exc:  # a backend that cannot run this technique: say so, keep going
                    print(f"{name:28} {label:20} {'skipped':>12}  ({type(exc).__name__}: {str(exc)[:60]})")
                    continue
                err = (est - measured) / measured
                rows.append({"model": name, "technique": label, "estimate": est, "measured": measured, "err": err})
                print(f"{name:28} {label:20} {est / 2**20:12.1f} {measured / 2**20:12.1f} {err:+8.1%} "
                      f"{time.perf_counter() - t0:5.1f}", flush=True)
    if not rows:
        print(json.dumps({"median_abs_err": None, "worst_under": None, "device": dev_name, "rows": 0}))
        return 1
    med = statistics.median(abs(r["err"]) for r in rows)
    worst = min(r["err"] for r in rows)
    by_tech: dict[str, list[float]] = {}
    for r in rows:
        by_tech.setdefault(r["technique"], []).append(r["err"])
    print("\nper technique: median |error|, worst under-estimate")
    for tech, errs in by_tech.items():
        print(f"  {tech:20} {statistics.median(abs(e) for e in errs):7.1%} {min(min(errs), 0):+7.1%}")
    print(f"\nmedian absolute error {med:.1%}; worst under-estimate {min(worst, 0):+.1%} (goal: <=10%, >= -15%)")
    print(json.dumps({"median_abs_err": round(med, 4), "worst_under": round(min(worst, 0.0), 4),
                      "device": dev_name, "precision": args.precision,
                      "packing": args.packing, "rows": len(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
