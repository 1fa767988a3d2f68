"""The recommendation as the contract sees it: setups, their memory estimates, and the advice.

The engine's `tuneui.recommend` computes these from a ModelInfo and a HardwareProfile; the wizard's
Technique step and `tuneui recommend --json` show them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tuneui.contract import defaults
from tuneui.contract.hardware import HardwareProfile
from tuneui.contract.modelinfo import ModelInfo

# tuneui's runner maps optimizer "adamw" to torch's fused AdamW, which updates in place without a
# moment-sized temporary; the memory model reads this to leave that temporary out.
RUNNER_FUSED_ADAMW = True


@dataclass(frozen=True)
class Setup:
    technique: str = "lora"  # full, freeze, lora, lora_8bit, qlora
    optimizer: str = "adamw"  # adamw, adamw_8bit, paged_adamw_8bit, sgd
    precision: str = "bf16"  # compute dtype: bf16, fp16, fp32
    master_weights_fp32: bool = False  # full only: fp32 weights + bf16 autocast ("mixed precision")
    gradient_checkpointing: bool = False
    micro_batch_size: int = 1
    seq_len: int = defaults.MAX_SEQ_LENGTH
    gradient_accumulation_steps: int = 1
    lora_r: int = defaults.LORA_R
    lora_targets: tuple[str, ...] | str = "all-linear"
    freeze_trainable_layers: int = 2
    double_quant: bool = True
    padded: bool = False  # right-padded batches (RunConfig.packing off): a (b, 1, s, s) attention mask
    packed: bool = False  # tuneui's packing: the micro-batch is one row of b*s tokens, block-diagonal mask
    dora: bool = False  # LoRA techniques: DoRA's magnitude vectors and its extra saved activations
    num_gpus: int = 1
    sharding: str | None = None  # None, ddp, zero2 / zero3 (DeepSpeed), fsdp_full_shard
    cpu_offload: bool = False
    device: str = "cuda"  # cuda, rocm, mps, cpu: whether CUDA context / fragmentation apply
    fused_optimizer: bool = RUNNER_FUSED_ADAMW  # torch AdamW(fused=True): no step temporaries
    objective: str = "sft"  # RunConfig.objective: dpo/orpo/simpo run 2 sequences per pair; dpo/kto a reference

    @property
    def label(self) -> str:
        parts = [self.technique + ("+dora" if self.dora else "")]
        if self.objective != "sft":
            parts.insert(0, self.objective)
        if self.technique == "qlora":
            parts.append("nf4+dq" if self.double_quant else "nf4")
        parts.append(self.optimizer + ("(fp32 master)" if self.master_weights_fp32 else ""))
        if self.precision != "bf16":
            parts.append(self.precision)
        if self.gradient_checkpointing:
            parts.append("ckpt")
        if self.sharding and self.sharding != "ddp":
            parts.append(f"{self.sharding}x{self.num_gpus}")
        elif self.num_gpus > 1:
            parts.append(f"ddp x{self.num_gpus}")
        if self.cpu_offload:
            parts.append("cpu-offload")
        return " ".join(parts)


# The reasons that carry the recommendation's estimates begin with these words: a front end that shows
# the numbers elsewhere (the wizard's table) leaves those reasons out, so each number is shown once.
MEMORY_REASON = "Memory:"
TIME_REASON = "Time:"


@dataclass
class MemoryEstimate:
    setup: Setup
    peak_bytes: int  # per GPU, what nvidia-smi would show: tensors + fragmentation + CUDA context
    tensor_bytes: int  # per GPU, live tensors at the peak (compare with torch.cuda.max_memory_allocated)
    phase: str  # "backward" or "optimizer step": where the peak happens
    breakdown: dict[str, int]  # live at the peak; sums to peak_bytes
    sizes: dict[str, int]  # each component's full size, whether or not it is live at the peak
    trainable_params: int
    cpu_bytes: int = 0  # optimizer state / parameters offloaded to CPU RAM
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["setup"]["label"] = self.setup.label
        return d


@dataclass
class Alternative:
    setup: Setup
    estimate: MemoryEstimate
    fits: bool
    available: bool = True
    why_unavailable: str | None = None
    recommended: bool = False
    seconds_per_epoch: float | None = None  # the engine's time model for this setup; None when unknown

    def to_dict(self) -> dict[str, Any]:
        s = self.setup
        return {
            "label": s.label, "technique": s.technique, "optimizer": s.optimizer,
            "master_weights_fp32": s.master_weights_fp32, "gradient_checkpointing": s.gradient_checkpointing,
            "double_quant": s.double_quant if s.technique == "qlora" else None, "sharding": s.sharding,
            "num_gpus": s.num_gpus, "cpu_offload": s.cpu_offload, "micro_batch_size": s.micro_batch_size,
            "seq_len": s.seq_len, "peak_bytes": self.estimate.peak_bytes, "tensor_bytes": self.estimate.tensor_bytes,
            "cpu_bytes": self.estimate.cpu_bytes, "phase": self.estimate.phase, "breakdown": self.estimate.breakdown,
            "trainable_params": self.estimate.trainable_params, "fits": self.fits, "available": self.available,
            "why_unavailable": self.why_unavailable, "recommended": self.recommended,
            "seconds_per_epoch": self.seconds_per_epoch,
        }


@dataclass
class Recommendation:
    technique: str
    fits: bool
    setup: Setup
    estimate: MemoryEstimate
    micro_batch_size: int
    gradient_accumulation_steps: int
    max_seq_length: int
    precision: str
    launch: dict[str, Any]
    reasons: list[str]
    alternatives: list[Alternative]
    budget_bytes: int
    time: dict[str, Any] | None = None
    rag_advice: str | None = None
    hardware_needed: str | None = None
    model: ModelInfo | None = None
    hardware: HardwareProfile | None = None
    warnings: list[str] = field(default_factory=list)

    def run_config_updates(self) -> dict[str, Any]:
        """RunConfig fields to set (the wizard and `tuneui train` apply these); `launch` is not a field."""
        s = self.setup
        upd: dict[str, Any] = {
            "technique": s.technique,
            "micro_batch_size": self.micro_batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "gradient_checkpointing": s.gradient_checkpointing,
            "optimizer": s.optimizer,
            "max_seq_length": self.max_seq_length,
            "precision": self.precision,
        }
        if s.technique in ("lora", "lora_8bit", "qlora"):
            upd["lora_r"] = s.lora_r
        if s.technique == "qlora":
            upd["bnb_4bit_quant_type"] = "nf4"
            upd["bnb_4bit_double_quant"] = s.double_quant
        if s.technique == "freeze":
            upd["freeze_trainable_layers"] = s.freeze_trainable_layers
        if s.objective != "sft":
            upd["objective"] = s.objective
        return upd

    def to_dict(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "fits": self.fits,
            "label": self.setup.label,
            "peak_bytes": self.estimate.peak_bytes,
            "budget_bytes": self.budget_bytes,
            "breakdown": self.estimate.breakdown,
            "run_config": self.run_config_updates(),
            "launch": self.launch,
            "reasons": self.reasons,
            "time": self.time,
            "rag_advice": self.rag_advice,
            "hardware_needed": self.hardware_needed,
            "warnings": self.warnings,
            "model": self.model.to_dict() if self.model else None,
            "hardware": self.hardware.to_dict() if self.hardware else None,
            "alternatives": [a.to_dict() for a in self.alternatives],
        }


@dataclass
class DatasetStats:
    """What the recommender reads about the data; every field is optional."""

    num_examples: int | None = None
    format: str | None = None  # the detected format; "text" means plain documents
    assistant_turns: int | None = None  # examples with an answer to learn (0 for raw documents)
    tokens: dict[str, float] = field(default_factory=dict)  # mean, max, total, p50, p90, p95, p99

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in asdict(self).items() if v not in (None, {})}
        return out
