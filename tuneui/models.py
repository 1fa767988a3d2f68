"""Read a model's shape from its config.json, without loading (or downloading) any weights.

`inspect_model(model)` accepts a local model directory, a directory holding only a config.json,
a config.json path, a hub id already in the local Hugging Face cache, or "demo" (the offline demo
model). Parameter counts are derived from the config for decoder-only transformers (Llama, Mistral,
Qwen, Gemma, Phi-3, GPT-2/NeoX-style, Mixtral-style MoE); no model code is ever run, so
`trust_remote_code` only matters for the message when the architecture is unknown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuneui.errors import ModelError

# Model types whose config class defaults tie_word_embeddings to False when config.json omits it
# (PretrainedConfig's own default is True).
_UNTIED_DEFAULT = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "olmo",
                   "olmo2", "granite", "cohere", "deepseek_v3", "falcon", "gpt_neox", "gptj", "stablelm"}
# Plain two-matrix MLPs (up, down) with biases and LayerNorm instead of SwiGLU + RMSNorm.
_PLAIN_MLP = {"gpt2", "gpt_neox", "gptj", "opt", "falcon", "bloom", "phi", "starcoder2", "gpt_bigcode", "codegen"}
_LEARNED_POS = {"gpt2", "opt", "gpt_bigcode", "codegen"}


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
    source: str = "local"  # local, hub-cache, demo
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
        shapes = self.linear_shapes
        if targets != "all-linear":
            names = self.linear_names()
            shapes = [s for n, s in zip(names, shapes, strict=True) if any(t in n for t in targets)]
        return self.num_layers * sum(r * (i + o) for i, o in shapes)

    def linear_names(self) -> list[str]:
        attn = ["q_proj", "k_proj", "v_proj", "o_proj"]
        mlp = ["gate_proj", "up_proj", "down_proj"] if self.gated_mlp else ["up_proj", "down_proj"]
        return (attn + mlp)[: len(self.linear_shapes)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers_params"] = self.layers_params
        return d


def _first(cfg: dict, *keys: str, default: Any = None) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return default


def info_from_config(cfg: dict[str, Any], *, name: str, source: str = "local",
                     config_path: str | None = None) -> ModelInfo:
    """Shape and parameter counts of a decoder-only transformer from its config dict."""
    where = config_path or name
    warnings: list[str] = []
    top_type = str(cfg.get("model_type") or "")
    if isinstance(cfg.get("text_config"), dict):
        # Multimodal wrappers (Gemma 3, Llava, Qwen-VL): the language model lives in text_config.
        warnings.append("vision/audio towers are not counted; only the language model is")
        cfg = {**cfg["text_config"], "tie_word_embeddings": cfg.get("tie_word_embeddings",
                                                                     cfg["text_config"].get("tie_word_embeddings"))}
    mt = str(cfg.get("model_type") or top_type or "unknown")

    def need(*keys: str) -> int:
        v = _first(cfg, *keys)
        if not isinstance(v, int) or v <= 0:
            raise ModelError(f"config.json has no usable {keys[0]} (a {mt!r} model tuneui cannot size)",
                             source=where)
        return v

    H = need("hidden_size", "n_embd", "d_model", "dim")
    L = need("num_hidden_layers", "n_layer", "num_layers", "n_layers")
    nh = need("num_attention_heads", "n_head", "num_heads", "n_heads")
    V = need("vocab_size", "padded_vocab_size")
    nkv = _first(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
    if nkv is None:
        nkv = 1 if cfg.get("multi_query") else nh
    hd = _first(cfg, "head_dim") or H // nh
    inter = _first(cfg, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size") or 4 * H
    tie = cfg.get("tie_word_embeddings")
    if tie is None:
        tie = mt not in _UNTIED_DEFAULT
    gated = mt not in _PLAIN_MLP
    dtype = _first(cfg, "torch_dtype", "dtype")
    ctx = _first(cfg, "max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")

    n_exp = int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts", default=0) or 0)
    k_exp = int(_first(cfg, "num_experts_per_tok", "moe_topk", default=0) or 0)
    exp_inter = int(_first(cfg, "moe_intermediate_size", default=inter) or inter)
    shared_inter = int(_first(cfg, "shared_expert_intermediate_size", default=0) or 0)

    q, kv = nh * hd, nkv * hd
    attn_bias = bool(cfg.get("attention_bias")) or mt in ("qwen2", "qwen2_moe")
    attn = H * q + 2 * H * kv + q * H + ((q + 2 * kv) if attn_bias else 0)
    if not gated:
        attn += q + 2 * kv + H  # plain-MLP families carry biases everywhere
    mlp_mats = 3 if gated else 2

    def mlp_block(i: int) -> int:
        return mlp_mats * H * i + (0 if gated else i + H)

    if n_exp:
        mlp = n_exp * mlp_block(exp_inter) + H * n_exp + (mlp_block(shared_inter) + H if shared_inter else 0)
        active_mlp = max(k_exp, 1) * mlp_block(exp_inter) + H * n_exp + (mlp_block(shared_inter) if shared_inter else 0)
    else:
        mlp = active_mlp = mlp_block(inter)
    norm = H if gated else 2 * H  # RMSNorm weight vs LayerNorm weight + bias
    layer = attn + mlp + 2 * norm
    embed = V * H
    lm_head = 0 if tie else V * H
    other = norm + ((ctx or 0) * H if mt in _LEARNED_POS else 0)
    total = embed + L * layer + lm_head + other
    active = embed + L * (attn + active_mlp + 2 * norm) + lm_head + other

    shapes = [(H, q), (H, kv), (H, kv), (q, H)]
    mlp_i = exp_inter if n_exp else inter
    shapes += [(H, mlp_i), (H, mlp_i), (mlp_i, H)] if gated else [(H, mlp_i), (mlp_i, H)]
    if n_exp:
        warnings.append(f"mixture of experts: {n_exp} experts, {k_exp or '?'} active per token; "
                        "LoRA sizes count one expert's linears per layer")
    return ModelInfo(
        name=name, model_type=mt, hidden_size=H, intermediate_size=mlp_i, num_layers=L, num_heads=nh,
        num_kv_heads=int(nkv), head_dim=int(hd), vocab_size=V, max_position_embeddings=ctx, tie_word_embeddings=bool(tie),
        dtype=str(dtype) if dtype else None, gated_mlp=gated, num_experts=n_exp, experts_per_token=k_exp,
        expert_intermediate_size=exp_inter if n_exp else 0, source=source, config_path=config_path,
        embed_params=embed, layer_params=layer, lm_head_params=lm_head, other_params=other, total_params=total,
        active_params=active, linear_shapes=shapes, warnings=warnings,
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"not valid JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read: {exc}", source=str(path)) from None
    if not isinstance(data, dict):
        raise ModelError("config.json must hold a JSON object", source=str(path))
    return data


def _from_hub_cache(model: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        raise ModelError(f"model {model!r}: huggingface_hub is not installed") from None
    try:
        hit = try_to_load_from_cache(model, "config.json", revision=revision)
    except Exception as exc:  # malformed repo ids raise HFValidationError
        raise ModelError(f"model {model!r}: not a local directory or a hub id ({exc})") from None
    if isinstance(hit, str) and Path(hit).is_file():
        return Path(hit)
    raise ModelError(
        f"model {model!r}: not a local directory and its config.json is not in the Hugging Face cache "
        f"(tuneui does not download here). Fetch it with `hf download {model} config.json` "
        "or pass a directory holding the model's config.json"
    )


def inspect_model(model: str, revision: str | None = None, trust_remote_code: bool = False) -> ModelInfo:
    """The ModelInfo of `model` ("demo", a directory, a config.json, or a cached hub id); ModelError if unknown."""
    model = (model or "").strip()
    if not model:
        raise ModelError("no model given")
    if model == "demo":
        from tuneui.demo import demo_model_config  # lazy: the demo module builds weights on demand

        return info_from_config(dict(demo_model_config()), name="demo", source="demo")
    path = Path(model).expanduser()
    if path.is_dir():
        cfg_path = path / "config.json"
        if not cfg_path.is_file():
            raise ModelError("directory has no config.json", source=str(path))
        return info_from_config(_read_config(cfg_path), name=model, source="local", config_path=str(cfg_path))
    if path.is_file():
        return info_from_config(_read_config(path), name=model, source="local", config_path=str(path))
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ModelError("no such directory or file", source=model)
    cfg_path = _from_hub_cache(model, revision)
    info = info_from_config(_read_config(cfg_path), name=model, source="hub-cache", config_path=str(cfg_path))
    if info.model_type == "unknown" and not trust_remote_code:
        info.warnings.append("unknown architecture; sizes assume a Llama-style decoder")
    return info
