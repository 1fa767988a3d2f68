"""The reasons, in plain words, for each choice the recommender made, and what hardware would do when
nothing fits."""

from __future__ import annotations

from tuneui.contract.recommend import MEMORY_REASON, TIME_REASON, Alternative, Recommendation
from tuneui.hardware import KNOWN_GPUS, GiB, HardwareProfile
from tuneui.models import ModelInfo
from tuneui.recommend.memory import Setup, estimate, with_

QUALITY = ["full", "lora", "freeze", "lora_8bit", "qlora"]  # the ladder's order (ladder.QUALITY)

NAMES = {"full": "full fine-tuning", "lora": "LoRA", "freeze": "freezing all but the top layers",
         "lora_8bit": "LoRA on an 8-bit base", "qlora": "QLoRA (4-bit NF4 base)"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _gib(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB"


def _smallest(ladder: list[Alternative], technique: str) -> Alternative | None:
    opts = [a for a in ladder if a.setup.technique == technique and a.available]
    return min(opts, key=lambda a: a.estimate.peak_bytes) if opts else None


def explain(rec: Recommendation, ladder: list[Alternative], seq_reason: str, prefer_lora: bool,
            n_examples: int | None, target_batch: int) -> list[str]:
    s, est, m, hw = rec.setup, rec.estimate, rec.model, rec.hardware
    assert m is not None and hw is not None
    budget = _gib(rec.budget_bytes)
    where = "per GPU" if hw.gpus else "of RAM"
    reasons: list[str] = []
    tech = s.technique
    share = est.trainable_params / max(1, m.total_params)
    if not rec.fits:
        reasons.append(f"Nothing fits in {budget} {where} (the usable memory after a 10% safety margin); "
                       f"the smallest setup, {s.label}, needs about {_gib(est.peak_bytes)}.")
    elif tech == "full":
        reasons.append(f"Full fine-tuning fits: every one of the {m.size_label} weights trains, the "
                       f"highest-quality option.")
        if m.source == "demo-tiny":
            reasons.append("The tiny demo model is randomly initialised: it has no prior knowledge to forget, so "
                           "full fine-tuning is preferred even on a small dataset (LoRA would learn it slowly).")
    else:
        if tech in ("lora", "freeze") and prefer_lora and _fits_any(ladder, "full"):
            reasons.append(f"{_cap(NAMES[tech])} rather than full fine-tuning, although full would fit: with "
                           f"{n_examples} examples, updating every weight overfits and forgets more for no gain.")
        else:
            for t in QUALITY[:QUALITY.index(tech)]:  # every better technique: why not that one
                small = _smallest(ladder, t)
                if small is not None and not small.fits:
                    reasons.append(f"{_cap(NAMES[t])} does not fit: even its leanest setup ({small.setup.label})"
                                   f" needs about {_gib(small.estimate.peak_bytes)}, more than {budget} {where}.")
        detail = {
            "lora": f"trains small adapter matrices on a frozen {s.precision} base and is usually within a point "
                    "or two of full fine-tuning",
            "freeze": "trains only the top layers and keeps the rest frozen",
            "lora_8bit": "keeps the frozen base in 8-bit (half of bf16) with LoRA adapters in full precision",
            "qlora": "keeps the frozen base in 4-bit NF4 (about a quarter of bf16"
                     + (", double-quantised" if s.double_quant else "")
                     + "); the QLoRA paper matches 16-bit LoRA quality this way",
        }[tech]
        reasons.append(f"{_cap(NAMES[tech])} {detail}: {est.trainable_params / 1e6:,.1f}M trainable "
                       f"parameters ({share:.2%} of the model).")
    if rec.fits:
        # One sentence of its own, so a front end that shows the number elsewhere can leave it out.
        reasons.append(f"{MEMORY_REASON} estimated peak {_gib(est.peak_bytes)} of {budget} usable {where} "
                       f"at micro-batch {rec.micro_batch_size}.")
    reasons += _flag_reasons(rec, s, m, budget)
    procs = max(1, s.num_gpus)
    eff = rec.micro_batch_size * rec.gradient_accumulation_steps * procs
    limit = ("the target is reached" if rec.micro_batch_size * procs >= target_batch
             else f"micro-batch {rec.micro_batch_size * 2} would not fit")
    reasons.append(f"Micro-batch {rec.micro_batch_size} x gradient accumulation {rec.gradient_accumulation_steps}"
                   + (f" x {procs} GPUs" if procs > 1 else "")
                   + f" = effective batch {eff} (target {target_batch}); larger micro-batches are faster, but "
                     f"{limit}.")
    reasons.append(seq_reason[0].upper() + seq_reason[1:] + ".")
    if not hw.gpus:
        reasons.append("fp32 on CPU: exact, and what the runner picks there (bf16 is only fast on CPUs with AMX).")
    else:
        reasons.append("bf16: this GPU supports it (as stable as fp32 for training, half the memory)."
                       if s.precision == "bf16" else
                       f"{s.precision}: this GPU has no bf16; " + ("full-weight training stays in fp32 for "
                       "stability." if s.precision == "fp32" else "fp16 is fine for adapters."))
    if rec.time:
        reasons.append(TIME_REASON + " " + rec.time["text"] + ".")
    return reasons


def _fits_any(ladder: list[Alternative], technique: str) -> bool:
    return any(a.fits for a in ladder if a.setup.technique == technique)


def _flag_reasons(rec: Recommendation, s: Setup, m: ModelInfo, budget: str) -> list[str]:
    out: list[str] = []
    plain = estimate(m, with_(s, gradient_checkpointing=False, micro_batch_size=1, gradient_accumulation_steps=1))
    if s.gradient_checkpointing:
        out.append(f"Gradient checkpointing on: without it the saved activations push the peak to "
                   f"{_gib(plain.peak_bytes)} (over {budget}); recomputing each layer in the backward pass costs "
                   "about a third more time.")
    else:
        out.append("Gradient checkpointing off: the activations fit, so no time is spent recomputing them.")
    if s.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        full = estimate(m, with_(s, optimizer="adamw"))
        saved = full.sizes["optimizer"] - rec.estimate.sizes["optimizer"]
        out.append(f"8-bit AdamW ({'paged, ' if s.optimizer.startswith('paged') else ''}bitsandbytes): optimizer "
                   f"state at about 2 bytes per trainable parameter saves {_gib(max(saved, 0))}"
                   + ("; paging moves it to CPU RAM under pressure instead of running out of memory."
                      if s.optimizer.startswith("paged") else "."))
    if s.master_weights_fp32:
        out.append("fp32 master weights with bf16 compute (mixed precision): the most faithful full fine-tune.")
    if s.sharding == "fsdp_full_shard":
        out.append(f"FSDP full-shard (ZeRO-3) across {s.num_gpus} GPUs: weights, gradients and optimizer state "
                   "are split between them and gathered a layer at a time; launch with `accelerate launch`.")
    elif s.sharding == "zero2":
        out.append(f"DeepSpeed ZeRO-2 across {s.num_gpus} GPUs: gradients and optimizer state are split between "
                   "them, 16-bit weights stay whole on each; `tuneui train RUN.toml --print-launch --set "
                   "launch_strategy=zero2` writes the config (pip install deepspeed).")
    elif s.sharding == "zero3":
        out.append(f"DeepSpeed ZeRO-3 across {s.num_gpus} GPUs: weights, gradients and optimizer state are split "
                   "and gathered a layer at a time; `--print-launch --set launch_strategy=zero3` writes the "
                   "config (pip install deepspeed).")
    elif s.num_gpus > 1:
        out.append(f"Data parallel on {s.num_gpus} GPUs: each holds a full copy and works on its own micro-batches"
                   ", so throughput scales with the GPU count.")
    if s.cpu_offload:
        out.append(f"CPU offload: {_gib(rec.estimate.cpu_bytes)} of model state lives in CPU RAM; each step "
                   "waits on PCIe transfers, so expect it to be several times slower.")
    return out


def hardware_needed(m: ModelInfo, hw: HardwareProfile, seq: int, lora_r: int, margin: float) -> str:
    """What hardware would run this model: the lean QLoRA setup, LoRA, and full fine-tuning."""
    def need(s: Setup) -> int:
        return int(estimate(m, s).peak_bytes / (1 - margin))

    lean = need(Setup(technique="qlora", seq_len=seq, gradient_checkpointing=True, lora_r=lora_r))
    lora = need(Setup(technique="lora", seq_len=seq, gradient_checkpointing=True, lora_r=lora_r))
    parts = [f"What would run it: QLoRA with checkpointing needs a GPU with at least {_gib(lean)}"]
    gpu = smallest_gpu_for(lean, margin)
    if gpu:
        parts[-1] += f" (e.g. {gpu})"
    parts.append(f"bf16 LoRA needs {_gib(lora)}" + (f" (e.g. {smallest_gpu_for(lora, margin)})"
                                                     if smallest_gpu_for(lora, margin) else ""))
    for k in (2, 4, 8, 16, 32):
        s = Setup(technique="full", seq_len=seq, gradient_checkpointing=True, num_gpus=k, sharding="fsdp_full_shard")
        if estimate(m, s).peak_bytes <= 80 * 1024**3 * (1 - margin):
            parts.append(f"full fine-tuning needs {k}x 80 GiB GPUs with FSDP full-shard")
            break
    else:
        parts.append("full fine-tuning needs more than 32x 80 GiB GPUs")
    return "; ".join(parts) + "."


def smallest_gpu_for(peak: int, margin: float) -> str | None:
    sizes = sorted({(row[1], row[0]) for row in KNOWN_GPUS if not row[2].startswith("gfx")})
    for mem, name in sizes:
        if peak <= mem * GiB * (1 - margin):
            return f"{name} ({mem:g} GiB)"
    return None
