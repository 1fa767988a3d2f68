"""Merge a LoRA-family run's adapter into its base model: what an export with --merge writes, and
what a run that starts from a finished LoRA run trains on (tuneui.training.start_from).

One code path for both, so the merged weights a run starts from are exactly the ones an export ships.
"""

from __future__ import annotations

from pathlib import Path


def write_generation_config(model, tokenizer) -> None:
    """EOS = the tokenizer's end-of-reply token, so a plain `generate()` stops where chat stops."""
    from transformers import GenerationConfig

    gen = getattr(model, "generation_config", None) or GenerationConfig()
    gen.eos_token_id = tokenizer.eos_token_id
    gen.pad_token_id = tokenizer.pad_token_id
    model.generation_config = gen


_TORCH_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _base_dtype(art) -> str | None:
    """The dtype the base model's weights are published in ("bfloat16", ...), from its config.json."""
    from tuneui.contract.errors import ModelError
    from tuneui.models import inspect_model

    if not art.base_model:
        return None
    try:
        stored = inspect_model(art.base_model).dtype
    except ModelError:
        return None
    return stored if stored in _TORCH_NAMES.values() else None


def merged_dtype(art, choice: str = "auto") -> str:
    """The torch dtype name a merged export is stored in: the user's choice, else the base's own
    (training on a CPU computes in float32, but a bf16 base exported in float32 is twice the size
    and no more accurate than its base), else the dtype training computed in."""
    if choice != "auto":
        return _TORCH_NAMES[choice]
    stored = _base_dtype(art)
    if stored is not None:
        return stored
    if art.config is not None:
        from tuneui.modelload import compute_dtype

        return str(compute_dtype(art.config)).removeprefix("torch.")
    return "float32"


def save_merged(art, tokenizer, dest: Path, dtype: str = "float32") -> None:
    import torch

    from tuneui.runload import load_tuned

    model = load_tuned(art, dtype=torch.float32 if art.kind == "peft" else None)
    if art.kind == "peft":
        # Merge in fp32 so the merged weights equal base + adapter with one rounding step, the
        # one to the stored dtype.
        model = model.merge_and_unload().to(getattr(torch, dtype))
    write_generation_config(model, tokenizer)
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
