"""Resolve, load and prepare a model for one of the techniques of RunConfig.

Loading is safe by default: safetensors only (never a pickle from the hub), and no repository code
unless `trust_remote_code` is set in the config together with a pinned revision.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuneui.errors import ModelError
from tuneui.training.config import RunConfig

# A plain template for tokenizers that ship none: it only uses the EOS token the model already
# knows, so no embedding has to be resized and generation still ends at the end of a reply.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '### ' + message['role'] + ':\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\n\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### assistant:\n' }}{% endif %}"
)


def resolve_model(model: str) -> str:
    """A local directory path, or the hub id unchanged (loaded from the hub/cache later)."""
    if model == "demo":
        from tuneui.demo import ensure_demo_model

        return str(ensure_demo_model())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelError(f"{path}: not a model directory (no config.json)")
        return str(path)
    if model.startswith((".", "/", "~")) or os.sep in model.strip("/").replace("/", "", 1):
        raise ModelError(f"{model}: no such model directory")
    return model


def _load_kwargs(cfg: RunConfig) -> dict:
    kw: dict = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision:
        kw["revision"] = cfg.revision
    return kw


def _hub_error(model: str, exc: Exception) -> ModelError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "connect" in str(exc).lower()
    hint = " (the hub is not reachable: use a local model directory or 'demo')" if offline else ""
    return ModelError(f"{model}: cannot load: {str(exc).splitlines()[0]}{hint}")


def load_tokenizer(cfg: RunConfig, *, notes: list[str] | None = None):
    """The tokenizer, with a pad token and a chat template guaranteed (changes are noted)."""
    from transformers import AutoTokenizer

    path = resolve_model(cfg.model)
    try:
        tok = AutoTokenizer.from_pretrained(path, **_load_kwargs(cfg))
    except (OSError, ValueError) as exc:
        raise _hub_error(cfg.model, exc) from None
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"{cfg.model}: needs a fast tokenizer (tokenizer.json) to find the trained tokens")
    if tok.eos_token is None:
        raise ModelError(f"{cfg.model}: the tokenizer has no EOS token, so generation could never stop")
    if tok.pad_token is None:
        # Padding positions are masked from the loss, so reusing EOS as pad is harmless here.
        tok.pad_token = tok.eos_token
        if notes is not None:
            notes.append("the tokenizer had no pad token; using the EOS token for padding")
    if not tok.chat_template:
        tok.chat_template = FALLBACK_CHAT_TEMPLATE
        if notes is not None:
            notes.append("the tokenizer had no chat template; using a plain '### role:' template ending "
                         "replies with EOS (set the same template when you deploy the adapter)")
    return tok


def compute_dtype(cfg: RunConfig):
    import torch

    if cfg.precision == "fp32":
        return torch.float32
    if cfg.precision == "fp16":
        return torch.float16
    if cfg.precision == "bf16":
        return torch.bfloat16
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32  # CPU: fp32 is the fast and exact path


def _quantization_config(cfg: RunConfig, dtype):
    if cfg.technique not in ("qlora", "lora_8bit"):
        return None
    try:
        from transformers import BitsAndBytesConfig
        import bitsandbytes  # noqa: F401
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


def build_model(cfg: RunConfig, tokenizer=None):
    """The model ready for training with cfg.technique (PEFT-wrapped for LoRA variants)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = compute_dtype(cfg)
    quant = _quantization_config(cfg, dtype)
    kwargs = _load_kwargs(cfg) | {"dtype": dtype, "use_safetensors": True}
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": 0} if torch.cuda.is_available() else {"": "cpu"}
    path = resolve_model(cfg.model)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise _hub_error(cfg.model, exc) from None
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
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM", bias="none",
        )
        if cfg.gradient_checkpointing and quant is None:
            model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
        model = get_peft_model(model, lora)
    return model


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
