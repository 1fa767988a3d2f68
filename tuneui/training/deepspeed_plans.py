"""DeepSpeed ZeRO-2 / ZeRO-3 (optionally with CPU offload) beside FSDP: config, accelerate YAML, Slurm, memory.

The DeepSpeed JSON is concrete (no "auto"): every value the HF Trainer would otherwise fill in is
taken from the RunConfig, so DeepSpeed's own parser (`deepspeed.runtime.config.DeepSpeedConfig`)
can validate it without a GPU, and the Trainer's consistency check passes because the values equal
its TrainingArguments. The accelerate YAML points at that JSON (`deepspeed_config_file`), so
`accelerate launch` runs the unchanged `python -m tuneui.training RUN.toml` under DeepSpeed.

Offload needs DeepSpeed's CPU Adam (built on first use with the compiler on the GPU machine), which
DeepSpeed only uses when the JSON names the optimizer, so offload configs carry an "optimizer" block.
"""

from __future__ import annotations

import json
import shlex

from tuneui.contract.config import RunConfig

STRATEGIES = {"zero2": (2, False), "zero2_offload": (2, True), "zero3": (3, False), "zero3_offload": (3, True)}


def _mixed(cfg: RunConfig) -> str:
    return "bf16" if cfg.precision in ("auto", "bf16") else ("fp16" if cfg.precision == "fp16" else "no")


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


def slurm_script(run_toml: str, config_file: str, nodes: int, gpus_per_node: int, name: str) -> str:
    """One accelerate launcher per node; with deepspeed_multinode_launcher 'standard' accelerate starts the
    node's processes itself (torchrun-style), so no hostfile or pdsh is needed."""
    from tuneui.training.launch_plans import slurm_script as fsdp_slurm

    return fsdp_slurm(run_toml, config_file, nodes, gpus_per_node, name)


def render(cfg: RunConfig, run_toml: str, strategy: str, *, gpus: int = 8, nodes: int = 1) -> str:
    ds_json, yaml = file_names(cfg, strategy)
    stage, offload = STRATEGIES[strategy]
    what = f"ZeRO-{stage}" + (" with CPU offload" if offload else "")
    return "\n".join([
        f"# DeepSpeed {what} for run '{cfg.name}': {nodes} node(s) x {gpus} GPU(s)  (pip install deepspeed)",
        f"# 1. save as {ds_json}",
        json.dumps(deepspeed_config(cfg, strategy), indent=2),
        f"# 2. save as {yaml}",
        accelerate_yaml(strategy, ds_json, gpus, nodes).rstrip(),
        "# 3. one machine:",
        f"accelerate launch --config_file {shlex.quote(yaml)} -m tuneui.training {shlex.quote(run_toml)}",
        f"# 4. several nodes under Slurm: save as {cfg.name}.sbatch, then sbatch {cfg.name}.sbatch",
        slurm_script(run_toml, yaml, max(nodes, 2), gpus, cfg.name).rstrip(),
    ]) + "\n"


def model_state_bytes(total_params: int, trainable_params: int, largest_layer_params: int, *, stage: int,
                      offload: bool, gpus_per_node: int = 1, nodes: int = 1) -> tuple[int, int]:
    """(per-GPU, per-node CPU) bytes of weights, gradients and optimizer state under DeepSpeed mixed precision,
    DeepSpeed's own accounting (runtime/zero/stage_1_and_2.py and stage3.py `estimate_zero*_model_states_mem_needs`,
    additional_buffer_factor 1.5 on CPU): every parameter as 16-bit (2 B); each trainable one also has a 16-bit
    and an fp32 gradient, an fp32 master copy and two fp32 Adam moments (2+4+4+8 = 18 B), partitioned over
    all GPUs. ZeRO-3 partitions the 16-bit weights too and gathers the largest layer (4 B/param) on demand.
    Frozen parameters (LoRA's base) carry only their 2 B."""
    n = gpus_per_node * nodes
    frozen = total_params - trainable_params
    if stage == 2:
        if offload:  # fp32 model copy per process at load (4n) vs master + moments + grads (16)
            return 2 * total_params, int(max(4 * n * total_params, 16 * trainable_params) * 1.5)
        return 2 * total_params + 18 * trainable_params // n, int(total_params * 4 * gpus_per_node * 1.5)
    gathered = 4 * largest_layer_params
    if offload:  # parameters and optimizer state both in CPU RAM (zero_init)
        return gathered, int((18 * trainable_params + 2 * frozen) / nodes * 1.5)
    # zero_init: each process materialises one layer at a time in CPU RAM while loading
    return gathered + (18 * trainable_params + 2 * frozen) // n, int(largest_layer_params * 4 * gpus_per_node * 1.5)
