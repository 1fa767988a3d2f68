"""Estimate, then verify: run a few real optimizer steps of a RunConfig and measure peak memory.

The training engine calls `verify_fit(cfg, hardware)` before a long run and, while the result says the
setup does not fit, `step_down(cfg)` for the next smaller setup: a smaller micro-batch (gradient
accumulation doubled to keep the effective batch), then gradient checkpointing, then an 8-bit optimizer
(full fine-tuning), then a lighter technique (full/freeze -> LoRA -> QLoRA). The probe builds the model
exactly as training does (`tuneui.training.model_setup.build_model`) and runs the step the way the
runner's Trainer does (bf16 autocast except for quantised bases, the same optimizer), on full-length
sequences: the worst case a packed batch can reach.
"""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tuneui.hardware import HardwareProfile
from tuneui.recommend.memory import CUDA_CONTEXT_BYTES, Setup, estimate

MARGIN = 0.10


@dataclass
class ProbeResult:
    fits: bool
    measured_bytes: int | None  # peak live tensors (CUDA: max_memory_allocated; CPU: profiler accounting)
    reserved_bytes: int | None  # CUDA: the allocator's peak reservation (what nvidia-smi sees, minus context)
    estimated_bytes: int  # the memory model's tensor estimate for the same setup
    estimated_peak_bytes: int  # ... plus allocator slack and CUDA context
    budget_bytes: int
    device: str
    steps: int
    seconds: float
    oom: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def error_ratio(self) -> float | None:
        if not self.measured_bytes:
            return None
        return (self.estimated_bytes - self.measured_bytes) / self.measured_bytes

    def summary(self) -> str:
        gib = 1024**3
        if self.oom:
            return f"out of memory on {self.device} (estimate {self.estimated_peak_bytes / gib:.1f} GiB)"
        if self.measured_bytes is None:
            return f"probe failed: {self.error}"
        return (f"measured {self.measured_bytes / gib:.2f} GiB of tensors vs estimated {self.estimated_bytes / gib:.2f} "
                f"GiB ({self.error_ratio:+.0%}) on {self.device}; budget {self.budget_bytes / gib:.1f} GiB: "
                + ("fits" if self.fits else "does not fit"))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["error_ratio"] = self.error_ratio
        d["summary"] = self.summary()
        return d


def _device_for(hardware: HardwareProfile | None) -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def setup_from_config(cfg, hardware: HardwareProfile | None = None, device: str | None = None) -> Setup:
    """The memory-model Setup that a RunConfig trains with (precision 'auto' resolved like the runner)."""
    dev = device or (hardware.accelerator if hardware and hardware.gpus else "cpu")
    precision = cfg.precision
    if precision == "auto":
        precision = "bf16" if (hardware is not None and hardware.bf16 and dev != "cpu") else "fp32"
    targets = cfg.lora_target_modules if isinstance(cfg.lora_target_modules, str) else tuple(cfg.lora_target_modules)
    return Setup(
        technique=cfg.technique, optimizer=cfg.optimizer, precision=precision,
        gradient_checkpointing=cfg.gradient_checkpointing, micro_batch_size=cfg.micro_batch_size,
        seq_len=cfg.max_seq_length, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        lora_r=cfg.lora_r, lora_targets=targets, freeze_trainable_layers=cfg.freeze_trainable_layers,
        double_quant=cfg.bnb_4bit_double_quant, padded=not cfg.packing, packed=cfg.packing, device=dev,
        dora=cfg.use_dora,
    )


def make_optimizer(model, optimizer: str, lr: float = 1e-5, weight_decay: float = 0.0):
    """The optimizer the runner's Trainer builds for RunConfig.optimizer (adamw_torch, bnb 8-bit, sgd)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        import bitsandbytes as bnb

        cls = bnb.optim.PagedAdamW8bit if optimizer == "paged_adamw_8bit" else bnb.optim.AdamW8bit
        return cls(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def worst_case_batch(micro_batch_size: int, seq_len: int, vocab: int, packing: bool, device: str, seed: int = 0):
    """A batch shaped the way the runner's collators shape a full one: packing concatenates the micro-batch
    into one row with position_ids restarting per example (transformers then builds a block-diagonal
    mask); padding keeps one row per example with an attention mask that does mask something."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (micro_batch_size, seq_len), generator=gen)
    if packing:
        batch = {"input_ids": ids.reshape(1, -1), "position_ids": torch.arange(seq_len).repeat(micro_batch_size)[None]}
    else:
        mask = torch.ones_like(ids)
        mask[-1, -1] = 0  # one pad position, as in any real padded batch
        batch = {"input_ids": ids, "attention_mask": mask}
    batch["labels"] = batch["input_ids"]
    return {k: v.to(device) for k, v in batch.items()}


def make_train_step(model, opt, *, batch, autocast_dtype, device: str, micro_steps: int = 1,
                    max_grad_norm: float = 1.0):
    """One optimizer step as the runner's Trainer takes it: `micro_steps` forward/backward passes (gradients
    accumulate), gradient clipping, the optimizer step, gradients set to None."""
    import contextlib

    import torch

    def step() -> None:
        for _ in range(micro_steps):
            ctx = (torch.autocast(device_type=device.split(":")[0], dtype=autocast_dtype) if autocast_dtype
                   else contextlib.nullcontext())
            with ctx:
                loss = model(**batch, use_cache=False).loss
            (loss / micro_steps).backward()
            del loss
        if max_grad_norm:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def autocast_dtype_for(cfg, dtype):
    """The runner turns on Trainer's bf16/fp16 autocast except for quantised bases (see runner._trainer)."""
    import torch

    if dtype == torch.float16:
        return torch.float16
    if dtype == torch.bfloat16 and cfg.technique not in ("qlora", "lora_8bit"):
        return torch.bfloat16
    return None


