"""A model's shape and parameter counts, read from its config without loading weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModelInfo:
    name: str
    model_type: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int | None
    tie_word_embeddings: bool
    dtype: str | None
    gated_mlp: bool = True
    num_experts: int = 0  # 0: dense
    experts_per_token: int = 0
    expert_intermediate_size: int = 0
    source: str = "local"  # local, hub-cache, demo (a real model), demo-tiny (random weights)
    config_path: str | None = None
    # Parameter counts (elements), derived from the config.
    embed_params: int = 0
    layer_params: int = 0  # one decoder layer (all experts for MoE)
    lm_head_params: int = 0  # 0 when tied to the embeddings
    other_params: int = 0  # final norm, learned position embeddings
    total_params: int = 0
    active_params: int = 0  # per token: differs from total only for MoE
    linear_shapes: list[tuple[int, int]] = field(default_factory=list)  # (in, out) of each layer's linears
    warnings: list[str] = field(default_factory=list)

    @property
    def size_label(self) -> str:
        """6.74B, 494M, 2.1M: the parameter count as people say it."""
        n = self.total_params
        return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e7 else f"{n / 1e6:.1f}M"

    @property
    def layers_params(self) -> int:
        return self.layer_params * self.num_layers

    def lora_params(self, r: int, targets: list[str] | str = "all-linear") -> int:
        """Trainable LoRA elements: r * (in + out) per adapted linear, per layer."""
        return self.num_layers * sum(r * (i + o) for i, o in self.adapted_shapes(targets))

    def adapted_shapes(self, targets: list[str] | tuple[str, ...] | str = "all-linear") -> list[tuple[int, int]]:
        """(in, out) of the linears in one layer that LoRA targets adapt."""
        if targets == "all-linear":
            return list(self.linear_shapes)
        names = self.linear_names()
        return [s for n, s in zip(names, self.linear_shapes, strict=True) if any(t in n for t in targets)]

    def linear_names(self) -> list[str]:
        attn = ["q_proj", "k_proj", "v_proj", "o_proj"]
        mlp = ["gate_proj", "up_proj", "down_proj"] if self.gated_mlp else ["up_proj", "down_proj"]
        return (attn + mlp)[: len(self.linear_shapes)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers_params"] = self.layers_params
        return d


@dataclass
class ModelFiles:
    """What a local model directory holds on disk (all None for a hub id)."""

    weights_bytes: int | None = None
    license_file: str | None = None
    directory: str | None = None
