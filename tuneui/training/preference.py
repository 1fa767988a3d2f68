"""Preference objectives inside tuneui's run: TRL's trainers and losses, tuneui's data.

The trainers are TRL's `DPOTrainer` and `KTOTrainer` with tuneui's `TuneTrainer` in front (the
finite-loss check, sealed checkpoints, LoRA+), so a preference run writes the same events.jsonl,
checkpoints and report as an SFT run and resumes the same way. What TRL would otherwise do itself,
tokenizing the prompt and the replies, is replaced by tuneui's exact masking
(`tuneui.training.preference_data`): `_prepare_dataset` passes the encoded rows through.

The reference model: with LoRA/QLoRA there is no `ref_model`; the reference log-probabilities are
computed with the adapter disabled (the base weights the adapter sits on), so no second copy of the
model exists. TRL, handed a model that already carries its adapter, adds a frozen copy of it ("ref")
and runs every reference pass through that copy; while the adapter is fresh (its B matrices zero)
the copy adds exactly nothing to the base, so `build_trainer` removes it (`drop_reference_adapter`).
With full/freeze fine-tuning TRL loads a second, frozen copy from the same model folder: that is the
memory DPO and KTO cost there. ORPO and SimPO keep no reference at all
(`tuneui.training.preference_free`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

from tuneui.contract.config import PAIR_OBJECTIVES, REFERENCE_FREE_OBJECTIVES, RunConfig
from tuneui.templates import RenderOptions
from tuneui.training.callbacks import TuneTrainer
from tuneui.training.dataset import EncodeStats, RunData
from tuneui.training.lora_variants import TRAINED_ADAPTER, trained_adapter_only
from tuneui.training.preference_data import (
    PairCollator,
    SidedPairCollator,
    UnpairedCollator,
    encode_pairs,
    encode_unpaired,
)


class _Encoded:
    """The rows come encoded by tuneui's masking; TRL's own tokenization must not run again."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


class _TrainedAdapterSaved:
    """Checkpoints hold the trained adapter alone, not TRL's frozen "ref" copy of it: on --resume TRL makes
    the copy again from the freshly initialised adapter, which is what the copy was at the start."""

    def _save(self, output_dir=None, state_dict=None):
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)  # type: ignore[attr-defined]
        with trained_adapter_only(model):
            return super()._save(output_dir, state_dict)  # type: ignore[misc]


class TuneDPOTrainer(TuneTrainer, _Encoded, _TrainedAdapterSaved, DPOTrainer):
    pass


class TuneKTOTrainer(TuneTrainer, _Encoded, _TrainedAdapterSaved, KTOTrainer):
    pass


def encode_run_data(cfg: RunConfig, tokenizer, data: RunData, options: RenderOptions
                    ) -> tuple[list[dict], EncodeStats, list[dict], EncodeStats]:
    """(train rows, their stats, validation rows, their stats) for the run's objective."""
    if cfg.objective in PAIR_OBJECTIVES:
        train, train_stats = encode_pairs(tokenizer, data.train_full, cfg.max_seq_length, options=options)
        val, val_stats = encode_pairs(tokenizer, data.val_full, cfg.max_seq_length, options=options)
        for row in train:  # length-grouped batches, as SFT runs get
            # chosen and rejected rows share one padded batch: its width is the longest of either side
            row["length"] = max(len(row["chosen_input_ids"]), len(row["rejected_input_ids"]))
        return train, train_stats, val, val_stats
    block = cfg.micro_batch_size
    train, train_stats = encode_unpaired(tokenizer, data.train_full, cfg.max_seq_length, block=block, options=options)
    val, val_stats = encode_unpaired(tokenizer, data.val_full, cfg.max_seq_length, block=block, options=options)
    return train, train_stats, val, val_stats


def make_collator(cfg: RunConfig, tokenizer) -> PairCollator | UnpairedCollator:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if cfg.objective in REFERENCE_FREE_OBJECTIVES:
        return SidedPairCollator(pad)
    return PairCollator(pad) if cfg.objective == "dpo" else UnpairedCollator(pad)


def trainer_arguments(cfg: RunConfig, run_dir: Path) -> Any:
    from tuneui.training.arguments import training_arguments

    # tuneui's model_setup has already applied gradient checkpointing (TRL's configs default it on).
    common: dict[str, Any] = dict(beta=cfg.pref_beta, gradient_checkpointing=False, max_length=cfg.max_seq_length)
    if cfg.objective in REFERENCE_FREE_OBJECTIVES:
        from tuneui.training import preference_free

        return preference_free.trainer_arguments(cfg, run_dir, **common)
    if cfg.objective == "dpo":
        return training_arguments(cfg, run_dir, DPOConfig, loss_type=[cfg.dpo_loss_type], **common)
    # KTO's KL rows were paired within blocks of micro_batch_size rows: the batches must be exactly those blocks.
    return training_arguments(cfg, run_dir, KTOConfig, loss_type=cfg.kto_loss_type,
                              train_sampling_strategy="sequential", **common)


