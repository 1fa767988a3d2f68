"""What a preference objective changes in a training step's memory, next to SFT's (tuneui.recommend.memory).

  sequences  dpo, orpo and simpo run each pair as two sequences (chosen and rejected) through one policy
             forward, so activations are those of 2b sequences for a micro-batch of b pairs; kto runs its
             b rows with grad and its b KL rows without (no saved activations).
  reference  dpo and kto compare with a reference model. With LoRA / QLoRA / 8-bit LoRA it is the base with
             the adapter disabled: no extra weights. With full or freeze fine-tuning TRL loads a frozen copy
             of the model in the policy's dtype: N more weights. orpo and simpo keep none, at any technique.
             The reference forward runs without grad after the policy forward (TRL's order), so its working
             set (one layer's outputs for every sequence, the fused head's tile) sits on top of the saved
             policy activations for a moment.
  loss       TRL's DPO and KTO score the replies through their fused LM head; measured on CPU in fp32
             (benchmarks/memory_accuracy_preference.py) it holds about 56 bytes per policy token and vocabulary
             entry at backward start, against SFT's 12 (FUSED_HEAD_BYTES): on small vocabularies the largest
             term. ORPO and CPO/SimPO hold SFT's logits and log-softmax buffers for both sides.
"""

from __future__ import annotations

from dataclasses import replace

from tuneui.contract.recommend import Setup
from tuneui.models import ModelInfo

PAIRS = ("dpo", "orpo", "simpo")
WITH_REFERENCE = ("dpo", "kto")
FUSED_HEAD = ("dpo", "kto")
FUSED_HEAD_BYTES = 56  # per token and vocabulary entry; SFT's loss buffers are 12 (memory.activation_bytes)


def policy_setup(s: Setup) -> Setup:
    """The setup whose activations the policy saves: 2b sequences per micro-batch of b pairs."""
    if s.objective in PAIRS:
        return replace(s, micro_batch_size=2 * s.micro_batch_size)
    return s


def reference_copy(s: Setup) -> bool:
    return s.objective in WITH_REFERENCE and s.technique in ("full", "freeze")


def reference_weight_bytes(m: ModelInfo, s: Setup) -> int:
    """A frozen copy of every weight in the dtype the policy was loaded in (TRL builds it like the policy)."""
    if not reference_copy(s):
        return 0
    return m.total_params * (4 if s.master_weights_fp32 or s.precision == "fp32" else 2)


def sequences(s: Setup) -> int:
    """Sequences one forward pass of the micro-batch runs (KTO: its rows and their KL rows)."""
    return 2 * s.micro_batch_size if s.objective != "sft" else s.micro_batch_size


def reference_forward_bytes(m: ModelInfo, s: Setup, c: int) -> int:
    """The no-grad reference pass: a layer's hidden states in and out and its MLP intermediates, for every
    sequence (the policy's own no-grad KL pass for KTO, the reference's for DPO)."""
    if s.objective not in WITH_REFERENCE:
        return 0
    T = sequences(s) * s.seq_len
    return int(T * c * (3 * m.hidden_size + 2 * m.intermediate_size))


def loss_bytes(m: ModelInfo, s: Setup, sft_logits: int) -> int:
    """The loss's buffers at backward start, for the policy setup's tokens (sft_logits: SFT's T * 12V)."""
    if s.objective in FUSED_HEAD:
        return sft_logits // 12 * FUSED_HEAD_BYTES
    return sft_logits
