"""Read a model's shape from its config.json, without loading (or downloading) any weights.

`inspect_model(model)` accepts a local model directory, a directory holding only a config.json,
a config.json path, a hub id already in the local Hugging Face cache, "demo" (the offline demo's
SmolLM2-135M-Instruct) or "demo-tiny" (the tiny random model of the unit tests). Parameter
counts are derived from the config for decoder-only transformers (Llama, Mistral, Qwen, Gemma,
Phi-3, GPT-2/NeoX-style, Mixtral-style MoE); no model code is ever run, so `trust_remote_code`
only matters for the message when the architecture is unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tuneui.contract.errors import ModelError
from tuneui.contract.modelinfo import ModelFiles, ModelInfo

# Model types whose config class defaults tie_word_embeddings to False when config.json omits it
# (PretrainedConfig's own default is True).
_UNTIED_DEFAULT = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "olmo",
                   "olmo2", "granite", "cohere", "deepseek_v3", "falcon", "gpt_neox", "gptj", "stablelm"}
# Plain two-matrix MLPs (up, down) with biases and LayerNorm instead of SwiGLU + RMSNorm.
_PLAIN_MLP = {"gpt2", "gpt_neox", "gptj", "opt", "falcon", "bloom", "phi", "starcoder2", "gpt_bigcode", "codegen"}
_LEARNED_POS = {"gpt2", "opt", "gpt_bigcode", "codegen"}


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
        # The real demo model's shape is known without fetching it (recommend and memory
        # estimates work offline before the first download).
        from tuneui.demo_model_real import HUB_ID, MODEL_CONFIG

        info = info_from_config(dict(MODEL_CONFIG), name="demo", source="demo")
        info.warnings.append(f"the demo model is {HUB_ID}, fetched once on first use "
                             "(a 93 MB download, about a minute to unpack)")
        return info
    if model == "demo-tiny":
        from tuneui.demo import (
            demo_model_config,  # lazy: the demo module builds weights on demand
        )

        return info_from_config(dict(demo_model_config()), name="demo-tiny", source="demo-tiny")
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


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt")


def model_files(model: str) -> ModelFiles:
    """Weights size on disk and the license file of a local model directory (empty for hub ids, and for
    the demo model until it is fetched)."""
    if model == "demo":
        from tuneui.demo_model_real import local_copy

        local = local_copy()
        if local is None:
            return ModelFiles()
        model = str(local)
    path = Path(model).expanduser()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        return ModelFiles()
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    license_file = next((p for p in sorted(path.iterdir()) if p.name.lower().startswith(("license", "licence"))),
                        None)
    return ModelFiles(weights_bytes=size or None, license_file=str(license_file) if license_file else None,
                      directory=str(path))
