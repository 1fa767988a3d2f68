"""Training throughput: tuneui's engine vs TRL SFTTrainer defaults vs a plain Trainer.

The same demo model trains on the same sample conversations for the same number of optimizer
steps, micro-batch and learning rate, three ways, interleaved round by round in one process so
machine load hits all three alike:
  tuneui   the engine as `tuneui train` runs it (length-grouped batches, fused AdamW, loss on replies)
  trl      SFTTrainer with its defaults; only use_cpu and bf16=False changed for this CPU (plus the
           shared steps/batch/lr). The data is given as prompt/completion so TRL's default
           completion-only loss trains the same tokens as tuneui.
  trainer  transformers' Trainer with dynamic padding (right-padded batches, same masking)
Throughput counts non-padding tokens only; every model is then scored on the same held-out
examples, so a speed-up that came from doing less work would show as a worse loss.

Quick by default (a few minutes on 2 cores); --full runs more steps and rounds. On a GPU machine,
`--shape 0.5B` trains a randomly initialised model of that published shape (see
tuneui/recommend/shapes.py) in bf16 instead of the demo model and adds model FLOPs utilisation
(6N FLOPs per token for full fine-tuning, over the GPU's dense bf16 peak).
Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Counting:
    """Wraps a collator and counts the non-padding tokens it hands to the model."""

    def __init__(self, inner):
        self.inner, self.tokens = inner, 0

    def __call__(self, features):
        batch = self.inner(features)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        return batch


def _conversations(n_train: int, n_val: int):
    from tuneui.demo import sample_dataset_path

    rows = [json.loads(x)["messages"] for x in sample_dataset_path().read_text().splitlines()]
    return rows[:n_train], rows[n_train:n_train + n_val]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def build_random_model(shape: str, out: Path, layers: int | None = None) -> tuple[str, int]:
    """A randomly initialised model of a published shape, with the demo tokenizer; (path, params)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from tuneui.demo import ensure_demo_model
    from tuneui.recommend.shapes import REFERENCE_CONFIGS

    spec = dict(REFERENCE_CONFIGS[shape])
    if layers:
        spec["num_hidden_layers"] = layers
    config = AutoConfig.for_model(spec.pop("model_type"), **spec)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16 if _cuda() else torch.float32)
    tok = AutoTokenizer.from_pretrained(ensure_demo_model())  # its ids all lie inside any real vocab
    config.eos_token_id, config.pad_token_id = tok.eos_token_id, tok.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return str(out), sum(p.numel() for p in model.parameters())


def _timed_train(trainer) -> float:
    t = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t


def run_tuneui(tmp: Path, steps: int, batch: int, lr: float, n_train: int, model: str = "demo-tiny"):
    from tuneui.contract.config import RunConfig
    from tuneui.training.runner import TrainingRun

    train, val = _conversations(n_train, 200)
    for name, rows in (("train", train), ("val", val)):
        (tmp / f"{name}.jsonl").write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows))
    cfg = RunConfig(model=model, dataset=str(tmp / "train.jsonl"), val_dataset=str(tmp / "val.jsonl"),
                    clean=False, technique="full", learning_rate=lr, micro_batch_size=batch, max_steps=steps,
                    logging_steps=steps, warmup_ratio=0.0, lr_scheduler="constant", seed=1)
    run = TrainingRun(cfg, tmp / "run")
    run.setup()
    trainer = run._trainer([])
    counter = Counting(trainer.data_collator)
    trainer.data_collator = counter
    secs = _timed_train(trainer)
    return secs, counter.tokens, run.model, run.tokenizer


