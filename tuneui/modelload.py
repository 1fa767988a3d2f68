"""Find a model and load its tokenizer, safely: the part of model loading every engine package needs.

`resolve_model` turns 'demo' (SmolLM2-135M-Instruct, fetched once), 'demo-tiny' (a tiny random model
built locally, for fast tests), a local directory or a hub id into what transformers loads; the
tokenizer always comes back with a pad token and a chat template (changes are noted). Loading is
safe by default: no repository code unless `trust_remote_code` is set with a pinned commit (or, for a
local directory, an explicit --trust-local-code consent; tuneui.contract.safety).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ModelError
from tuneui.contract.safety import remote_code_problem

# A plain template for tokenizers that ship none: it only uses the EOS token the model already
# knows, so no embedding has to be resized and generation still ends at the end of a reply.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '### ' + message['role'] + ':\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\n\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### assistant:\n' }}{% endif %}"
)


DEMO = "demo"  # the offline demo's real model
DEMO_TINY = "demo-tiny"  # the tiny random model: unit tests and throughput benchmarks


def resolve_model(model: str, say: Callable[[str], None] | None = None) -> str:
    """A local directory path, or the hub id unchanged (loaded from the hub/cache later).

    'demo' is fetched and converted on first use (about a minute, once); `say` hears what is
    being downloaded or converted then, and nothing when the model is already in the cache."""
    if model == DEMO:
        from tuneui.demo_model_real import ensure_real_demo_model

        return str(ensure_real_demo_model(say=say or (lambda msg: None)))
    if model == DEMO_TINY:
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


def load_kwargs(cfg: RunConfig) -> dict:
    # RunConfig validated this already; checked again here because the folder may have changed since.
    if (problem := remote_code_problem(cfg.model, cfg.revision, cfg.trust_remote_code,
                                       cfg.trust_local_code)) is not None:
        raise ModelError(problem)
    kw: dict = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision:
        kw["revision"] = cfg.revision
    return kw


def hub_error(model: str, exc: Exception) -> ModelError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "connect" in str(exc).lower()
    hint = " (the hub is not reachable: use a local model directory or 'demo')" if offline else ""
    return ModelError(f"{model}: cannot load: {str(exc).splitlines()[0]}{hint}")


def load_tokenizer(cfg: RunConfig, *, notes: list[str] | None = None):
    """The tokenizer, with a pad token and a chat template guaranteed (changes are noted)."""
    from transformers import AutoTokenizer

    path = resolve_model(cfg.model)
    try:
        tok = AutoTokenizer.from_pretrained(path, **load_kwargs(cfg))
    except (OSError, ValueError) as exc:
        raise hub_error(cfg.model, exc) from None
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
