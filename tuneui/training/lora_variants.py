"""LoRA variants peft 0.21 already has: DoRA, rsLoRA, PiSSA/OLoRA initialisation, LoRA+, plus NEFTune.

  use_dora          LoraConfig(use_dora=True): a learned magnitude per output row on top of LoRA's direction
  use_rslora        LoraConfig(use_rslora=True): scale updates by alpha/sqrt(r) instead of alpha/r
  lora_init         LoraConfig(init_lora_weights=...): "pissa" (full SVD), "pissa_fast" (peft's
                    "pissa_niter_16", randomised SVD), "olora" (QR), "gaussian", or peft's default
  loraplus_lr_ratio peft.optimizers.create_loraplus_optimizer: B matrices learn ratio x faster than A
  neftune_noise_alpha  TrainingArguments(neftune_noise_alpha=...): noise on input embeddings while training
                    (the Trainer's own; tuneui.training.arguments passes it)

PiSSA and OLoRA rewrite the base weights (W - scale * B A stays in the base), so an adapter saved the
usual way only works on that rewritten base. `save_adapter` converts it with peft's own
`path_initial_model_for_weight_conversion` into a plain LoRA adapter (rank 2r) for the untouched base,
which is what tuneui's chat, export and merge load; `snapshot_initial` keeps the initial adapter it needs.

Only the trained adapter ("default") is ever saved: TRL's DPO/KTO trainers add a frozen copy of it ("ref")
where it is the reference (PiSSA, OLoRA, DoRA), and peft's save_pretrained writes every adapter a model
holds, so checkpoints and adapter/ would otherwise carry a `ref/` folder the run never asked for.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneui.contract.rundir import ADAPTER_INIT_DIR

if TYPE_CHECKING:  # the mixin's partner, for the type checker only (importing transformers here is heavy)
    from transformers import Trainer as _TrainerBase
else:
    _TrainerBase = object

# RunConfig.lora_init -> peft's init_lora_weights (which combinations are valid is RunConfig's validator's job)
LORA_INITS: dict[str, Any] = {"default": True, "gaussian": "gaussian", "pissa": "pissa",
                              "pissa_fast": "pissa_niter_16", "olora": "olora"}
REWRITES_BASE = ("pissa", "pissa_fast", "olora")
TRAINED_ADAPTER = "default"  # the name get_peft_model gives the adapter tuneui trains


@dataclass(frozen=True)
class LoraVariant:
    use_dora: bool = False
    use_rslora: bool = False
    lora_init: str = "default"
    loraplus_lr_ratio: float | None = None
    neftune_noise_alpha: float | None = None

    @classmethod
    def from_config(cls, cfg) -> LoraVariant:
        """The variant fields of a RunConfig (defaults where the config has none of them yet)."""
        return cls(**{f: getattr(cfg, f, getattr(cls, f)) for f in cls.__dataclass_fields__})


def lora_config(v: LoraVariant, *, r: int, alpha: float, dropout: float, target_modules: Any) -> Any:
    from peft import LoraConfig

    # peft scales by alpha / r (or / sqrt(r)) and annotates alpha as int; a float alpha is fine
    return LoraConfig(r=r, lora_alpha=alpha,  # type: ignore[arg-type]
                      lora_dropout=dropout, target_modules=target_modules,
                      task_type="CAUSAL_LM", bias="none", use_dora=v.use_dora, use_rslora=v.use_rslora,
                      init_lora_weights=LORA_INITS[v.lora_init])


def snapshot_initial(model, v: LoraVariant, run_dir: str | Path) -> Path | None:
    """Right after get_peft_model: keep the initial PiSSA/OLoRA adapter that the conversion subtracts."""
    if v.lora_init not in REWRITES_BASE:
        return None
    path = Path(run_dir) / ADAPTER_INIT_DIR
    model.save_pretrained(path, safe_serialization=True)
    return path


@contextlib.contextmanager
def trained_adapter_only(model) -> Iterator[None]:
    """Within: `model.save_pretrained` writes the trained adapter alone, whoever calls it (the Trainer's
    checkpoint save too), even while other adapters such as TRL's frozen "ref" copy sit beside it."""
    names = list(getattr(model, "peft_config", None) or ())
    if names in ([], [TRAINED_ADAPTER]):  # a full model, or nothing but the trained adapter
        yield
        return
    model.save_pretrained = functools.partial(type(model).save_pretrained, model, selected_adapters=[TRAINED_ADAPTER])
    try:
        yield
    finally:
        del model.save_pretrained  # the class's method again


def save_adapter(model, out_dir: str | Path, initial: Path | None) -> None:
    """The adapter for the original base model (converted when the init rewrote the base)."""
    with trained_adapter_only(model):
        _save_converted(model, out_dir, initial)


def _save_converted(model, out_dir: str | Path, initial: Path | None) -> None:
    if initial is None:
        model.save_pretrained(out_dir, safe_serialization=True)
        return
    # peft overwrites the config it finds in the initial folder; keep ours intact by converting from a copy
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tuneui-init-") as tmp:
        shutil.copytree(initial, tmp, dirs_exist_ok=True)
        model.save_pretrained(out_dir, safe_serialization=True, path_initial_model_for_weight_conversion=tmp)


def loraplus_optimizer(model, args, ratio: float):
    """LoRA+ param groups with the optimizer class and hyper-parameters the Trainer itself would use."""
    from peft.optimizers import create_loraplus_optimizer
    from transformers import Trainer

    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    kwargs = dict(kwargs)
    lr = kwargs.pop("lr", args.learning_rate)
    return create_loraplus_optimizer(model, cls, lr=lr, loraplus_lr_ratio=ratio, weight_decay=args.weight_decay,
                                     **kwargs)


class LoraPlusMixin(_TrainerBase):
    """For the runner's Trainer subclass: build the LoRA+ optimizer inside create_optimizer, i.e. after
    accelerate/FSDP have wrapped the model (Trainer refuses a ready-made `optimizers=` under FSDP)."""

    loraplus_lr_ratio: float | None = None

    def create_optimizer(self, model: Any = None) -> Any:
        if self.optimizer is None and self.loraplus_lr_ratio:
            self.optimizer = loraplus_optimizer(model or self.model, self.args, self.loraplus_lr_ratio)
        return super().create_optimizer(model)
