"""How close is the memory estimate for preference objectives (dpo, kto, orpo, simpo) to what TRL's trainers allocate?

The same comparison as benchmarks/memory_accuracy.py (estimate `tensor_bytes` vs the measured peak of live
tensors, same goal: median |error| <= 10%, no under-estimate worse than -15%), but each step is a real
step of tuneui's preference trainer: the model from `build_model`, the trainer from
`tuneui.training.preference.build_trainer` (TRL's DPO/KTO/ORPO/CPO trainers, the reference model TRL
builds for full fine-tuning), full-length encoded pairs (half prompt, half reply) through tuneui's
collators, `trainer.training_step`, gradient clipping and the optimizer step. Random Llama-shaped models
from configs, no download; the demo-tiny tokenizer stands in (only its pad id is read).

  python benchmarks/memory_accuracy_preference.py                  # CPU quick grid, fp32
  python benchmarks/memory_accuracy_preference.py --only dpo
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory_accuracy import QUICK_CONFIGS, save_random_model  # noqa: E402

from tuneui.models import info_from_config  # noqa: E402
from tuneui.recommend.memory import Setup, estimate  # noqa: E402
from tuneui.training.measure import live_tensor_bytes, measure_peak, model_tensors  # noqa: E402

ROWS = [
    ("sft", "lora"), ("sft", "full"),
    ("dpo", "lora"), ("dpo", "lora ckpt"), ("dpo", "full"), ("dpo", "full ckpt"), ("dpo", "freeze"),
    ("kto", "lora"), ("kto", "full"),
    ("orpo", "lora"), ("orpo", "full"), ("orpo", "full ckpt"),
    ("simpo", "lora"), ("simpo", "full"),
]


def _rows(objective: str, b: int, seq: int, vocab: int) -> list[dict]:
    import random

    rng = random.Random(0)
    half = seq // 2
    out = []
    for _ in range(2 * b):
        ids = [[rng.randrange(4, vocab) for _ in range(seq)] for _ in range(2)]
        mask = [0] * half + [1] * (seq - half)
        if objective == "kto":
            out.append({"input_ids": ids[0], "completion_mask": mask, "label": len(out) % 2 == 0,
                        "KL_input_ids": ids[1], "KL_completion_mask": mask})
        else:
            out.append({"chosen_input_ids": ids[0], "chosen_mask": mask, "rejected_input_ids": ids[1],
                        "rejected_mask": mask})
    return out


def run_row(model_dir: Path, objective: str, s: Setup, tokenizer, vocab: int, steps: int = 2) -> int:
    import gc

    import torch

    from tuneui.contract.config import RunConfig
    from tuneui.training.model_setup import build_model

    cfg = RunConfig(model=str(model_dir), objective=objective, technique=s.technique, precision=s.precision,
                    gradient_checkpointing=s.gradient_checkpointing, micro_batch_size=s.micro_batch_size,
                    max_seq_length=s.seq_len, lora_r=s.lora_r, freeze_trainable_layers=s.freeze_trainable_layers,
                    packing=False)
    model = build_model(cfg)
    rows = _rows(objective, s.micro_batch_size, s.seq_len, vocab)
    with tempfile.TemporaryDirectory() as out:
        if objective == "sft":
            from tuneui.training.fit_probe import make_optimizer, make_train_step, worst_case_batch

            opt = make_optimizer(model, s.optimizer)
            batch = worst_case_batch(s.micro_batch_size, s.seq_len, vocab, False, "cpu")
            step = make_train_step(model, opt, batch=batch, device="cpu", autocast_dtype=None)
            ref = None
        else:
            from tuneui.training.preference import build_trainer, make_collator

            trainer = build_trainer(cfg, Path(out), model, tokenizer, rows, make_collator(cfg, tokenizer), [])
            opt = trainer.create_optimizer()
            trainer.current_gradient_accumulation_steps = 1  # set by train(), which this step bypasses
            batch = trainer._prepare_inputs(make_collator(cfg, tokenizer)(rows[:s.micro_batch_size]))
            ref = getattr(trainer, "ref_model", None)
            trainable = [p for p in model.parameters() if p.requires_grad]

            def step() -> None:
                trainer.training_step(trainer.model, batch)
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)

        def live() -> int:
            return live_tensor_bytes(model_tensors(model, opt) + (model_tensors(ref) if ref is not None else []))

        try:
            return measure_peak(step, "cpu", live, steps)
        finally:
            model = opt = step = ref = trainer = None  # noqa: F841
            gc.collect()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--only", default=None, help="substring filter on 'objective technique'")
    ap.add_argument("--models", default=",".join(QUICK_CONFIGS), help="comma-separated quick-config names")
    args = ap.parse_args(argv)

    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    from tuneui.contract.config import RunConfig
    from tuneui.modelload import load_tokenizer

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    tokenizer = load_tokenizer(RunConfig(model="demo-tiny"))
    techniques = {"lora": dict(technique="lora"), "lora ckpt": dict(technique="lora", gradient_checkpointing=True),
                  "full": dict(technique="full"), "full ckpt": dict(technique="full", gradient_checkpointing=True),
                  "freeze": dict(technique="freeze", freeze_trainable_layers=2)}
    wanted = [(o, t) for o, t in ROWS if not args.only or args.only in f"{o} {t}"]
    print(f"device: cpu; fp32, padded, seq_len {args.seq_len}, micro-batch {args.batch} (pairs or KTO rows); "
          "estimate = live tensors at the peak", flush=True)
    print(f"{'model':16} {'objective':9} {'technique':10} {'estimate MiB':>12} {'measured MiB':>12} {'error':>8} "
          f"{'s':>5}")
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for name in args.models.split(","):
            shape = QUICK_CONFIGS[name]
            model_dir = save_random_model(shape, Path(tmpdir))
            info = info_from_config({"tie_word_embeddings": False, **shape, "model_type": "llama"}, name=name)
            for objective, label in wanted:
                s = Setup(micro_batch_size=args.batch, seq_len=args.seq_len, device="cpu", precision="fp32",
                          padded=True, objective=objective, **techniques[label])
                est = estimate(info, s).tensor_bytes
                t0 = time.perf_counter()
                measured = run_row(model_dir, objective, s, tokenizer, shape["vocab_size"])
                err = (est - measured) / measured
                rows.append({"model": name, "objective": objective, "technique": label, "estimate": est,
                             "measured": measured, "err": err})
                print(f"{name:16} {objective:9} {label:10} {est / 2**20:12.1f} {measured / 2**20:12.1f} {err:+8.1%} "
                      f"{time.perf_counter() - t0:5.1f}", flush=True)
    pref = [r for r in rows if r["objective"] != "sft"]
    if not pref:
        return 1
    med = statistics.median(abs(r["err"]) for r in pref)
    worst = min(r["err"] for r in pref)
    print(f"\npreference rows: median absolute error {med:.1%}; worst under-estimate {min(worst, 0):+.1%} "
          "(goal: <=10%, >= -15%)")
    print(json.dumps({"median_abs_err": round(med, 4), "worst_under": round(min(worst, 0.0), 4), "device": "cpu",
                      "precision": "fp32", "rows": len(pref)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
