"""Peak GPU memory of one training setup, per component, from the model's shape alone.

Everything here is arithmetic on a ModelInfo; nothing imports torch. Symbols used in the formulas:

  N     all parameters            H  hidden size          I  MLP intermediate size
  P     trainable parameters      L  decoder layers       V  vocabulary
  T     tokens per micro-batch = micro_batch_size * seq_len
  q     query width = heads * head_dim       kv  key/value width = kv_heads * head_dim
  c     bytes of the compute dtype (2 for bf16/fp16, 4 for fp32)
  a     bytes of LoRA adapter weights (4: peft keeps adapters in fp32 on a bf16 base)

The peak is taken over the two moments that dominate a training step:
  backward start  weights + optimizer state + all saved activations + logits/loss buffers
  optimizer step  weights + optimizer state + every gradient + optimizer temporaries
(optimizer state exists from the first step on, so the second step's backward is the real peak).
On a GPU the allocator adds fragmentation and the CUDA context sits outside tensors; both are in
`overhead`, and `tensor_bytes` (the part torch.cuda.max_memory_allocated sees) leaves them out.
"""

from __future__ import annotations

from dataclasses import replace

from tuneui.contract.recommend import MemoryEstimate, Setup
from tuneui.models import ModelInfo
from tuneui.recommend import objectives
from tuneui.recommend.zero import ZERO_STAGES, zero_states

GiB = 1024**3
MiB = 1024**2

CUDA_CONTEXT_BYTES = 600 * MiB  # CUDA context + cuBLAS/cuDNN workspaces, measured 450-750 MiB on A100/H100
FRAGMENTATION = 0.06  # caching-allocator slack on top of live tensors (reserved vs allocated)

SHARDING = (None, "ddp", "zero2", "zero3", "fsdp_full_shard")  # zero2/zero3: DeepSpeed; FSDP full-shard ~ ZeRO-3


def _bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def trainable_params(m: ModelInfo, s: Setup) -> int:
    if s.technique == "full":
        return m.total_params
    if s.technique == "freeze":
        # top-N decoder layers plus the final norm; embeddings and lm_head stay frozen
        return min(s.freeze_trainable_layers, m.num_layers) * m.layer_params + m.hidden_size
    targets = s.lora_targets if isinstance(s.lora_targets, str) else list(s.lora_targets)
    dora = dora_costs(m.adapted_shapes(targets), m.num_layers, 2)["magnitude_params"] if s.dora else 0
    return m.lora_params(s.lora_r, targets) + dora


def dora_costs(linear_shapes: list[tuple[int, int]], num_layers: int, activation_bytes: int) -> dict[str, int]:
    """What DoRA adds to LoRA on the adapted linears ((in, out) per layer, as ModelInfo.adapted_shapes):

    saved_per_token  peft's DoRA forward, (m/||W+sBA|| - 1) * base_out + m/||W+sBA|| * lora_out * s, keeps
                     base_out and lora_out (T x out each) for the magnitude's gradient: 2 * c * sum(out) per
                     token per layer (measured exactly with saved-tensor hooks, tests/engine/test_lora_variants.py)
    magnitude_params one trainable magnitude per output feature: num_layers * sum(out) (fp32, with grads/moments)
    transient_bytes  the weight norm needs B@A and W + s*B@A as full out x in matrices, one linear at a time
                     (fp32 adapters): 2 * 4 * max(in * out), freed before the next linear
    """
    total_out = sum(o for _, o in linear_shapes)
    return {"saved_per_token": 2 * activation_bytes * total_out * num_layers,
            "magnitude_params": num_layers * total_out,
            "transient_bytes": 2 * 4 * max((i * o for i, o in linear_shapes), default=0)}


def _dora(m: ModelInfo, s: Setup, activation_bytes: int) -> dict[str, int]:
    if not s.dora or s.technique not in ("lora", "qlora", "lora_8bit"):
        return {"saved_per_token": 0, "magnitude_params": 0, "transient_bytes": 0}
    targets = s.lora_targets if isinstance(s.lora_targets, str) else list(s.lora_targets)
    return dora_costs(m.adapted_shapes(targets), m.num_layers, activation_bytes)


