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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tuneui.contract import defaults
from tuneui.contract.cleaning import CleanOptions
from tuneui.contract.errors import ConfigError
from tuneui.contract.safety import name_problem, remote_code_problem

Technique = Literal["full", "lora", "qlora", "lora_8bit", "freeze"]
TECHNIQUES: tuple[str, ...] = Technique.__args__  # type: ignore[attr-defined]
PEFT_TECHNIQUES: frozenset[str] = frozenset({"lora", "qlora", "lora_8bit"})
Tracker = Literal["tensorboard", "wandb", "mlflow", "trackio"]
TRACKERS: tuple[str, ...] = Tracker.__args__  # type: ignore[attr-defined]
LoraInit = Literal["default", "gaussian", "pissa", "pissa_fast", "olora"]
LaunchStrategy = Literal["fsdp", "zero2", "zero2_offload", "zero3", "zero3_offload"]
# What the run optimises: next-token loss on replies (sft), or a preference loss through TRL's trainers.
Objective = Literal["sft", "dpo", "kto", "orpo", "simpo"]
OBJECTIVES: tuple[str, ...] = Objective.__args__  # type: ignore[attr-defined]
PAIR_OBJECTIVES: tuple[str, ...] = ("dpo", "orpo", "simpo")  # trained on chosen/rejected pairs
# No reference model at all, at any technique: ORPO (odds ratio + NLL) and SimPO (length-normalised margin).
REFERENCE_FREE_OBJECTIVES: tuple[str, ...] = ("orpo", "simpo")
# The DPO losses TRL 1.16's DPOTrainer implements (DPOConfig.loss_type), by TRL's names.
DpoLoss = Literal["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
                  "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm"]
KtoLoss = Literal["kto", "apo_zero_unpaired"]
# LoRA variant fields and their off value: they only mean something for the LoRA techniques.
LORA_VARIANT_OFF: dict[str, Any] = {"use_dora": False, "use_rslora": False, "lora_init": "default",
                                    "loraplus_lr_ratio": None}
DATASET_FORMATS = ("auto", "messages", "sharegpt", "alpaca", "prompt_completion", "qa", "text")