def run_trl(tmp: Path, steps: int, batch: int, lr: float, n_train: int, model: str = "demo-tiny"):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from tuneui.demo import ensure_demo_model

    path = ensure_demo_model() if model == "demo" else model
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="bfloat16" if _cuda() else "float32")
    train, _ = _conversations(n_train, 0)
    data = Dataset.from_list([{"prompt": c[:-1], "completion": c[-1:]} for c in train])
    args = SFTConfig(output_dir=str(tmp / "trl"), use_cpu=not _cuda(), bf16=_cuda(), max_steps=steps,
                     per_device_train_batch_size=batch, learning_rate=lr, lr_scheduler_type="constant",
                     logging_steps=steps, save_strategy="no", report_to="none", seed=1, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    counter = Counting(trainer.data_collator)
    trainer.data_collator = counter
    secs = _timed_train(trainer)
    return secs, counter.tokens, model, tok


def run_trainer(tmp: Path, steps: int, batch: int, lr: float, n_train: int, model: str = "demo-tiny"):
    from transformers import Trainer, TrainingArguments

    from tuneui.contract.config import RunConfig
    from tuneui.modelload import load_tokenizer
    from tuneui.training.dataset import PaddingCollator, encode_all
    from tuneui.training.model_setup import build_model

    cfg = RunConfig(model=model, technique="full")
    tok = load_tokenizer(cfg)
    model = build_model(cfg, tok)
    train, _ = _conversations(n_train, 0)
    examples, _ = encode_all(tok, train, 1024)
    counter = Counting(PaddingCollator(tok.pad_token_id))
    args = TrainingArguments(output_dir=str(tmp / "plain"), use_cpu=not _cuda(), bf16=_cuda(), max_steps=steps,
                             per_device_train_batch_size=batch, learning_rate=lr, lr_scheduler_type="constant",
                             logging_steps=steps, save_strategy="no", report_to="none", seed=1,
                             remove_unused_columns=False, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=counter)
    secs = _timed_train(trainer)
    return secs, counter.tokens, model, tok


def held_out_loss(model, tok) -> float:
    from tuneui.evaluate import eval_loss
    from tuneui.training.dataset import PaddingCollator, encode_all

    _, val = _conversations(3600, 200)
    examples, _ = encode_all(tok, val, 1024)
    return eval_loss(model, examples, PaddingCollator(tok.pad_token_id))


def _peak_tflops() -> float | None:
    from tuneui.hardware import probe

    return probe().tflops if _cuda() else None


def _device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if _cuda() else "cpu"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="more steps and rounds")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--batch", type=int, default=8, help="micro-batch for all three (TRL's default is 8)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--shape", default=None, help="random model of this published shape, e.g. 0.5B (GPU)")
    ap.add_argument("--layers", type=int, default=None, help="with --shape: fewer layers (a quick check)")
    a = ap.parse_args()
    steps = a.steps or (300 if a.full else 60)
    rounds = a.rounds or (3 if a.full else 2)
    n_train = 3600
    runners = {"tuneui": run_tuneui, "trl": run_trl, "trainer": run_trainer}
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in runners}
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault("TUNEUI_HOME", str(Path(d) / "home"))
        model, n_params = "demo", None
        if a.shape:
            model, n_params = build_random_model(a.shape, Path(d) / "model", a.layers)
        for r in range(rounds):
            for name, fn in runners.items():
                tmp = Path(d) / f"{name}-{r}"
                tmp.mkdir()
                secs, tokens, trained, tok = fn(tmp, steps, a.batch, a.lr, n_train, model)
                results[name].append((tokens / secs, held_out_loss(trained, tok)))
                del trained
                print(f"round {r + 1}/{rounds} {name:8s} {tokens / secs:9.0f} non-pad tokens/s  "
                      f"held-out loss {results[name][-1][1]:.4f}", flush=True)
    tps = {k: statistics.median(x for x, _ in v) for k, v in results.items()}
    loss = {k: statistics.median(y for _, y in v) for k, v in results.items()}
    print(f"\n{steps} optimizer steps, micro-batch {a.batch}, lr {a.lr}, {rounds} interleaved rounds (medians)")
    print(f"{'engine':10s}{'tokens/s':>12s}{'vs tuneui':>12s}{'held-out loss':>16s}")
    for k in runners:
        print(f"{k:10s}{tps[k]:12.0f}{tps[k] / tps['tuneui']:12.2f}{loss[k]:16.4f}")
    summary = {
        "tuneui_vs_trl": round(tps["tuneui"] / tps["trl"], 3),
        "tuneui_vs_trainer": round(tps["tuneui"] / tps["trainer"], 3),
        "tokens_per_s": {k: round(v, 1) for k, v in tps.items()},
        "final_loss": {k: round(v, 4) for k, v in loss.items()},
        "loss_gap_vs_trl": round(abs(loss["tuneui"] - loss["trl"]) / loss["trl"], 4),
        "steps": steps, "rounds": rounds, "batch": a.batch,
    }
    if n_params:
        peak = _peak_tflops()
        summary["params"] = n_params
        summary["device"] = _device_name()
        if peak:
            # 6N FLOPs per token: forward 2N, backward 4N (full fine-tuning).
            summary["mfu"] = {k: round(6 * n_params * v / (peak * 1e12), 4) for k, v in tps.items()}
            print("MFU (6N FLOPs/token over the dense bf16 peak of "
                  f"{peak:g} TFLOP/s): " + ", ".join(f"{k} {v:.1%}" for k, v in summary["mfu"].items()))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
