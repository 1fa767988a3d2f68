"""What DoRA (and the other LoRA variants) cost over plain LoRA: saved activations, trainable parameters,
step time, on a model with the demo's shape (or --hidden/--layers) on this machine's device.

Saved activations are counted exactly with torch.autograd.graph.saved_tensors_hooks over one forward
pass (every tensor autograd still keeps when the backward starts, deduplicated by storage): the part of
the peak that grows with tokens. Step time is forward + backward + AdamW step, >= 5 interleaved rounds, median
and spread (after one untimed warm-up round).

  python benchmarks/lora_variants.py                 # demo shape, batch 4 x 256 tokens
  python benchmarks/lora_variants.py --full          # hidden 1024, 8 layers, batch 4 x 512

Ends with one JSON line: dora_vs_lora_saved_bytes, dora_vs_lora_step_time, dora_extra_bytes_per_token_layer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {"lora": {}, "dora": {"use_dora": True}, "rslora": {"use_rslora": True}, "pissa": {"lora_init": "pissa"}}


def build(variant: dict, hidden: int, layers: int, r: int):
    from peft import get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneui.training.lora_variants import LoraVariant, lora_config

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=1024, hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64,
                                        num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                                        num_key_value_heads=max(1, hidden // 192)))
    base.config.use_cache = False
    return get_peft_model(base, lora_config(LoraVariant(**variant), r=r, alpha=2 * r, dropout=0.0,
                                            target_modules="all-linear"))


def saved_bytes(model, ids) -> int:
    """Bytes of the tensors autograd still holds when the backward starts (deduplicated by storage).
    Tensors saved by graphs that are dropped during the forward (DoRA builds B@A through an identity
    matrix and only uses it detached) are counted out: they are transient, not part of the peak's
    saved activations."""
    import gc
    import weakref

    saved: list[tuple] = []

    def pack(t):
        if isinstance(t, torch.Tensor):
            saved.append((weakref.ref(t), t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()))
        return t

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(input_ids=ids, labels=ids).loss
    gc.collect()
    alive: dict[int, int] = {}
    for ref, ptr, nbytes in saved:
        if ref() is not None and ptr not in params:
            alive[ptr] = max(alive.get(ptr, 0), nbytes)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(alive.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    hidden, layers, batch, seq, r = (1024, 8, 4, 512, 16) if a.full else (192, 4, 4, 256, 16)
    torch.manual_seed(0)
    ids = torch.randint(0, 1024, (batch, seq))
    models = {name: build(v, hidden, layers, r) for name, v in VARIANTS.items()}
    opts = {n: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4) for n, m in models.items()}
    mem = {n: saved_bytes(m, ids) for n, m in models.items()}
    times: dict[str, list[float]] = {n: [] for n in models}
    for rnd in range(a.rounds + 1):  # round 0 warms up allocator and kernels and is not timed
        for n, m in models.items():  # interleaved so machine noise hits every variant alike
            t = time.perf_counter()
            m(input_ids=ids, labels=ids).loss.backward()
            opts[n].step()
            opts[n].zero_grad(set_to_none=True)
            if rnd:
                times[n].append(time.perf_counter() - t)
    tokens = batch * seq
    print(f"hidden {hidden}, {layers} layers, batch {batch} x {seq} tokens, r={r}, {a.rounds} rounds, "
          f"{torch.get_num_threads()} threads")
    print(f"{'variant':8} {'trainable':>10} {'saved MiB':>10} {'x lora':>7} {'step s (median)':>16} {'spread':>8} {'x lora':>7}")
    base_t = statistics.median(times["lora"])
    for n, m in models.items():
        trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
        med = statistics.median(times[n])
        spread = max(times[n]) - min(times[n])
        print(f"{n:8} {trainable:>10,} {mem[n] / 2**20:>10.1f} {mem[n] / mem['lora']:>7.3f} {med:>16.3f} "
              f"{spread:>8.3f} {med / base_t:>7.2f}")
    extra = (mem["dora"] - mem["lora"]) / tokens / layers
    print(json.dumps({"dora_vs_lora_saved_bytes": round(mem["dora"] / mem["lora"], 3),
                      "dora_vs_lora_step_time": round(statistics.median(times["dora"]) / base_t, 3),
                      "dora_extra_bytes_per_token_layer": round(extra, 1)}))


if __name__ == "__main__":
    main()