def build_trainer(cfg: RunConfig, run_dir: Path, model, tokenizer, rows: list[dict], collator, callbacks: list):
    from datasets import Dataset

    kw: dict[str, Any] = dict(args=trainer_arguments(cfg, run_dir), data_collator=collator,
                              train_dataset=Dataset.from_list(rows), processing_class=tokenizer, callbacks=callbacks,
                              run_cfg=cfg, run_dir=run_dir)
    if cfg.objective in REFERENCE_FREE_OBJECTIVES:  # no ref_model argument: there is no reference
        from tuneui.training.preference_free import trainer_class

        return trainer_class(cfg.objective)(model=model, **kw)
    cls = TuneDPOTrainer if cfg.objective == "dpo" else TuneKTOTrainer
    with _copied_without_init(model):
        trainer = cls(model=model, ref_model=None, **kw)
    drop_reference_adapter(trainer.model)
    return trainer


@contextlib.contextmanager
def _copied_without_init(model) -> Iterator[None]:
    """TRL makes its "ref" copy with `add_adapter("ref", <the adapter's config>)` and then copies the weights
    over. Under PiSSA/OLoRA that config's init runs again on the base the first init already rewrote,
    moving more of it into the copy, whose weights are then overwritten: the policy and the reference
    would no longer be the model the run starts from (max logit change 0.92 on demo-tiny). While TRL
    copies, the config asks for the plain init, which leaves the base as it is."""
    config: Any = getattr(model, "peft_config", {}).get(TRAINED_ADAPTER)
    init = getattr(config, "init_lora_weights", True)
    if config is None or init is True:
        yield
        return
    config.init_lora_weights = True
    try:
        yield
    finally:
        config.init_lora_weights = init  # the "ref" copy shares this config object: restored for both


def drop_reference_adapter(model) -> bool:
    """Remove the "ref" adapter TRL's DPO and KTO trainers add to a model that arrives with its adapter,
    when the adapter disabled gives exactly the same model: every LoRA B matrix still zero (a fresh
    default or gaussian init) and no DoRA magnitude (whose fresh output equals the base only up to
    rounding). TRL then takes the reference with the adapter disabled, as it does for an adapter it
    made itself. Kept where it matters: PiSSA/OLoRA move part of the base into the adapter, so only the
    copy gives back the original model. What it saves per step: the reference pass through the adapter's
    matrices and two switches of the active adapter (on demo-tiny, LoRA r16 on the MLP: 1,812 of 34,669
    operator calls and 2.6% of the FLOPs over 5 steps, benchmarks/README.md), and the copy's memory."""
    peft_config = getattr(model, "peft_config", None)
    if not peft_config or "ref" not in peft_config:
        return False
    for name, param in model.named_parameters():
        parts = name.split(".")
        if "ref" not in parts:
            continue
        if "lora_magnitude_vector" in parts:
            return False
        if {"lora_B", "lora_embedding_B"} & set(parts) and bool(param.detach().any()):
            return False
    model.delete_adapter("ref")
    return True


def reply_logps(model, batch: dict) -> list[float]:
    """Summed log-probability of each row's compared tokens (its completion mask) under `model`."""
    import torch

    device = next(model.parameters()).device
    ids = batch["input_ids"].to(device)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=batch["attention_mask"].to(device)).logits[:, :-1].float()
    mask = batch["completion_mask"][:, 1:].to(device)
    logps = torch.gather(logits.log_softmax(-1), 2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1).tolist()


def evaluate_preference(model, rows: list[dict], collator, *, batch_size: int = 8) -> dict:
    """How the model ranks held-out replies, without a reference: for pairs the share whose chosen reply is
    more likely than the rejected one; for KTO rows the mean log-probability of desirable and undesirable
    replies. Base and tuned are measured the same way, so the report compares them directly."""
    if not rows:
        return {"eval_loss": None, "preference": None}
    was_training = model.training
    model.eval()
    try:
        out: list[float] = []
        for i in range(0, len(rows), batch_size):
            out += reply_logps(model, collator(rows[i:i + batch_size]))
    finally:
        model.train(was_training)
    if "chosen_input_ids" in rows[0]:
        half = len(out)
        chosen, rejected = [], []
        for i in range(0, half, 2 * batch_size):
            n = min(batch_size, (half - i) // 2)
            chosen += out[i:i + n]
            rejected += out[i + n:i + 2 * n]
        wins = sum(c > r for c, r in zip(chosen, rejected))
        return {"eval_loss": None, "preference": {
            "pairs": len(chosen), "accuracy": wins / len(chosen),
            "mean_logp_margin": sum(c - r for c, r in zip(chosen, rejected)) / len(chosen)}}
    good = [lp for lp, row in zip(out, rows) if row["label"]]
    bad = [lp for lp, row in zip(out, rows) if not row["label"]]
    return {"eval_loss": None, "preference": {
        "desirable": len(good), "undesirable": len(bad),
        "desirable_mean_logp": sum(good) / len(good) if good else None,
        "undesirable_mean_logp": sum(bad) / len(bad) if bad else None}}