def _linear_params(m: ModelInfo) -> int:
    """Elements in the decoder layers' linear weights: what bitsandbytes quantises (not embeddings/lm_head)."""
    per_layer = sum(i * o for i, o in m.linear_shapes)
    if m.num_experts:
        mlp = sum(i * o for i, o in m.linear_shapes[4:])
        per_layer += mlp * (m.num_experts - 1)
    return m.num_layers * per_layer


def weight_bytes(m: ModelInfo, s: Setup, p_train: int) -> int:
    """Weights resident on each GPU.

    full      N * (4 if fp32 master weights or fp32 compute else c)
    freeze    N * c
    lora      N * c + P * a
    lora_8bit lin * (1 + 4/in: int8 + one fp32 scale per output row) + (N - lin) * 4 + P * a
    qlora     lin * (0.5 + absmax) + (N - lin) * 4 + P * a; everything not quantised (embeddings, norms,
              lm_head) is upcast to fp32 by peft's prepare_model_for_kbit_training. NF4 packs two weights per byte and keeps
              one absmax per 64-weight block: fp32 (4/64 B) or, double-quantised, int8 plus one fp32
              per 256 blocks (1/64 + 4/16384 B), the 0.37 bit/param saving of the QLoRA paper.
    """
    c = _bytes(s.precision)
    n = m.total_params
    if s.technique == "full":
        return n * (4 if (s.master_weights_fp32 or s.precision == "fp32") else c)
    if s.technique == "freeze":
        return n * c
    lin = _linear_params(m)
    adapters = p_train * 4
    if s.technique == "lora":
        return n * c + adapters
    # prepare_model_for_kbit_training keeps everything it does not quantise in fp32
    rest = (n - lin) * 4
    if s.technique == "lora_8bit":
        rows = m.num_layers * sum(o for _, o in m.linear_shapes)
        return lin + 4 * rows + rest + adapters
    absmax = (1 / 64 + 4 / (64 * 256)) if s.double_quant else 4 / 64
    return int(lin * (0.5 + absmax)) + rest + adapters


def grad_bytes(m: ModelInfo, s: Setup, p_train: int) -> int:
    """Gradients: one per trainable parameter in the parameter's dtype (fp32 for master weights and adapters)."""
    if s.technique == "full":
        return m.total_params * (4 if (s.master_weights_fp32 or s.precision == "fp32") else _bytes(s.precision))
    if s.technique == "freeze":
        return p_train * _bytes(s.precision)
    return p_train * 4


def optimizer_bytes(m: ModelInfo, s: Setup, p_train: int) -> int:
    """AdamW keeps two moments per trainable parameter in the parameter's dtype (fp32 master/adapters: 8 B,
    pure bf16: 4 B); bitsandbytes 8-bit AdamW keeps two int8 moments plus an fp32 absmax per 256 (2.03 B);
    paged 8-bit is the same on the GPU until memory runs short, then pages to CPU; plain SGD keeps none."""
    if s.optimizer == "sgd":
        return 0
    if s.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        return int(p_train * (2 + 8 / 256))
    if s.technique == "full" and not (s.master_weights_fp32 or s.precision == "fp32"):
        return p_train * 2 * _bytes(s.precision)
    if s.technique == "freeze":
        return p_train * 2 * _bytes(s.precision)
    return p_train * 8


def _kbit(s: Setup) -> bool:
    return s.technique in ("qlora", "lora_8bit")


def activation_dtype_bytes(s: Setup) -> int:
    """Bytes per activation element the way tuneui's runner trains: full/freeze/LoRA run in the compute
    dtype (bf16 autocast on a bf16 model); quantised bases go through peft's prepare_model_for_kbit_training,
    which upcasts embeddings, norms and lm_head to fp32, and train without autocast, so the residual stream,
    attention and MLP activations are fp32 (bitsandbytes casts its outputs back to the input dtype)."""
    return 4 if _kbit(s) else _bytes(s.precision)