class RunConfig(BaseModel):
    # No NaN or infinity anywhere: `epochs = inf` would train forever, `learning_rate = nan` silently.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    # What to tune
    name: str = Field("run", min_length=1, description="run name, used for the run directory")
    model: str = Field("demo", min_length=1, description="'demo' (SmolLM2-135M-Instruct, fetched once), 'demo-tiny' "
                       "(a tiny random model for tests), a local model directory or a hub id")
    revision: str | None = Field(None, description="hub revision (pinned when trust_remote_code is on)")
    trust_remote_code: bool = Field(False, description="run the model repo's own Python code (off by default)")
    trust_local_code: str | None = Field(None, description="the local model directory whose own Python code you "
                                         "consent to run with trust_remote_code (--trust-local-code PATH)")
    start_from: str = Field("", description="a finished run's directory to start from (the usual SFT -> DPO "
                            "path): its result is this run's base, `model` names the base that run trained on; "
                            "empty = start from `model`")

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
    train_reasoning: bool = Field(True, description="train the reasoning (<think>...</think> or reasoning_content) "
                                  "in replies; off trains only the answer and its end token")
    fold_system: bool = Field(False, description="write the system prompt at the head of the first user turn, for "
                              "chat templates with no system role (Gemma, Mistral v1)")

    # Technique
    objective: Objective = Field("sft", description="sft trains the replies; dpo, orpo and simpo train "
                                 "chosen/rejected pairs (orpo and simpo without a reference model), kto replies "
                                 "marked desirable or undesirable (docs/preference.md)")
    pref_beta: float = Field(0.1, gt=0, description="dpo/kto: how far the model may move from the reference "
                             "(higher stays closer); orpo: the weight of the odds-ratio term beside the NLL; "
                             "simpo: the reward scale (the SimPO paper uses 2 to 2.5)")
    dpo_loss_type: DpoLoss = Field("sigmoid", description="dpo: TRL's loss (sigmoid is the DPO paper's; ipo, "
                                   "robust, hinge, apo_zero, ...)")
    kto_loss_type: KtoLoss = Field("kto", description="kto: kto (with its KL estimate) or apo_zero_unpaired")
    simpo_gamma: float = Field(0.5, ge=0, description="simpo: the target reward margin between chosen and rejected")

    technique: Technique = "lora"
    lora_r: int = Field(defaults.LORA_R, ge=1, le=1024)
    lora_alpha: float = Field(defaults.LORA_ALPHA, gt=0)
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    lora_target_modules: list[str] | Literal["all-linear"] = "all-linear"
    freeze_trainable_layers: int = Field(2, ge=1, description="'freeze': train only the top N decoder layers")
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_double_quant: bool = True

    # LoRA variants (peft's own; the explanations are what the wizard shows)
    use_dora: bool = Field(False, description="DoRA: also learns each output row's magnitude; often better at low "
                           "rank, about 2x the adapter's activation memory")
    use_rslora: bool = Field(False, description="rsLoRA: scale by alpha/sqrt(r) instead of alpha/r so high ranks "
                             "keep learning (a larger update: consider a lower learning rate)")
    lora_init: LoraInit = Field("default", description="adapter start: pissa/pissa_fast/olora begin from the "
                                "weights' principal directions and converge faster; default starts at zero")
    loraplus_lr_ratio: float | None = Field(None, ge=1, description="LoRA+: the B matrices learn this many times "
                                            "faster than A (16 is typical); empty = off")
    neftune_noise_alpha: float | None = Field(None, gt=0, description="NEFTune: noise on the input embeddings while "
                                              "training, helps instruction tuning (5 is typical); empty = off")

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
    eval_max_new_tokens: int = Field(48, ge=1, le=4096)
    eval_batch_size: int = Field(16, ge=1, le=4096,
                                 description="prompts generated together in the base/tuned evaluation")
    early_stopping_patience: int = Field(
        0, ge=0, description="stop after N evaluations without a better eval loss and keep the best weights; 0 = off")
    overfit_patience: int = Field(3, ge=1, description="warn when eval loss rises this many evaluations in a row")
    divergence_factor: float = Field(2.0, gt=1.0, description="loss this many times its best counts as diverging")
    divergence_patience: int = Field(10, ge=1, description="...for this many optimizer steps in a row")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="random seed (numpy accepts 0 to 2**32-1)")
    output_dir: str | None = Field(None, description="run directory; default <runs folder>/<name>")
    report_to: list[Tracker] = Field(default_factory=list, description="experiment trackers (tensorboard, wandb, "
                                     "mlflow, trackio), offline, written under RUN_DIR/trackers")

    # Multi-GPU: what `--print-launch` writes (a single process ignores it)
    launch_strategy: LaunchStrategy = Field("fsdp", description="sharding for multi-GPU launch plans: FSDP "
                                            "full-shard, or DeepSpeed ZeRO-2/ZeRO-3 with or without CPU offload")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if (problem := name_problem(name)) is not None:
            raise ValueError(problem)
        return name

    @field_validator("lora_target_modules")
    @classmethod
    def _targets(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value:
                raise ValueError("name at least one module (e.g. [\"q_proj\", \"v_proj\"]) or use \"all-linear\"")
            if any(not m.strip() for m in value):
                raise ValueError("module names cannot be empty")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> RunConfig:
        if self.technique in ("qlora", "lora_8bit") and self.optimizer == "sgd":
            raise ValueError("technique: quantised bases need an Adam-family optimizer, not sgd")
        if self.precision == "fp16" and self.technique == "full":
            raise ValueError("precision: fp16 full fine-tuning is unstable without a loss scaler; use bf16")
        if (problem := remote_code_problem(self.model, self.revision, self.trust_remote_code,
                                           self.trust_local_code)) is not None:
            raise ValueError(problem)
        on = [f for f, off in LORA_VARIANT_OFF.items() if getattr(self, f) != off]
        if on and not self.uses_peft:
            raise ValueError(f"{on[0]}: only applies to the LoRA techniques (lora, qlora, lora_8bit), "
                             f"not {self.technique!r}")
        if self.lora_init in ("pissa", "pissa_fast") and self.technique in ("qlora", "lora_8bit"):
            raise ValueError("lora_init: PiSSA takes an SVD of full-precision weights and peft refuses quantised "
                             "layers; use technique 'lora', or lora_init 'olora' (it dequantises and re-quantises)")
        if self.use_dora and self.lora_init in ("pissa", "pissa_fast", "olora"):
            # the saved adapter is converted for the untouched base; DoRA's magnitudes are normalised by the
            # rewritten base, so the converted adapter would be off (measured: 15-20% of the change)
            raise ValueError(f"lora_init: {self.lora_init} with use_dora cannot be saved as an adapter for the "
                             "original base; choose one of them")
        if self.launch_strategy.endswith("_offload") and (self.loraplus_lr_ratio or self.optimizer != "adamw"):
            # with offload DeepSpeed runs its own CPU Adam: LoRA+'s groups or an 8-bit/SGD choice would be dropped
            field = "loraplus_lr_ratio" if self.loraplus_lr_ratio else "optimizer"
            raise ValueError(f"{field}: DeepSpeed's CPU offload ({self.launch_strategy}) brings its own Adam "
                             "optimizer; use launch_strategy zero2/zero3 without offload, or fsdp")
        if len(set(self.report_to)) != len(self.report_to):
            raise ValueError("report_to: a tracker is listed twice")
        self._check_objective()
        return self

    def _check_objective(self) -> None:
        if self.objective != "dpo" and self.dpo_loss_type != "sigmoid":
            raise ValueError(f"dpo_loss_type: applies to objective dpo, not {self.objective!r}")
        if self.objective != "kto" and self.kto_loss_type != "kto":
            raise ValueError(f"kto_loss_type: applies to objective kto, not {self.objective!r}")
        if self.objective != "simpo" and self.simpo_gamma != 0.5:
            raise ValueError(f"simpo_gamma: applies to objective simpo, not {self.objective!r}")
        if self.objective == "sft":
            return
        if self.packing:
            raise ValueError(f"packing: objective {self.objective} compares whole replies, so each sequence keeps "
                             "its own row; set packing = false")
        if self.early_stopping_patience:
            raise ValueError(f"early_stopping_patience: watches the SFT eval loss, which objective "
                             f"{self.objective} does not compute; set it to 0")
        if self.objective == "kto" and self.kto_loss_type == "kto" and self.micro_batch_size < 2:
            raise ValueError("micro_batch_size: objective kto estimates its KL term from the other replies in a "
                             "micro-batch, so it needs at least 2 (or kto_loss_type = apo_zero_unpaired)")

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
            text = path.read_text(encoding="utf-8-sig")  # editors on Windows often start files with a BOM
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
        """A copy with `changes` applied and the whole config validated again (ConfigError if not).
        Switching to a technique that cannot use the chosen LoRA variants turns them off: they were
        picked for the old technique (the wizard's Technique step switches after Settings was seen).
        Likewise switching the objective turns off what only the old one allowed (its loss type, SimPO's
        margin; packing and early stopping, which preference objectives cannot use)."""
        data = {**self.model_dump(), **changes}
        technique = data.get("technique")
        if "technique" in changes and technique not in PEFT_TECHNIQUES:
            data.update({f: off for f, off in LORA_VARIANT_OFF.items() if f not in changes})
        if ("technique" in changes and technique in ("qlora", "lora_8bit") and "lora_init" not in changes
                and data.get("lora_init") in ("pissa", "pissa_fast")):
            data["lora_init"] = "default"
        if "objective" in changes:  # the wizard's Technique step: what the old objective alone allowed goes
            objective = data.get("objective")
            off = {"dpo_loss_type": ("dpo", "sigmoid"), "kto_loss_type": ("kto", "kto"), "simpo_gamma": ("simpo", 0.5)}
            data.update({f: default for f, (owner, default) in off.items() if owner != objective and f not in changes})
            if objective != "sft":
                data.update({f: off_value for f, off_value in (("packing", False), ("early_stopping_patience", 0))
                             if f not in changes})
        return RunConfig.from_dict(data, source="config")


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
