"""The recommendation: the best technique that fits, how to batch it, and why, with every alternative.

Preference (highest quality first), unless the data says otherwise:
  full > LoRA (freeze-top-N is listed beside it) > LoRA on an 8-bit base > QLoRA
and within a technique the cheapest way to make it fit, in this order:
  as is > gradient checkpointing > 8-bit optimizer (full only) > multi-GPU sharding (DeepSpeed ZeRO-2,
  FSDP full-shard, DeepSpeed ZeRO-3) > CPU offload.
A small dataset flips full below LoRA: updating every weight on a few thousand examples overfits and
forgets more, for no gain. A setup fits when its estimated peak stays under (1 - margin) of the memory
per GPU; the micro-batch then grows (powers of two) while it still fits, and gradient accumulation
makes up the rest of the target effective batch.
"""

from __future__ import annotations

import math

from tuneui.contract import defaults
from tuneui.contract.recommend import Alternative, Recommendation
from tuneui.hardware import HardwareProfile
from tuneui.models import ModelInfo
from tuneui.recommend import advice
from tuneui.recommend.explain import QUALITY, explain, hardware_needed
from tuneui.recommend.memory import MemoryEstimate, Setup, estimate, with_

SAFETY_MARGIN = 0.10
SMALL_DATA_EXAMPLES = 5000  # below this, LoRA is preferred over full fine-tuning


def _device(hw: HardwareProfile) -> str:
    return hw.accelerator if hw.gpus else "cpu"


def budget_bytes(hw: HardwareProfile, margin: float = SAFETY_MARGIN) -> int:
    """Memory one process may plan on: per-GPU free memory (total for what-if), or available RAM on CPU."""
    if hw.gpus:
        return int(hw.gpu_memory_bytes * (1 - margin))
    return int((hw.ram_available_bytes or hw.ram_total_bytes) * (1 - margin))


def _precision(hw: HardwareProfile, technique: str) -> str:
    if not hw.gpus:
        return "fp32"  # CPU: fp32 is the fast and exact path (what the runner's "auto" picks too)
    if hw.bf16:
        return "bf16"
    # fp16 without bf16 hardware: fine for adapters, unstable for full weights without a loss scaler
    return "fp32" if technique in ("full", "freeze") else "fp16"


def _unavailable(hw: HardwareProfile, s: Setup) -> str | None:
    dev = _device(hw)
    if dev == "mps" and s.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        return "bitsandbytes 8-bit optimizers are not available on Apple MPS"
    if dev == "cpu" and s.optimizer == "paged_adamw_8bit":
        # bitsandbytes' CPU backend runs 8-bit AdamW (what `tuneui doctor` checks), but paging moves
        # optimizer state through CUDA unified memory: on a CPU it silently becomes plain adamw_8bit.
        return "paging needs a CUDA GPU; on a CPU it is plain adamw_8bit"
    if dev == "mps" and s.technique in ("qlora", "lora_8bit"):
        return "bitsandbytes quantised bases are not available on Apple MPS"
    if (s.sharding not in (None, "ddp") or s.cpu_offload) and dev not in ("cuda", "rocm"):
        return "sharding and CPU offload need CUDA/ROCm GPUs"
    return None


