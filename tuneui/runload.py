"""Find and load what a run produced: its config, tokenizer, base model and adapter.

Chat, on-demand evaluation and export all start from a path the user typed, which may be a run
directory (run.toml + adapter/), a PEFT adapter directory, or a full model directory (a full/freeze
run's adapter/, or a merged export). Loading follows the training rules: safetensors only, and no
repository code unless the run's own config enabled it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ModelError, TuneuiError
from tuneui.contract.rundir import START_FROM_FILE


@dataclass
class RunArtifacts:
    """Where things are; nothing loaded yet."""

    kind: str  # "peft" (base + adapter) or "full" (a complete model directory)
    model_dir: Path  # the adapter directory (peft) or the full model directory
    base_model: str | None  # what the adapter was trained on (None when unknown)
    run_dir: Path | None = None
    config: RunConfig | None = None

    @property
    def name(self) -> str:
        return (self.run_dir or self.model_dir).name


def _adapter_base(adapter_dir: Path) -> str | None:
    try:
        return json.loads((adapter_dir / "adapter_config.json").read_text()).get("base_model_name_or_path")
    except (OSError, ValueError):
        return None


def locate(path: str | Path) -> RunArtifacts:
    """What `path` holds: a run directory, an adapter directory or a full model directory."""
    path = Path(path).expanduser()
    if not path.exists():
        raise TuneuiError(f"{path}: no such run or adapter directory")
    if not path.is_dir():
        raise TuneuiError(f"{path}: expected a run directory (with run.toml) or an adapter directory")
    if (path / "adapter_config.json").exists() or (path / "config.json").exists():
        # A model folder: a run's adapter/, or an export (which carries its run.toml inside).
        model_dir = path
        run_dir = path.parent if path.name == "adapter" and (path.parent / "run.toml").exists() else None
        toml = run_dir / "run.toml" if run_dir else (path / "run.toml" if (path / "run.toml").exists() else None)
    elif (path / "run.toml").exists():
        run_dir, model_dir, toml = path, path / "adapter", path / "run.toml"
        if not model_dir.is_dir():
            raise TuneuiError(f"{path}: the run has no adapter/ yet (still training, failed, or stopped early); "
                              "finish or resume it first")
    else:
        raise TuneuiError(f"{path}: neither a run directory (run.toml), a PEFT adapter (adapter_config.json) "
                          "nor a model (config.json)")
    cfg = RunConfig.load(toml) if toml else None
    _refuse_pickles(model_dir)
    if (model_dir / "adapter_config.json").exists():
        base = _trained_on(run_dir, cfg) if cfg else _adapter_base(model_dir)
        return RunArtifacts("peft", model_dir, base, run_dir, cfg)
    if (model_dir / "config.json").exists():
        return RunArtifacts("full", model_dir, _trained_on(run_dir, cfg) if cfg else None, run_dir, cfg)
    raise TuneuiError(f"{model_dir}: neither a PEFT adapter (adapter_config.json) nor a model (config.json)")


def started_from(run_dir: Path | None) -> dict | None:
    """What a run that started from a finished run resolved when it began (tuneui.training.start_from):
    the run, its kind and the folder loaded as the base; None for any other run."""
    if run_dir is None:
        return None
    try:
        data = json.loads((run_dir / START_FROM_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("model_path"), str) else None


def _trained_on(run_dir: Path | None, cfg: RunConfig) -> str:
    """The base a run's weights sit on: its model, or the finished run's result it started from."""
    record = started_from(run_dir) if cfg.start_from else None
    return record["model_path"] if record is not None else cfg.model


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def _refuse_pickles(model_dir: Path) -> None:
    """Weights come from safetensors only: a folder whose weights are pickles is refused before
    anything is loaded (a pickle can run code when loaded)."""
    if not model_dir.is_dir() or any(model_dir.glob("*.safetensors")):
        return
    pickles = sorted(p.name for p in model_dir.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if pickles:
        raise ModelError(f"{model_dir}: the weights are a pickle ({pickles[0]}), and tuneui loads weights only "
                         "from safetensors, because a pickle can run code when it is loaded; convert it with a "
                         "tool you trust, or use the adapter/ folder tuneui wrote")


def _load_errors() -> tuple[type[BaseException], ...]:
    # A damaged or disguised weights file: safetensors raises its own error type.
    from safetensors import SafetensorError

    return (OSError, ValueError, SafetensorError)


def _trust(art: RunArtifacts) -> dict:
    cfg = art.config
    kw: dict = {"trust_remote_code": bool(cfg and cfg.trust_remote_code)}
    if cfg and cfg.revision:
        kw["revision"] = cfg.revision
    return kw


def load_tokenizer_for(art: RunArtifacts):
    """The tokenizer saved with the adapter: it carries the chat template training used."""
    from transformers import AutoTokenizer

    from tuneui.modelload import FALLBACK_CHAT_TEMPLATE, resolve_model

    if (art.model_dir / "tokenizer_config.json").exists():
        tok = AutoTokenizer.from_pretrained(str(art.model_dir), **_trust(art))
    elif art.config is not None:
        from tuneui.modelload import load_tokenizer

        return load_tokenizer(art.config)
    elif art.base_model:
        try:
            tok = AutoTokenizer.from_pretrained(resolve_model(art.base_model), **_trust(art))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{art.base_model}: cannot load its tokenizer: {str(exc).splitlines()[0]}") from None
    else:
        raise ModelError(f"{art.model_dir}: no tokenizer next to the adapter, and no base model named")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template:
        tok.chat_template = FALLBACK_CHAT_TEMPLATE  # what training used for a template-less tokenizer
    return tok


def _dtype(art: RunArtifacts):
    import torch

    if art.config is not None:
        from tuneui.modelload import compute_dtype

        return compute_dtype(art.config)
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def load_causal_lm(where: str, art: RunArtifacts, dtype=None):
    import torch
    from transformers import AutoModelForCausalLM

    from tuneui.modelload import resolve_model

    try:
        path = resolve_model(where)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or _dtype(art), use_safetensors=True,
                                                     **_trust(art))
    except _load_errors() as exc:
        raise ModelError(f"{where}: cannot load: {str(exc).splitlines()[0]}") from None
    if torch.cuda.is_available():
        model = model.to("cuda")  # type: ignore[arg-type]  # transformers types .to() through a decorator mypy misreads
    model.eval()
    return model


def load_tuned(art: RunArtifacts, dtype=None):
    """The tuned model: base + PEFT adapter (switchable off), or the full model directory."""
    if art.kind == "full":
        return load_causal_lm(str(art.model_dir), art, dtype)
    if not art.base_model:
        raise ModelError(f"{art.model_dir}: the adapter does not name its base model")
    from peft import PeftModel

    base = load_causal_lm(art.base_model, art, dtype)
    try:
        model = PeftModel.from_pretrained(base, str(art.model_dir))
    except _load_errors() as exc:
        raise ModelError(f"{art.model_dir}: cannot load the adapter: {str(exc).splitlines()[0]}") from None
    model.eval()
    return model


@dataclass
class LoadedRun:
    art: RunArtifacts
    model: Any
    tokenizer: Any
    notes: list[str] = field(default_factory=list)


def load_run(path: str | Path, dtype=None) -> LoadedRun:
    art = locate(path)
    tok = load_tokenizer_for(art)
    return LoadedRun(art, load_tuned(art, dtype), tok)
