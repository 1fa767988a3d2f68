"""What to run on a multi-GPU box or a cluster: accelerate config, launch command, Slurm script.

`tuneui train RUN.toml --print-launch` prints these so the same RunConfig runs unchanged under a
standard launcher; the Trainer picks the sharding up from accelerate's environment. It starts with
every strategy's per-GPU memory estimate, then the plan for RunConfig.launch_strategy: FSDP
full-shard (the ZeRO-3 equivalent built into PyTorch, nothing extra to install; the default) or
DeepSpeed ZeRO-2 / ZeRO-3 with or without CPU offload (tuneui.training.deepspeed_plans).
"""

from __future__ import annotations

import json
import shlex
import typing
from pathlib import Path

from tuneui.contract.config import LaunchStrategy, RunConfig
from tuneui.training import deepspeed_plans

STRATEGIES: tuple[str, ...] = typing.get_args(LaunchStrategy)
ABOUT = {
    "fsdp": "FSDP full-shard: built into PyTorch, nothing to install",
    "zero2": "DeepSpeed ZeRO-2: gradients and optimizer split, weights whole",
    "zero2_offload": "ZeRO-2 + optimizer state in CPU RAM",
    "zero3": "DeepSpeed ZeRO-3: everything split, a layer gathered at a time",
    "zero3_offload": "ZeRO-3 + weights and optimizer state in CPU RAM",
}


def _layer_class(cfg: RunConfig) -> str:
    """The decoder-layer class FSDP wraps, read from the model's config.json when we can."""
    try:
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        )

        from tuneui.models import inspect_model

        arch = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(inspect_model(cfg.model).model_type, "")
    except Exception:  # noqa: BLE001 - a plan is still useful with the usual default
        arch = ""
    family = arch.removesuffix("ForCausalLM") or "Llama"
    return f"{family}DecoderLayer"


def accelerate_config(cfg: RunConfig, num_processes: int, num_machines: int = 1) -> str:
    """accelerate's FSDP config (DeepSpeed's is deepspeed_plans.accelerate_yaml)."""
    mixed = "bf16" if cfg.precision in ("auto", "bf16") else ("fp16" if cfg.precision == "fp16" else "no")
    common = [
        "compute_environment: LOCAL_MACHINE",
        f"num_machines: {num_machines}",
        f"num_processes: {num_processes * num_machines}",
        "machine_rank: 0",
        f"mixed_precision: {mixed}",
        "main_training_function: main",
        "use_cpu: false",
    ]
    return "\n".join(common + [
        "distributed_type: FSDP",
        "fsdp_config:",
        "  fsdp_version: 2",
        "  fsdp_reshard_after_forward: true  # FULL_SHARD: parameters, gradients and optimizer state sharded",
        "  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP",
        f"  fsdp_transformer_layer_cls_to_wrap: {_layer_class(cfg)}",
        "  fsdp_state_dict_type: SHARDED_STATE_DICT",
        "  fsdp_cpu_ram_efficient_loading: true",
        f"  fsdp_activation_checkpointing: {'true' if cfg.gradient_checkpointing else 'false'}",
        "  fsdp_offload_params: false",
    ]) + "\n"


def slurm_script(run_toml: str, config_file: str, nodes: int, gpus_per_node: int, name: str) -> str:
    return f"""#!/bin/bash
#SBATCH --job-name={name}
#SBATCH --nodes={nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={gpus_per_node}
#SBATCH --cpus-per-task={8 * gpus_per_node}
#SBATCH --output=%x-%j.out
set -euo pipefail
# One launcher per node; accelerate starts {gpus_per_node} training processes on each.
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
srun bash -c 'accelerate launch --config_file {shlex.quote(config_file)} \\
  --num_machines {nodes} --num_processes {nodes * gpus_per_node} \\
  --machine_rank $SLURM_NODEID --main_process_ip '"$head"' --main_process_port 29500 \\
  -m tuneui.training {shlex.quote(run_toml)}'
"""