def verify_fit(cfg, hardware: HardwareProfile | None = None, *, steps: int = 3, margin: float = MARGIN,
               model_info=None) -> ProbeResult:
    """Run `steps` real optimizer steps of `cfg` and compare measured peak memory with the estimate.

    Never raises for an out-of-memory error: that is a result (fits=False, oom=True).
    """
    import torch

    from tuneui.hardware import probe as probe_hardware
    from tuneui.modelload import compute_dtype, load_tokenizer
    from tuneui.models import inspect_model
    from tuneui.training.measure import live_tensor_bytes, measure_peak, model_tensors
    from tuneui.training.model_setup import build_model

    hardware = hardware or probe_hardware()
    device = _device_for(hardware)
    info = model_info or inspect_model(cfg.model, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code)
    setup = setup_from_config(cfg, hardware, device=device)
    est = estimate(info, setup)
    if device == "cuda":
        free, _total = torch.cuda.mem_get_info()
        budget = int(free * (1 - margin)) - CUDA_CONTEXT_BYTES
    else:
        budget = int((hardware.ram_available_bytes or hardware.ram_total_bytes or 0) * (1 - margin))
    t0 = time.perf_counter()
    result = ProbeResult(fits=False, measured_bytes=None, reserved_bytes=None, estimated_bytes=est.tensor_bytes,
                         estimated_peak_bytes=est.peak_bytes, budget_bytes=budget, device=device, steps=steps,
                         seconds=0.0)
    model = opt = step = None
    try:
        tokenizer = load_tokenizer(cfg)
        model = build_model(cfg, tokenizer)
        if cfg.technique not in ("qlora", "lora_8bit"):
            model.to(device)
        model.train()
        opt = make_optimizer(model, cfg.optimizer, weight_decay=cfg.weight_decay)
        vocab = int(getattr(model.config, "vocab_size", None) or len(tokenizer))
        batch = worst_case_batch(cfg.micro_batch_size, cfg.max_seq_length, vocab, cfg.packing, device, cfg.seed)
        micro = min(cfg.gradient_accumulation_steps, 2)  # two micro-batches show accumulated gradients
        step = make_train_step(model, opt, batch=batch, autocast_dtype=autocast_dtype_for(cfg, compute_dtype(cfg)),
                               device=device, micro_steps=micro, max_grad_norm=cfg.max_grad_norm)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        result.measured_bytes = measure_peak(step, device, lambda: live_tensor_bytes(model_tensors(model, opt)),
                                             steps=steps)
        if device == "cuda":
            result.reserved_bytes = int(torch.cuda.max_memory_reserved())
        used = result.reserved_bytes or result.measured_bytes
        result.fits = used <= budget
    except torch.OutOfMemoryError as exc:
        result.oom, result.error = True, str(exc).splitlines()[0]
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower():
            raise
        result.oom, result.error = True, str(exc).splitlines()[0]
    finally:
        model = opt = step = None  # drop the references so the memory is freed before returning
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
        result.seconds = round(time.perf_counter() - t0, 2)
    if result.measured_bytes and result.error_ratio is not None and result.error_ratio < -0.15:
        result.notes.append("the estimate was more than 15% under the measurement; the measurement wins")
    return result


_LIGHTER = {"full": "lora", "freeze": "lora", "lora": "qlora", "lora_8bit": "qlora"}


def step_down(cfg, hardware: HardwareProfile | None = None):
    """The next smaller setup, or None when nothing smaller is left: micro-batch halves (accumulation
    doubles, the effective batch stays), then gradient checkpointing, then 8-bit AdamW for full
    fine-tuning (CUDA/ROCm only: bitsandbytes has no CPU optimizers), then a lighter technique
    (full/freeze -> LoRA -> QLoRA)."""
    from tuneui.contract.config import RunConfig

    def changed(**upd):
        return RunConfig.from_dict({**cfg.model_dump(), **upd}, source="step_down")

    if cfg.micro_batch_size > 1:
        return changed(micro_batch_size=cfg.micro_batch_size // 2,
                       gradient_accumulation_steps=cfg.gradient_accumulation_steps * 2)
    if not cfg.gradient_checkpointing:
        return changed(gradient_checkpointing=True)
    gpu = hardware is None or hardware.accelerator in ("cuda", "rocm")
    if cfg.technique == "full" and cfg.optimizer == "adamw" and gpu:
        return changed(optimizer="adamw_8bit")
    lighter = _LIGHTER.get(cfg.technique)
    if lighter is None:
        return None
    precision = "bf16" if cfg.precision == "fp32" and lighter != "full" and gpu else cfg.precision
    return changed(technique=lighter, optimizer="adamw" if cfg.optimizer == "sgd" else cfg.optimizer,
                   precision=precision)


def fit_config(cfg, hardware: HardwareProfile | None = None, *, steps: int = 3, max_attempts: int = 8,
               on_result=None):
    """Probe `cfg`, stepping down until a setup fits: (the config that fits or None, every ProbeResult).
    `on_result(cfg, result)` is called after each probe (the engine turns it into a warning event)."""
    results: list[ProbeResult] = []
    current = cfg
    for _ in range(max_attempts):
        result = verify_fit(current, hardware, steps=steps)
        results.append(result)
        if on_result is not None:
            on_result(current, result)
        if result.fits:
            return current, results
        current = step_down(current, hardware)
        if current is None:
            break
    return None, results