def candidates(model: ModelInfo, hw: HardwareProfile, seq_len: int, lora_r: int = defaults.LORA_R,
               target_batch: int = defaults.TARGET_BATCH, packing: bool = False, dora: bool = False,
               objective: str = "sft") -> list[Setup]:
    """Every technique x gradient checkpointing x relevant optimizer / sharding option, at micro-batch 1
    (with the accumulation that reaches `target_batch`: accumulated gradients stay live). kto starts at
    micro-batch 2: its KL estimate pairs rows within a micro-batch."""
    n = max(1, hw.num_gpus)
    dev = _device(hw)
    out: list[Setup] = []
    parallel: list[tuple[str | None, bool]] = [(None if n == 1 else "ddp", False)]
    if n > 1:
        parallel += [("zero2", False), ("zero2", True), ("fsdp_full_shard", False), ("fsdp_full_shard", True),
                     ("zero3", False), ("zero3", True)]
    else:
        parallel += [(None, True)]
    for tech in QUALITY:
        prec = _precision(hw, tech)
        base = Setup(technique=tech, precision=prec, seq_len=seq_len, micro_batch_size=2 if objective == "kto" else 1,
                     lora_r=lora_r, objective=objective,
                     gradient_accumulation_steps=max(1, math.ceil(target_batch / n)),
                     packed=packing, padded=not packing,
                     num_gpus=n, device=dev, freeze_trainable_layers=min(2, model.num_layers),
                     dora=dora and tech in ("lora", "qlora", "lora_8bit"))
        if tech == "full":
            opts = [("adamw", False), ("adamw", True), ("adamw_8bit", False), ("paged_adamw_8bit", False)]
            if prec == "fp32":
                opts = [(o, False) for o in ("adamw", "adamw_8bit", "paged_adamw_8bit")]
        elif tech == "qlora":
            opts = [("adamw", False), ("paged_adamw_8bit", False)]
        else:
            opts = [("adamw", False)]
        quants = [True, False] if tech == "qlora" else [True]
        for opt, master in opts:
            for dq in quants:
                for (shard, offload) in parallel:
                    if offload and tech != "full" and shard not in ("fsdp_full_shard", "zero3"):
                        continue  # offloading an adapter's tiny optimizer state alone saves nothing
                    if shard == "zero2" and tech != "full":
                        continue  # ZeRO-2 keeps every weight on every GPU: for adapters it is plain DDP
                    if shard in ("zero2", "zero3") and not _deepspeed_row(tech, opt, master, prec):
                        continue
                    for ckpt in (False, True):
                        out.append(with_(base, optimizer=opt, master_weights_fp32=master, double_quant=dq,
                                         sharding=shard, cpu_offload=offload, gradient_checkpointing=ckpt))
    return out


def _deepspeed_row(technique: str, optimizer: str, master: bool, precision: str) -> bool:
    """DeepSpeed ZeRO rows: its own mixed precision (fp32 master weights inside the optimizer) with Adam, the
    case its accounting describes; quantised bases and 8-bit optimizers stay with FSDP."""
    return technique in ("full", "freeze", "lora") and optimizer == "adamw" and not master and precision != "fp32"


def _ladder_key(s: Setup, prefer_lora: bool) -> tuple:
    """Sort key: technique quality, then the cheapest way to make it fit (issue order)."""
    order = list(QUALITY)
    if prefer_lora:
        order.remove("full")
        order.insert(2, "full")
    opt_rank = {"adamw": 0, "adamw_8bit": 1, "paged_adamw_8bit": 2, "sgd": 3}[s.optimizer]
    # FSDP before ZeRO-3: the same sharding built into PyTorch, with nothing more to install
    shard_rank = {None: 0, "ddp": 0, "zero2": 1, "fsdp_full_shard": 2, "zero3": 3}[s.sharding]
    # CPU offload is the last resort for every technique: it makes each step several times slower.
    return (s.cpu_offload, order.index(s.technique), shard_rank, opt_rank, s.gradient_checkpointing,
            not s.double_quant, s.master_weights_fp32)


def _fits(est: MemoryEstimate, budget: int, hw: HardwareProfile) -> bool:
    if est.peak_bytes > budget:
        return False
    if est.cpu_bytes and hw.ram_total_bytes and est.cpu_bytes > hw.ram_total_bytes * 0.8:
        return False
    return True


