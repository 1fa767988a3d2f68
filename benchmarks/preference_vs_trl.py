"""DPO with LoRA: tuneui's trainer against plain TRL DPOTrainer with its defaults, same model, same pairs.

- tuneui: the run's own path (tuneui.training.preference: tuneui's exact masking encodes each pair, its
  collator, length-grouped batches, TuneDPOTrainer = TRL's DPOTrainer and loss behind tuneui's trainer),
  from the preference demo's config (`tuneui train --demo --objective dpo`) with max_steps set here.
- trl: `DPOTrainer(model, ref_model=None, peft_config=LoraConfig(same r/alpha/targets), train_dataset=the
  same pairs in TRL's conversational format, processing_class=tokenizer)`: TRL tokenizes prompt/chosen/
  rejected itself and uses its default collator. DPOConfig keeps TRL's defaults (notably
  gradient_checkpointing=True, max_length=1024) except what makes it the same run: batch size, steps,
  learning rate, beta, bf16=False (TRL's default bf16=True refuses to start on a CPU), no saving, no logging.

Both train exactly `steps x batch` pairs (the first ones of the preference demo's training file, one epoch),
so they see the same pairs. The model is loaded by each side in tuneui's compute dtype (float32 on CPU).

Each measurement is a fresh Python process (`--one SIDE`), so peak memory is that process's own: peak RSS
(getrusage ru_maxrss) at the end of training, and the peak RSS already reached before training (model
loaded, data encoded); their difference is what training added. Throughput is pairs per second of
`trainer.train()` wall time, first step included, and pairs per CPU-second of the process during it
(`time.process_time`: on a loaded machine wall time also counts the waits for a core, CPU time much less).
Rounds interleave the sides (tuneui, trl, tuneui, ...) so the shared machine's load hits both alike;
figures are median and min-max over rounds; the load average is printed at the start and the end.
`--match-checkpointing` also runs tuneui with gradient checkpointing on (TRL's default) as a third side, to
separate the checkpointing trade from everything else.

What does not depend on the load is counted too: the model's forward calls and the tokens they process,
padding included (rows x width of every batch the decoder sees: the random batches of TRL and tuneui's
length-grouped ones pad differently; below 64 pairs the Trainer's length grouping has nothing to group).
`--ops` runs each side once under torch.profiler instead of timing it and prints its operator calls and
FLOPs: the work itself, which a loaded machine cannot blur.

  python benchmarks/preference_vs_trl.py --match-checkpointing        # demo model (SmolLM2-135M), 5 rounds x 10 steps
  python benchmarks/preference_vs_trl.py --model demo-tiny --rounds 5 --steps 10
  python benchmarks/preference_vs_trl.py --model demo-tiny --steps 5 --ops --match-checkpointing

Ends with one JSON line of medians and ratios (tuneui / trl).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _config(model: str, steps: int, checkpointing: bool):
    from tuneui.contract.presets import demo_config

    return demo_config("dpo").updated(model=model, max_steps=steps, epochs=1.0, logging_steps=steps, save_steps=0,
                                      gradient_checkpointing=checkpointing, warmup_ratio=0.0)


def _pairs(n: int):
    from tuneui.data import load_examples
    from tuneui.demo_preference import ensure_files

    examples, _, _ = load_examples(ensure_files()[0])
    return examples[:n]


def run_tuneui(model: str, steps: int, checkpointing: bool, out: Path) -> dict:
    from tuneui.modelload import load_tokenizer
    from tuneui.templates import RenderOptions
    from tuneui.training.dataset import RunData
    from tuneui.training.model_setup import build_model
    from tuneui.training.preference import build_trainer, encode_run_data, make_collator

    cfg = _config(model, steps, checkpointing)
    examples = _pairs(steps * cfg.micro_batch_size)
    tok = load_tokenizer(cfg)
    data = RunData([e.messages for e in examples], [], train_full=examples)
    rows, _, _, _ = encode_run_data(cfg, tok, data, RenderOptions())
    collator = make_collator(cfg, tok)
    trainer = build_trainer(cfg, out, build_model(cfg, tok), tok, rows, collator, [])
    return _train(trainer, len(rows)) | {"tokens": collator.tokens_seen}


def run_trl(model: str, steps: int, out: Path) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from tuneui.modelload import compute_dtype, resolve_model

    cfg = _config(model, steps, False)
    examples = _pairs(steps * cfg.micro_batch_size)
    path = resolve_model(cfg.model)
    tok = AutoTokenizer.from_pretrained(path)
    net = AutoModelForCausalLM.from_pretrained(path, dtype=compute_dtype(cfg))
    rows = [{"prompt": e.messages, "chosen": e.chosen, "rejected": e.rejected} for e in examples]
    args = DPOConfig(output_dir=str(out), per_device_train_batch_size=cfg.micro_batch_size, max_steps=steps,
                     learning_rate=cfg.learning_rate, beta=cfg.pref_beta, bf16=False, save_strategy="no",
                     report_to=[], logging_steps=steps, disable_tqdm=True)
    peft = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_target_modules), task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=net, ref_model=None, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tok, peft_config=peft)
    tokens = sum(len(r["chosen_input_ids"]) + len(r["rejected_input_ids"]) if "chosen_input_ids" in r
                 else len(r["prompt_ids"]) * 2 + len(r["chosen_ids"]) + len(r["rejected_ids"])
                 for r in trainer.train_dataset) if trainer.train_dataset is not None else 0
    return _train(trainer, len(rows)) | {"tokens": tokens}


def _train(trainer, pairs: int) -> dict:
    """trainer.train() measured: wall and CPU seconds, peak RSS, and the decoder's forward calls and padded tokens
    (the batches as the model sees them); with TUNEUI_BENCH_OPS set, operator calls and FLOPs instead of timings."""
    model = trainer.model
    decoder = model.get_base_model().model if hasattr(model, "get_base_model") else model.model
    shapes: list[tuple[int, int]] = []
    hook = decoder.register_forward_pre_hook(lambda _m, args, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                             with_kwargs=True)
    out: dict = {"adapters": sorted(getattr(model, "peft_config", {}) or {})}
    before = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    if os.environ.get("TUNEUI_BENCH_OPS"):
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            trainer.train()
        events = prof.key_averages()
        out |= {"op_calls": sum(e.count for e in events), "gflops": sum(e.flops or 0 for e in events) / 1e9}
    else:
        trainer.train()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    hook.remove()
    return out | {"pairs": pairs, "steps": trainer.state.global_step, "seconds": seconds, "cpu_seconds": cpu,
                  "forwards": len(shapes), "padded_tokens": sum(r * w for r, w in shapes),
                  "rss_before_mib": before, "rss_peak_mib": _rss_mib()}


def one(side: str, model: str, steps: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="tuneui-bench-") as tmp:
        if side == "trl":
            return run_trl(model, steps, Path(tmp))
        return run_tuneui(model, steps, side == "tuneui_gc", Path(tmp))


def _measure(side: str, args) -> dict:
    cmd = [sys.executable, __file__, "--one", side, "--model", args.model, "--steps", str(args.steps),
           "--threads", str(args.threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    if args.ops:
        env["TUNEUI_BENCH_OPS"] = "1"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="demo")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process (1 is steadier on a shared "
                    "machine; see benchmarks/README.md)")
    ap.add_argument("--match-checkpointing", action="store_true",
                    help="add tuneui with gradient checkpointing on (TRL's default) as a third side")
    ap.add_argument("--ops", action="store_true", help="count each side's operator calls and FLOPs once "
                    "(torch.profiler) instead of timing rounds")
    ap.add_argument("--one", choices=("tuneui", "tuneui_gc", "trl"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.model, args.steps, args.threads)))
        return
    sides = ["tuneui", "trl"] + (["tuneui_gc"] if args.match_checkpointing else [])
    if args.ops:
        _ops(sides, args)
        return
    print(f"load average at start: {os.getloadavg()}; model {args.model}, {args.steps} steps x batch 8 pairs, "
          f"{args.threads} thread(s), {args.rounds} rounds")
    results: dict[str, list[dict]] = {s: [] for s in sides}
    for r in range(args.rounds):
        for side in sides if r % 2 == 0 else list(reversed(sides)):
            res = _measure(side, args)
            results[side].append(res)
            print(f"round {r + 1} {side:9s} {res['pairs'] / res['seconds']:.3f} pairs/s  {res['seconds']:.1f} s "
                  f"(CPU {res['cpu_seconds']:.1f} s)  peak RSS {res['rss_peak_mib']:.0f} MiB (before training "
                  f"{res['rss_before_mib']:.0f})  {res['forwards']} forwards, {res['padded_tokens']} padded tokens",
                  flush=True)
    print(f"load average at end: {os.getloadavg()}")
    summary: dict = {}
    print(f"\n{'side':10s} {'pairs/s':>20s} {'pairs/CPU-s':>20s} {'tokens/s':>20s} {'peak RSS MiB':>18s} "
          f"{'training adds MiB':>18s} {'padded tokens':>14s}")
    for side in sides:
        rs = results[side]
        pps = [x["pairs"] / x["seconds"] for x in rs]
        ppc = [x["pairs"] / x["cpu_seconds"] for x in rs]
        tps = [x["tokens"] / x["seconds"] for x in rs]
        peak = [x["rss_peak_mib"] for x in rs]
        added = [x["rss_peak_mib"] - x["rss_before_mib"] for x in rs]
        print(f"{side:10s} {_fmt(pps, 3):>20s} {_fmt(ppc, 3):>20s} {_fmt(tps, 0):>20s} {_fmt(peak, 0):>18s} "
              f"{_fmt(added, 0):>18s} {rs[0]['padded_tokens']:>14d}")
        summary[side] = {"pairs_per_s": statistics.median(pps), "pairs_per_cpu_s": statistics.median(ppc),
                         "tokens_per_s": statistics.median(tps), "peak_rss_mib": statistics.median(peak),
                         "training_adds_mib": statistics.median(added), "tokens": rs[0]["tokens"],
                         "padded_tokens": rs[0]["padded_tokens"], "forwards": rs[0]["forwards"]}
    for side in [s for s in sides if s != "trl"]:
        ratios = {k: summary[side][k] / summary["trl"][k]
                  for k in ("pairs_per_s", "pairs_per_cpu_s", "peak_rss_mib", "training_adds_mib", "padded_tokens")
                  if summary["trl"][k]}
        summary[f"{side}_over_trl"] = ratios
        print(f"{side} / trl: " + ", ".join(f"{k} {v:.3f}x" for k, v in ratios.items()))
    print(json.dumps(summary))


def _ops(sides: list[str], args) -> None:
    """One profiled process per side: the work of the same steps, counted rather than timed."""
    print(f"model {args.model}, {args.steps} steps x batch 8 pairs, operator calls and FLOPs of trainer.train()")
    print(f"{'side':10s} {'forwards':>9s} {'padded tokens':>14s} {'op calls':>10s} {'GFLOPs':>9s} "
          f"{'GFLOPs/1k padded tokens':>24s}  adapters")
    summary: dict = {}
    for side in sides:
        res = _measure(side, args)
        per_k = res["gflops"] / res["padded_tokens"] * 1000
        print(f"{side:10s} {res['forwards']:>9d} {res['padded_tokens']:>14d} {res['op_calls']:>10d} "
              f"{res['gflops']:>9.2f} {per_k:>24.3f}  {','.join(res['adapters'])}", flush=True)
        summary[side] = {k: res[k] for k in ("forwards", "padded_tokens", "op_calls", "gflops", "adapters")}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
