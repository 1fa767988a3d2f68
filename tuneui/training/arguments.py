"""The one place a RunConfig becomes the Hugging Face Trainer's arguments.

Fields the Trainer has under another name are listed in SAME_MEANING; the few that need a decision
(the optimizer's implementation, mixed precision, the batching strategy) are computed below. Saving and
evaluation are off here on purpose: tuneui's RunCallback drives them (sealed checkpoints, its own
evaluation), and events.jsonl replaces the Trainer's printed logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneui.contract.config import RunConfig

# RunConfig field -> TrainingArguments field, where the value passes through unchanged.
SAME_MEANING = {
    "micro_batch_size": "per_device_train_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
    "lr_scheduler": "lr_scheduler_type",
    # transformers 5 reads a warmup_steps below 1 as a share of the steps (warmup_ratio is deprecated).
    "warmup_ratio": "warmup_steps",
    "max_grad_norm": "max_grad_norm",
    "epochs": "num_train_epochs",
    "max_steps": "max_steps",
    "logging_steps": "logging_steps",
    "seed": "seed",
    # NEFTune is the Trainer's own: noise on the input embeddings during train() only
    "neftune_noise_alpha": "neftune_noise_alpha",
}
# Fused AdamW updates in place (no moment-sized temporary); the memory model assumes it
# (tuneui.contract.recommend.RUNNER_FUSED_ADAMW).
OPTIMIZERS = {"adamw": "adamw_torch_fused", "adamw_8bit": "adamw_bnb_8bit", "paged_adamw_8bit": "paged_adamw_8bit",
              "sgd": "sgd"}


def training_arguments(cfg: RunConfig, run_dir: Path, cls: Any = None, **extra: Any) -> Any:
    """`cls`: a TrainingArguments subclass (TRL's DPOConfig/KTOConfig), `extra` its own fields; they
    override the values below where they name the same field."""
    import torch
    from transformers import TrainingArguments

    from tuneui.modelload import compute_dtype
    from tuneui.trackers import PROJECT

    dtype = compute_dtype(cfg)
    mapped = {theirs: getattr(cfg, ours) for ours, theirs in SAME_MEANING.items()}
    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir / "trainer"), **mapped, optim=OPTIMIZERS[cfg.optimizer],
        logging_first_step=True, data_seed=cfg.seed,
        save_strategy="no", eval_strategy="no",
        # the trackers' callbacks read their environment (tuneui.trackers.tracker_setup) when the Trainer is built
        report_to=list(cfg.report_to) or "none", run_name=cfg.name, project=PROJECT,
        # quantised bases keep their own compute dtype; autocast on top of them only costs
        bf16=dtype == torch.bfloat16 and cfg.technique not in ("qlora", "lora_8bit"),
        fp16=dtype == torch.float16,
        use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True,
        train_sampling_strategy="random" if cfg.packing else "group_by_length",
        length_column_name="length", ddp_find_unused_parameters=False,
    )
    return (cls or TrainingArguments)(**(kwargs | extra))