def memory_lines(cfg: RunConfig, gpus: int, chosen: str) -> list[str]:
    """Comment lines: every strategy's estimated peak per GPU (bf16 on CUDA) for this config."""
    from tuneui.recommend.memory import estimate, with_
    from tuneui.training.fit_probe import setup_from_config

    try:
        from tuneui.models import inspect_model

        info = inspect_model(cfg.model, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - the plan is still useful without the table
        return [f"# (no memory estimates: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"]
    base = setup_from_config(cfg, device="cuda")
    if cfg.precision == "auto":
        base = with_(base, precision="bf16")
    lines = [f"# estimated peak memory per GPU on {gpus} GPU(s), {base.precision}, micro-batch {cfg.micro_batch_size}"
             f" x {cfg.max_seq_length} tokens (pick one with --set launch_strategy=NAME; > marks this plan):"]
    for name in STRATEGIES:
        mark = ">" if name == chosen else " "
        if name != "fsdp" and cfg.technique in ("qlora", "lora_8bit"):
            lines.append(f"# {mark} {name:<14} {'n/a':>10}   {ABOUT[name]} (estimate covers 16-bit bases only)")
            continue
        sharding = "fsdp_full_shard" if name == "fsdp" else name.removesuffix("_offload")
        est = estimate(info, with_(base, num_gpus=gpus, sharding=sharding, cpu_offload=name.endswith("_offload")))
        cpu = f" ({est.cpu_bytes / 1024**3:.1f} GiB in CPU RAM)" if name.endswith("_offload") else ""
        lines.append(f"# {mark} {name:<14} {est.peak_bytes / 1024**3:>6.1f} GiB   {ABOUT[name]}{cpu}")
    return lines


def render(cfg: RunConfig, run_toml: str, *, gpus: int = 8, nodes: int = 1, strategy: str | None = None) -> str:
    strategy = strategy or cfg.launch_strategy
    parts = [f"# tuneui launch plan for run '{cfg.name}': {nodes} node(s) x {gpus} GPU(s), technique "
             f"{cfg.technique}, strategy {strategy}", *memory_lines(cfg, gpus * nodes, strategy), ""]
    if strategy == "fsdp":
        config_file = f"accelerate_{cfg.name}.yaml"
        parts += [
            f"# 1. save this as {config_file}  (FSDP full-shard = ZeRO-3: weights, gradients and optimizer",
            "#    state split across GPUs, so a model too big for one GPU trains on several)",
            accelerate_config(cfg, gpus, nodes).rstrip(),
        ]
    else:
        ds_json, config_file = deepspeed_plans.file_names(cfg, strategy)
        stage, offload = deepspeed_plans.STRATEGIES[strategy]
        parts += [
            f"# 1. save as {ds_json}  (DeepSpeed ZeRO-{stage}{' with CPU offload' if offload else ''}; "
            "pip install deepspeed)",
            json.dumps(deepspeed_plans.deepspeed_config(cfg, strategy), indent=2),
            f"# 1b. save as {config_file}",
            deepspeed_plans.accelerate_yaml(strategy, ds_json, gpus, nodes).rstrip(),
        ]
    parts += [
        "",
        "# 2. on one machine:",
        f"accelerate launch --config_file {shlex.quote(config_file)} -m tuneui.training {shlex.quote(run_toml)}",
        "#    (plain data parallel without sharding: torchrun --nproc_per_node "
        f"{gpus} -m tuneui.training {shlex.quote(run_toml)})",
        "", f"# 3. several nodes under Slurm: save as {cfg.name}.sbatch, then sbatch {cfg.name}.sbatch",
        slurm_script(run_toml, config_file, max(nodes, 2), gpus, cfg.name).rstrip(),
    ]
    return "\n".join(parts) + "\n"


def default_run_toml(args_target: str | None) -> str:
    """What the launched processes are given: the config file, or the demo flag."""
    if args_target:
        p = Path(args_target)
        return str(p / "run.toml") if p.is_dir() else str(p)
    return "--demo"