def recommend(model: ModelInfo, hardware: HardwareProfile, *, seq_len: int | None = None, target_batch: int = defaults.TARGET_BATCH,
              dataset_stats: dict | None = None, lora_r: int = defaults.LORA_R, margin: float = SAFETY_MARGIN,
              packing: bool = False, dora: bool = False, objective: str = "sft") -> Recommendation:
    """The recommended setup for `model` on `hardware` with reasons and every alternative.
    `packing` mirrors RunConfig.packing (its default): it changes the attention-mask memory; `dora`
    (RunConfig.use_dora) prices the LoRA rows with DoRA's magnitudes and extra activations; `objective`
    (RunConfig.objective) prices a preference run's pairs and reference model (tuneui.recommend.objectives)."""
    dataset_stats = advice.normalize_stats(dataset_stats)
    seq, seq_reason = advice.choose_seq_len(model, dataset_stats, seq_len)
    budget = budget_bytes(hardware, margin)
    n_ex = advice.num_examples(dataset_stats)
    # Small data favours LoRA because full fine-tuning forgets what the base knew; a randomly
    # initialised base (the tiny test model) knows nothing, so there is nothing to protect.
    prefer_lora = n_ex is not None and n_ex < SMALL_DATA_EXAMPLES and model.source != "demo-tiny"
    alts: list[Alternative] = []
    for s in candidates(model, hardware, seq, lora_r, target_batch, packing, dora, objective):
        est = estimate(model, s)
        why = _unavailable(hardware, s)
        seconds = advice.time_estimate(model, hardware, s.technique, seq, s.gradient_checkpointing,
                                       est.trainable_params, dataset_stats)["seconds_per_epoch"]
        alts.append(Alternative(s, est, fits=why is None and _fits(est, budget, hardware), available=why is None,
                                why_unavailable=why, seconds_per_epoch=seconds))
    ladder = sorted(alts, key=lambda a: _ladder_key(a.setup, prefer_lora))
    chosen = next((a for a in ladder if a.fits), None)
    warnings = list(model.warnings) + list(hardware.warnings)
    if chosen is None:
        # Nothing fits: report the smallest footprint so the person sees how far off it is.
        chosen = min((a for a in alts if a.available), key=lambda a: a.estimate.peak_bytes)
    chosen.recommended = True
    s = chosen.setup
    # Grow the micro-batch while it fits; accumulation makes up the effective batch.
    procs = max(1, s.num_gpus)

    def accumulation(mb: int) -> int:
        return max(1, math.ceil(target_batch / (mb * procs)))

    mb = s.micro_batch_size
    if chosen.fits:
        while mb * 2 <= max(1, target_batch // procs):
            bigger = with_(s, micro_batch_size=mb * 2, gradient_accumulation_steps=accumulation(mb * 2))
            if not _fits(estimate(model, bigger), budget, hardware):
                break
            mb *= 2
    ga = accumulation(mb)
    final = with_(s, micro_batch_size=mb, gradient_accumulation_steps=ga)
    est = estimate(model, final)
    launch = {"strategy": s.sharding or "single", "num_processes": procs, "cpu_offload": s.cpu_offload,
              "mixed_precision": "bf16" if s.precision == "bf16" else s.precision}
    rec = Recommendation(
        technique=s.technique, fits=chosen.fits, setup=final, estimate=est, micro_batch_size=mb,
        gradient_accumulation_steps=ga, max_seq_length=seq, precision=s.precision, launch=launch,
        reasons=[], alternatives=alts, budget_bytes=budget, rag_advice=advice.rag_advice(dataset_stats),
        model=model, hardware=hardware, warnings=warnings,
    )
    rec.time = advice.time_estimate(model, hardware, s.technique, seq, s.gradient_checkpointing,
                                    est.trainable_params, dataset_stats)
    rec.reasons = explain(rec, ladder, seq_reason, prefer_lora, n_ex, target_batch)
    if not chosen.fits:
        rec.hardware_needed = hardware_needed(model, hardware, seq, lora_r, margin)
        rec.reasons.append(rec.hardware_needed)
    return rec


