"""RunConfig: the one typed description of a training run.

The wizard fills it, `tuneui train` reads it from TOML, and it is saved as `run.toml` in the run
directory so every run can be reproduced headless: the cleaning the run did is in it too (the
`[cleaning]` table). Validation errors name every bad field.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tuneui.contract import defaults
from tuneui.contract.cleaning import CleanOptions
from tuneui.contract.errors import ConfigError

Technique = Literal["full", "lora", "qlora", "lora_8bit", "freeze"]
TECHNIQUES: tuple[str, ...] = Technique.__args__  # type: ignore[attr-defined]
PEFT_TECHNIQUES: frozenset[str] = frozenset({"lora", "qlora", "lora_8bit"})
DATASET_FORMATS = ("auto", "messages", "sharegpt", "alpaca", "prompt_completion", "qa", "text")


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # What to tune
    name: str = Field("run", min_length=1, description="run name, used for the run directory")
    model: str = Field("demo", min_length=1, description="'demo' (SmolLM2-135M-Instruct, fetched once), 'demo-tiny' "
                       "(a tiny random model for tests), a local model directory or a hub id")
    revision: str | None = Field(None, description="hub revision (pinned when trust_remote_code is on)")
    trust_remote_code: bool = Field(False, description="run the model repo's own Python code (off by default)")

    # Data
    dataset: str = Field("demo", min_length=1, description="'demo' (the demo's dates), 'demo-tiny' (the tiny "
                         "model's sample), a data file/directory or a hub dataset")
    val_dataset: str | None = Field(None, description="separate validation file; else split off val_fraction")
    dataset_format: str = Field("auto", description="auto, alpaca, sharegpt, messages, prompt_completion, qa, text")
    columns: dict[str, str] = Field(default_factory=dict, description="column mapping override")
    skip_bad_lines: bool = Field(False, description="skip lines that cannot be read (`tuneui data inspect` lists "
                                 "them) instead of refusing the file")
    val_fraction: float = Field(defaults.VAL_FRACTION, ge=0.0, lt=1.0)
    clean: bool = Field(True, description="run the cleaning pipeline before training")
    cleaning: CleanOptions = Field(default_factory=CleanOptions, description="the cleaning steps and thresholds")

    # Technique
    technique: Technique = "lora"
    lora_r: int = Field(defaults.LORA_R, ge=1, le=1024)
    lora_alpha: float = Field(defaults.LORA_ALPHA, gt=0)
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    lora_target_modules: list[str] | Literal["all-linear"] = "all-linear"
    freeze_trainable_layers: int = Field(2, ge=1, description="'freeze': train only the top N decoder layers")
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_double_quant: bool = True

    # Numerics and optimiser
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    optimizer: Literal["adamw", "adamw_8bit", "paged_adamw_8bit", "sgd"] = "adamw"
    learning_rate: float = Field(2e-4, gt=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, ge=0)

    # Schedule and batching
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1, description="optimizer steps; -1 means run `epochs`")
    micro_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_seq_length: int = Field(defaults.MAX_SEQ_LENGTH, ge=8)
    # Off by default: with SDPA (transformers' default attention) a packed row attends over the whole
    # row under a block mask, which costs attention time and mask memory quadratic in the row;
    # length-grouped batches measured faster on CPU. Packing pays off with varlen FlashAttention.
    packing: bool = Field(False, description="padding-free packed rows instead of length-grouped padded batches")
    gradient_checkpointing: bool = False

    # Evaluation, logging, checkpoints
    logging_steps: int = Field(10, ge=1)
    eval_steps: int = Field(50, ge=0, description="0 disables periodic evaluation")
    save_steps: int = Field(100, ge=0, description="0 saves only at the end")
    save_total_limit: int = Field(2, ge=1)
    eval_max_examples: int = Field(200, ge=0, description="validation examples used for the task metric")
    eval_max_new_tokens: int = Field(48, ge=1)
    eval_batch_size: int = Field(16, ge=1, description="prompts generated together in the base/tuned evaluation")
    early_stopping_patience: int = Field(
        0, ge=0, description="stop after N evaluations without a better eval loss and keep the best weights; 0 = off")
    overfit_patience: int = Field(3, ge=1, description="warn when eval loss rises this many evaluations in a row")
    divergence_factor: float = Field(2.0, gt=1.0, description="loss this many times its best counts as diverging")
    divergence_patience: int = Field(10, ge=1, description="...for this many optimizer steps in a row")
    seed: int = 42
    output_dir: str | None = Field(None, description="run directory; default <runs folder>/<name>")

    @model_validator(mode="after")
    def _cross_field(self) -> RunConfig:
        if self.technique in ("qlora", "lora_8bit") and self.optimizer == "sgd":
            raise ValueError("technique: quantised bases need an Adam-family optimizer, not sgd")
        if self.precision == "fp16" and self.technique == "full":
            raise ValueError("precision: fp16 full fine-tuning is unstable without a loss scaler; use bf16")
        if self.trust_remote_code and not self.revision:
            raise ValueError("revision: trust_remote_code needs a pinned revision (a commit hash)")
        return self

    @property
    def uses_peft(self) -> bool:
        return self.technique in PEFT_TECHNIQUES

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_without_none(self.model_dump(mode="json")))

    def save(self, path: str | Path) -> Path:
        from tuneui.contract.fsutil import atomic_write_text

        return atomic_write_text(Path(path), self.to_toml())

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_errors(exc, source)) from None

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> RunConfig:
        path = Path(path)
        if path.is_dir():
            path = path / "run.toml"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        data = apply_overrides(data, overrides or [])
        return cls.from_dict(data, source=str(path))

    def with_overrides(self, overrides: list[str]) -> RunConfig:
        data = apply_overrides(self.model_dump(mode="json"), overrides)
        return RunConfig.from_dict(data, source="--set")

    def updated(self, **changes: Any) -> RunConfig:
        """A copy with `changes` applied and the whole config validated again (ConfigError if not)."""
        return RunConfig.from_dict({**self.model_dump(), **changes}, source="config")


def _without_none(data: Any) -> Any:
    # TOML has no null: an unset optional field is simply absent from run.toml.
    if isinstance(data, dict):
        return {k: _without_none(v) for k, v in data.items() if v is not None}
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """`key=value` (or `cleaning.key=value`), the value read as a TOML value when it is one (numbers,
    bools, lists), else text."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value")
    head, dot, sub = key.partition(".")
    if head not in RunConfig.model_fields:
        raise ConfigError(f"--set {key}: unknown field{_suggest(key)}")
    if dot and head != "cleaning":
        raise ConfigError(f"--set {key}: only the cleaning options are nested (cleaning.OPTION=VALUE)")
    if dot and sub not in CleanOptions.model_fields:
        near = difflib.get_close_matches(sub, CleanOptions.model_fields, n=1)
        raise ConfigError(f"--set {key}: unknown cleaning option" + (f" (did you mean 'cleaning.{near[0]}'?)"
                                                                      if near else ""))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = dict(data)
    for item in overrides:
        key, value = parse_override(item)
        head, dot, sub = key.partition(".")
        if dot:
            nested = data.get(head)
            data[head] = {**(nested if isinstance(nested, dict) else {}), sub: value}
        else:
            data[key] = value
    return data


def _suggest(field: str) -> str:
    match = difflib.get_close_matches(field, RunConfig.model_fields, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        if err["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown field{_suggest(loc)}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        got = f" (got {err['input']!r})" if err["type"] not in ("missing",) and err["loc"] else ""
        lines.append(f"  {loc}: {msg}{got}")
    n = len(lines)
    return f"{source}: {n} invalid field{'s' if n != 1 else ''}:\n" + "\n".join(lines)
