"""What to run on a multi-GPU box or a cluster: accelerate config, launch command, Slurm script.

`tuneui train RUN.toml --print-launch` prints these so the same RunConfig runs unchanged under a
standard launcher; the Trainer picks the sharding up from accelerate's environment. FSDP
full-shard is the ZeRO-3 equivalent built into PyTorch, so it needs nothing extra installed;
DeepSpeed ZeRO-3 is offered when deepspeed is importable.
"""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

from tuneui.contract.config import RunConfig


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


def accelerate_config(cfg: RunConfig, num_processes: int, num_machines: int = 1,
                      strategy: str = "fsdp") -> str:
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
    if strategy == "deepspeed":
        return "\n".join(common + [
            "distributed_type: DEEPSPEED",
            "deepspeed_config:",
            "  zero_stage: 3",
            "  offload_optimizer_device: none",
            "  offload_param_device: none",
            "  zero3_init_flag: true",
            "  zero3_save_16bit_model: true",
            f"  gradient_accumulation_steps: {cfg.gradient_accumulation_steps}",
        ]) + "\n"
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


def render(cfg: RunConfig, run_toml: str, *, gpus: int = 8, nodes: int = 1) -> str:
    deepspeed = importlib.util.find_spec("deepspeed") is not None
    config_file = f"accelerate_{cfg.name}.yaml"
    parts = [
        f"# tuneui launch plan for run '{cfg.name}': {nodes} node(s) x {gpus} GPU(s), technique {cfg.technique}",
        f"# 1. save this as {config_file}  (FSDP full-shard = ZeRO-3: weights, gradients and optimizer",
        "#    state split across GPUs, so a model too big for one GPU trains on several)",
        accelerate_config(cfg, gpus, nodes).rstrip(),
        "",
        "# 2. on one machine:",
        f"accelerate launch --config_file {shlex.quote(config_file)} -m tuneui.training {shlex.quote(run_toml)}",
        "#    (plain data parallel without sharding: torchrun --nproc_per_node "
        f"{gpus} -m tuneui.training {shlex.quote(run_toml)})",
    ]
    if deepspeed:
        parts += ["", "# DeepSpeed ZeRO-3 is installed; its equivalent config:",
                  accelerate_config(cfg, gpus, nodes, strategy="deepspeed").rstrip()]
    else:
        parts += ["", "# DeepSpeed ZeRO is not installed here (pip install deepspeed); FSDP above needs nothing extra."]
    parts += ["", f"# 3. several nodes under Slurm: save as {cfg.name}.sbatch, then sbatch {cfg.name}.sbatch",
              slurm_script(run_toml, config_file, max(nodes, 2), gpus, cfg.name).rstrip()]
    return "\n".join(parts) + "\n"


def default_run_toml(args_target: str | None) -> str:
    """What the launched processes are given: the config file, or the demo flag."""
    if args_target:
        p = Path(args_target)
        return str(p / "run.toml") if p.is_dir() else str(p)
    return "--demo"
