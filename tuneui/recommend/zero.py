"""DeepSpeed ZeRO's model states (weights, gradients, optimizer state) per GPU and in CPU RAM.

DeepSpeed's own accounting (deepspeed/runtime/zero/stage_1_and_2.py and stage3.py,
`estimate_zero2_model_states_mem_needs` / `estimate_zero3_model_states_mem_needs` with zero_init, CPU
figures with their additional_buffer_factor 1.5), extended to frozen parameters (LoRA's base):

  ZeRO-2   every parameter as 16-bit on every GPU (2 B); each trainable one also has a 16-bit and an
           fp32 gradient, an fp32 master copy and two fp32 Adam moments (2+4+4+8 = 18 B), partitioned
           over all GPUs
  ZeRO-3   the 16-bit weights are partitioned too; one layer is gathered at a time (DeepSpeed counts
           4 B per parameter of the largest layer); 18 B per trainable and 2 B per frozen parameter,
           partitioned
  offload  the optimizer's part (and for ZeRO-3 the parameters) lives in CPU RAM

This differs from FSDP with torch mixed precision (fp32 weights sharded, bf16 compute copies), which is
what memory.py's fsdp_full_shard models. Nothing here imports torch or deepspeed.
"""

from __future__ import annotations

from dataclasses import dataclass

ZERO_STAGES = {"zero2": 2, "zero3": 3}
BUFFER_FACTOR = 1.5  # DeepSpeed's additional_buffer_factor for CPU RAM


@dataclass(frozen=True)
class ZeroStates:
    weights: int  # per GPU
    gradients: int  # per GPU
    optimizer: int  # per GPU
    cpu: int  # per node

    @property
    def gpu(self) -> int:
        return self.weights + self.gradients + self.optimizer


def zero_states(total_params: int, trainable_params: int, largest_layer_params: int, *, stage: int, offload: bool,
                gpus_per_node: int = 1, nodes: int = 1) -> ZeroStates:
    n = gpus_per_node * nodes
    p, frozen = trainable_params, total_params - trainable_params
    if stage == 2:
        if offload:  # fp32 model copy per process at load (4n) vs master + moments + grads (16)
            return ZeroStates(2 * total_params, 0, 0,
                              int(max(4 * n * total_params, 16 * p) * BUFFER_FACTOR))
        grads = 6 * p // n  # 16-bit + fp32 gradient partitions
        return ZeroStates(2 * total_params, grads, 18 * p // n - grads,
                          int(total_params * 4 * gpus_per_node * BUFFER_FACTOR))
    gathered = 4 * largest_layer_params
    if offload:  # parameters and optimizer state both in CPU RAM (zero_init)
        return ZeroStates(gathered, 0, 0, int((18 * p + 2 * frozen) / nodes * BUFFER_FACTOR))
    # zero_init: each process materialises one layer at a time in CPU RAM while loading
    weights = gathered + 2 * total_params // n
    grads = 4 * p // n
    rest = (18 * p + 2 * frozen) // n - 2 * total_params // n - grads
    return ZeroStates(weights, grads, rest, int(largest_layer_params * 4 * gpus_per_node * BUFFER_FACTOR))


def model_state_bytes(total_params: int, trainable_params: int, largest_layer_params: int, *, stage: int,
                      offload: bool, gpus_per_node: int = 1, nodes: int = 1) -> tuple[int, int]:
    """(per-GPU, per-node CPU) bytes: for a full fine-tune exactly DeepSpeed's estimators."""
    s = zero_states(total_params, trainable_params, largest_layer_params, stage=stage, offload=offload,
                    gpus_per_node=gpus_per_node, nodes=nodes)
    return s.gpu, s.cpu
