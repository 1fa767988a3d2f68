"""DeepSpeed ZeRO-2 / ZeRO-3 (optionally with CPU offload) beside FSDP: config, accelerate YAML, Slurm, memory.

The DeepSpeed JSON is concrete (no "auto"): every value the HF Trainer would otherwise fill in is
taken from the RunConfig, so DeepSpeed's own parser (`deepspeed.runtime.config.DeepSpeedConfig`)
can validate it without a GPU, and the Trainer's consistency check passes because the values equal
its TrainingArguments. The accelerate YAML points at that JSON (`deepspeed_config_file`), so
`accelerate launch` runs the unchanged `python -m tuneui.training RUN.toml` under DeepSpeed;
tuneui.training.launch_plans prints them with the launch command and the Slurm script.

The memory these need is DeepSpeed's own accounting, in tuneui.recommend.zero.

Offload needs DeepSpeed's CPU Adam (built on first use with the compiler on the GPU machine), which
DeepSpeed only uses when the JSON names the optimizer, so offload configs carry an "optimizer" block.
"""

from __future__ import annotations

from tuneui.contract.config import RunConfig

STRATEGIES = {"zero2": (2, False), "zero2_offload": (2, True), "zero3": (3, False), "zero3_offload": (3, True)}


def _mixed(cfg: RunConfig) -> str:
    """What training_arguments gives the Trainer on a GPU (the Trainer checks the JSON against it): bf16 for
    'auto' and 'bf16' except on quantised bases, which keep their own compute dtype."""
    if cfg.precision == "fp16":
        return "fp16"
    if cfg.precision in ("auto", "bf16") and cfg.technique not in ("qlora", "lora_8bit"):
        return "bf16"
    return "no"


def deepspeed_config(cfg: RunConfig, strategy: str) -> dict:
    stage, offload = STRATEGIES[strategy]
    mixed = _mixed(cfg)
    zero: dict = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True,
                  "reduce_bucket_size": 5e8, "allgather_bucket_size": 5e8}
    if stage == 3:
        zero.update(stage3_gather_16bit_weights_on_model_save=True, stage3_prefetch_bucket_size=5e8,
                    stage3_param_persistence_threshold=1e6)
        zero.pop("allgather_bucket_size")
    if offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    config = {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "gradient_clipping": cfg.max_grad_norm,
        "bf16": {"enabled": mixed == "bf16"},
        "fp16": {"enabled": mixed == "fp16"},
        "zero_optimization": zero,
        "steps_per_print": max(cfg.logging_steps, 1),
        "wall_clock_breakdown": False,
    }
    if offload:
        config["optimizer"] = {"type": "AdamW", "params": {"lr": cfg.learning_rate, "betas": [0.9, 0.999],
                                                          "eps": 1e-8, "weight_decay": cfg.weight_decay}}
    return config


def accelerate_yaml(strategy: str, ds_json: str, gpus_per_node: int, nodes: int = 1) -> str:
    """accelerate's DeepSpeed plugin reads everything else from the JSON; zero3_init_flag builds the model
    already partitioned, which is what lets a model larger than one GPU load at all."""
    stage, _ = STRATEGIES[strategy]
    lines = [
        "compute_environment: LOCAL_MACHINE",
        "distributed_type: DEEPSPEED",
        "deepspeed_config:",
        f"  deepspeed_config_file: {ds_json}",
        f"  zero3_init_flag: {'true' if stage == 3 else 'false'}",
        "  deepspeed_multinode_launcher: standard",
        f"num_machines: {nodes}",
        f"num_processes: {gpus_per_node * nodes}",
        "machine_rank: 0",
        "main_training_function: main",
        "use_cpu: false",
    ]
    return "\n".join(lines) + "\n"


def file_names(cfg: RunConfig, strategy: str) -> tuple[str, str]:
    return f"ds_{strategy}_{cfg.name}.json", f"accelerate_{strategy}_{cfg.name}.yaml"
