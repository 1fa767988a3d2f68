"""Load and prepare a model for one of the techniques of RunConfig (quantisation, freezing, LoRA).

Loading is safe by default (tuneui.modelload): safetensors only (never a pickle from the hub), and no
repository code unless `trust_remote_code` is set with a pinned commit or consent (tuneui.contract.safety).
"""

from __future__ import annotations

from typing import Any

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError, ModelError
from tuneui.modelload import compute_dtype, hub_error, load_kwargs, resolve_model


def _quantization_config(cfg: RunConfig, dtype):
    if cfg.technique not in ("qlora", "lora_8bit"):
        return None
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise ModelError(f"technique {cfg.technique} needs bitsandbytes: pip install bitsandbytes ({exc})") from None
    if cfg.technique == "qlora":
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
            bnb_4bit_use_double_quant=cfg.bnb_4bit_double_quant, bnb_4bit_compute_dtype=dtype,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def _decoder_layers(model):
    for name in ("model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers"):
        obj = model
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise ModelError("technique 'freeze' needs a decoder-layer stack it can find (model.layers)")


def _freeze_all_but_top(model, n: int) -> None:
    layers = _decoder_layers(model)
    if n > len(layers):
        raise ModelError(f"freeze_trainable_layers: {n} is more than the model's {len(layers)} layers")
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in list(layers)[-n:]:
        for p in layer.parameters():
            p.requires_grad_(True)
    # The final norm sits between the trained layers and the head; training it is cheap and standard.
    norm = getattr(getattr(model, "model", model), "norm", None)
    if norm is not None:
        for p in norm.parameters():
            p.requires_grad_(True)


def build_model(cfg: RunConfig, tokenizer: Any = None, path: str | None = None) -> Any:
    """The model ready for training with cfg.technique (PEFT-wrapped for LoRA variants); `path`: the
    folder to load instead of cfg.model (a run started from a finished run loads that run's result)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = compute_dtype(cfg)
    quant = _quantization_config(cfg, dtype)
    kwargs = load_kwargs(cfg) | {"dtype": dtype, "use_safetensors": True}
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": 0} if torch.cuda.is_available() else {"": "cpu"}
    path = path or resolve_model(cfg.model)
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise hub_error(cfg.model, exc) from None
    if tokenizer is not None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    gc_kwargs = {"use_reentrant": False}
    if quant is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs=gc_kwargs,
        )
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
    # Training never needs the KV cache, and with one present transformers ignores the packed
    # (block-diagonal) mask, letting packed examples attend to each other. Generation turns it on.
    model.config.use_cache = False
    if cfg.technique == "freeze":
        _freeze_all_but_top(model, cfg.freeze_trainable_layers)
    if cfg.uses_peft:
        from peft import get_peft_model

        from tuneui.training.lora_variants import LoraVariant, lora_config

        check_lora_targets(model, cfg)
        lora = lora_config(LoraVariant.from_config(cfg), r=cfg.lora_r, alpha=cfg.lora_alpha,
                           dropout=cfg.lora_dropout, target_modules=cfg.lora_target_modules)
        if cfg.gradient_checkpointing and quant is None:
            model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
        model = get_peft_model(model, lora)
    return model


def check_lora_targets(model, cfg: RunConfig) -> None:
    """Every named target must exist in the model: peft would otherwise fail deep inside, or train
    fewer layers than asked."""
    import torch

    targets = cfg.lora_target_modules
    if not isinstance(targets, list):
        return
    names = [n for n, _ in model.named_modules()]
    unknown = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if unknown:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                         if isinstance(m, torch.nn.Linear) and not n.endswith("lm_head")})
        raise ConfigError(f"lora_target_modules: {', '.join(map(repr, unknown))} not found in {cfg.model}; "
                          f"its linear layers are {', '.join(linear)} (or use \"all-linear\")")


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