def layer_activation_bytes(m: ModelInfo, s: Setup) -> float:
    """Bytes autograd saves per token in one Llama-style decoder layer (SwiGLU, RMSNorm, no dropout, SDPA).

    c is the activation dtype (activation_dtype_bytes).
    trainable weights (full / freeze):
      each RMSNorm: 4H (fp32 upcast of the input) + cH (normalised, for the weight's grad) + cH (its output,
      for the next linears' weight grads)                                        -> 2 * (4 + 2c) H
      attention: q, k, v and the output kept by SDPA (flash/efficient kernels save no s x s matrix),
      c(2q + 2kv) (kv widened to q when padding forces the grouped heads to be repeated), the o_proj input
      cq, and the fp32 log-sum-exp 4 * heads                                     -> c(3q + 2kv) + 4 heads
      SwiGLU: gate output (for SiLU), SiLU output, up output, their product (for down_proj) -> 4cI
    frozen base + LoRA on every linear:
      each RMSNorm: 4H (the frozen weight needs nothing else)                    -> 8H
      adapter inputs: q, k, v, gate, up read H; o reads q; down reads I. Under bf16 autocast peft casts each
      adapter's input to the fp32 adapter dtype and autocast casts it back, so every adapter saves its own
      2-byte copy: 2(5H + q + I). Without autocast (fp32, or the fp32 path of quantised bases) the adapters
      share their input: c(2H + q + I). Plus the rank-r adapter outputs, 7cr.
      attention: c(2q + 2kv) + 4 heads;  SwiGLU: gate, SiLU output, up (the product only feeds adapters) -> 3cI
      DoRA on top: the base and adapter outputs of every adapted linear, 2c * sum(out) (dora_costs)
    """
    H, I, q = m.hidden_size, m.intermediate_size, m.num_heads * m.head_dim
    kv = q if _masked(s) else m.num_kv_heads * m.head_dim
    c = activation_dtype_bytes(s)
    lse = 4 * m.num_heads
    if s.technique in ("full", "freeze"):
        return 2 * (4 + 2 * c) * H + c * (3 * q + 2 * kv) + lse + 4 * c * I
    if c == 2:  # bf16/fp16 autocast: one cast copy per adapter
        adapter_in = 2 * (5 * H + q + I)
    else:
        adapter_in = c * (2 * H + q + I)
    dora = _dora(m, s, c)["saved_per_token"] / max(1, m.num_layers)
    return 8 * H + adapter_in + 7 * c * s.lora_r + c * (2 * q + 2 * kv) + lse + 3 * c * I + dora


def _masked(s: Setup) -> bool:
    return s.padded or (s.packed and s.micro_batch_size > 1)


def mask_bytes(m: ModelInfo, s: Setup) -> tuple[int, int]:
    """(global, per layer) bytes of the attention mask when SDPA gets one instead of is_causal.

    Packing puts the micro-batch in one row of R = b*s tokens with a block-diagonal mask; padding keeps
    b rows of s with a padding mask. transformers builds one boolean (rows, 1, R, R) mask (1 B per
    element), and each layer's SDPA turns it into an additive mask in the query dtype that it keeps for
    the backward pass (c B per element, measured), so the cost grows with the square of b*s when packing.
    A mask also stops SDPA from handling grouped KV heads natively: k and v are repeated to every head.
    """
    if not _masked(s):
        return 0, 0
    rows, width = (1, s.micro_batch_size * s.seq_len) if s.packed else (s.micro_batch_size, s.seq_len)
    elems = rows * width * width
    return elems, elems * activation_dtype_bytes(s)


def activation_bytes(m: ModelInfo, s: Setup) -> tuple[int, int, int]:
    """(saved activations, logits/loss buffers, one recomputed layer) for one micro-batch on one GPU.

    no checkpointing:  T * (layers_with_grad * per_layer + final norm 4H) + masks (mask_bytes)
    checkpointing:     T * (L * cH + 4H): each layer's input, kept for its recompute; during the backward
                       one layer at a time is recomputed (T * per_layer + its mask copy), after the loss
                       buffers are gone.
    freeze keeps activations only for the top N layers: frozen layers below need no backward.
    logits: the lm_head output (cV), its fp32 upcast for the loss (4V), log-softmax's saved output (4V);
    at backward start the loss gradient (4V) and log-softmax's input gradient (4V) join the saved 4V:
    the peak of the loss is T * 12V bytes (the bf16 logits are freed with the model output).
    """
    T = s.micro_batch_size * s.seq_len
    H, V = m.hidden_size, m.vocab_size
    per_layer = layer_activation_bytes(m, s)
    layers = min(s.freeze_trainable_layers, m.num_layers) if s.technique == "freeze" else m.num_layers
    mask, mask_layer = mask_bytes(m, s)
    acts: float
    recompute: float
    if s.gradient_checkpointing:
        acts, recompute = T * (layers * activation_dtype_bytes(s) * H + 4 * H) + mask, T * per_layer + mask_layer
    else:
        acts, recompute = T * (layers * per_layer + 4 * H) + mask + layers * mask_layer, 0
    return int(acts), int(T * 12 * V), int(recompute)


def transient_bytes(m: ModelInfo, s: Setup) -> tuple[int, int]:
    """(dequantised weight, backward working set). A quantised base dequantises one linear weight to the
    compute dtype for each matmul (the largest: in * out * c); DoRA materialises W + sBA of one linear to
    take its norm; the gradient flowing back through an MLP block needs a few T * c * I buffers while a
    recomputed layer is live."""
    T = s.micro_batch_size * s.seq_len
    c = activation_dtype_bytes(s)
    work = T * c * (2 * m.intermediate_size + 2 * m.hidden_size)
    deq = max(i * o for i, o in m.linear_shapes) * c if s.technique in ("qlora", "lora_8bit") else 0
    return int(deq + _dora(m, s, c)["transient_bytes"]), int(work)


def optimizer_temp_bytes(m: ModelInfo, s: Setup, o: int, p_train: int) -> int:
    """AdamW's step allocates sqrt(v) (and its division) as temporaries. torch's default on CUDA is the
    foreach path: one moment-sized buffer for all parameters at once (o / 2). On CPU it goes tensor by
    tensor: two buffers the size of the largest trainable tensor (the embedding for full fine-tunes).
    bitsandbytes' 8-bit optimizers and SGD update in place."""
    if s.optimizer != "adamw" or p_train == 0 or o == 0 or s.fused_optimizer:
        return 0
    if s.device in ("cuda", "rocm"):
        return o // 2
    per_elem = o / p_train / 2
    largest = m.embed_params if s.technique == "full" else max(i * o_ for i, o_ in m.linear_shapes)
    if s.technique not in ("full", "freeze"):
        largest = max(i + o_ for i, o_ in m.linear_shapes) * s.lora_r
    return int(2 * largest * per_elem)


def largest_layer_params(m: ModelInfo) -> int:
    """The largest single module's parameters (what ZeRO-3 gathers at once): the embedding or a linear."""
    return max([m.embed_params, *(i * o for i, o in m.linear_shapes)])


def _torch_sharding(m: ModelInfo, s: Setup, n: int, w: int, g: int, o: int,
                    notes: list[str]) -> tuple[int, int, int, int]:
    """(weights, gradients, optimizer, cpu) under DDP / FSDP full-shard (ZeRO-3 built into PyTorch) / offload.
    Full-shard splits weights, gradients and optimizer state across the N GPUs and gathers one layer at a
    time (two in flight while the next is prefetched): w / N + 2 w / L."""
    cpu = 0
    gathered = 2 * w // max(1, m.num_layers)
    if n > 1 and s.sharding == "fsdp_full_shard":
        o //= n
        g //= n
        w = w // n + gathered
        notes.append("full-shard gathers about two layers' weights at a time")
    if s.cpu_offload:
        # single-GPU optimizer offload / FSDP offload: optimizer state (and with full-shard the weights)
        # live in CPU RAM
        cpu += o
        o = 0
        if s.sharding == "fsdp_full_shard":
            # FSDP's offload_params moves the gradient shards to CPU as well
            cpu += (w - gathered) * n + g * n
            w, g = gathered, 0
        notes.append("offloaded state lives in CPU RAM; steps run slower (PCIe transfers each step)")
    return w, g, o, cpu


def estimate(m: ModelInfo, s: Setup) -> MemoryEstimate:
    """Peak memory per GPU for setup `s` on model `m` (see the module docstring for the phases)."""
    p = trainable_params(m, s)
    w, g, o = weight_bytes(m, s, p), grad_bytes(m, s, p), optimizer_bytes(m, s, p)
    # preference objectives: the policy's sequences per micro-batch, the loss's buffers, a reference copy
    policy = objectives.policy_setup(s)
    acts, logits, recompute = activation_bytes(m, policy)
    logits = objectives.loss_bytes(m, s, logits)
    deq, work = transient_bytes(m, policy)
    ref = objectives.reference_weight_bytes(m, s)
    ref_pass = objectives.reference_forward_bytes(m, s, activation_dtype_bytes(s))
    tmp = deq
    notes: list[str] = []
    if ref:
        notes.append(f"{s.objective} keeps a frozen reference copy of the model ({ref / GiB:.1f} GiB)")
    n = max(1, s.num_gpus)
    if s.technique == "full" and s.master_weights_fp32:
        # autocast keeps a bf16 copy of every weight it casts until backward has used it
        tmp += (m.total_params - m.embed_params) * 2
    if s.sharding in ZERO_STAGES:
        # DeepSpeed keeps its own model states (16-bit weights, fp32 master, moments and gradient partitions):
        # its accounting, not torch mixed precision's (tuneui.recommend.zero)
        z = zero_states(m.total_params, p, largest_layer_params(m), stage=ZERO_STAGES[s.sharding],
                        offload=s.cpu_offload, gpus_per_node=n)
        w, g, o, cpu = z.weights, z.gradients, z.optimizer, z.cpu
        if s.sharding == "zero3":
            notes.append("ZeRO-3 gathers one layer's weights at a time")
        if s.cpu_offload:
            notes.append("offloaded state lives in CPU RAM (DeepSpeed's CPU Adam); steps run slower")
    else:
        w, g, o, cpu = _torch_sharding(m, s, n, w, g, o, notes)
    if s.optimizer == "paged_adamw_8bit":
        notes.append("paged optimizer state can spill to CPU RAM under pressure instead of failing")
    # Gradients persist across micro-batches when accumulating, so they overlap the activations.
    live_grads = g if s.gradient_accumulation_steps > 1 else 0
    w += ref  # the reference copy lives as long as the weights
    backward = w + o + live_grads + acts + max(logits, ref_pass) + tmp
    recomputing = w + o + live_grads + acts + recompute + work + tmp if recompute else 0
    step = w + o + g + optimizer_temp_bytes(m, s, o, p)
    if recomputing > max(backward, step):
        phase = "backward (recompute)"
        breakdown = {"weights": w, "gradients": live_grads, "optimizer": o, "activations": acts + recompute,
                     "logits": 0, "transient": tmp + work}
    elif backward >= step:
        phase = "backward"
        breakdown = {"weights": w, "gradients": live_grads, "optimizer": o, "activations": acts,
                     "logits": logits, "transient": tmp + max(0, ref_pass - logits)}
    else:
        phase = "optimizer step"
        breakdown = {"weights": w, "gradients": g, "optimizer": o, "activations": 0, "logits": 0,
                     "transient": step - w - o - g}
    tensors = sum(breakdown.values())
    overhead = 0
    if s.device in ("cuda", "rocm"):
        overhead = int(tensors * FRAGMENTATION) + CUDA_CONTEXT_BYTES
    breakdown["overhead"] = overhead
    sizes = {"weights": w, "gradients": g, "optimizer": o, "activations": acts + recompute, "logits": logits,
             "transient": tmp + (work if recompute else 0), "overhead": overhead}
    return MemoryEstimate(setup=s, peak_bytes=tensors + overhead, tensor_bytes=tensors, phase=phase,
                          breakdown=breakdown, sizes=sizes, trainable_params=p, cpu_bytes=cpu, notes=notes)


def with_(s: Setup, **changes) -> Setup:
    return replace(s, **changes)
