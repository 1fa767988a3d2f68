"""Periodic validation of a preference run: the validation pairs under the policy and under TRL's reference.

Every `eval_steps` the run measures, on at most `eval_max_examples` validation rows, the summed log-probability
of each reply's compared tokens (the same masking as training) under the model being trained and under the
reference TRL trains against, and turns them into the `eval` event's preference fields
(tuneui/contract/events.py). The reference never changes during a run, so its log-probabilities are measured
once, at the first validation.

The reference is TRL's own: its `ref_model` (full fine-tuning), else the base with the adapter disabled (LoRA,
QLoRA; TRL's "ref" copy of the starting adapter where disabling it is not the start: PiSSA, OLoRA, DoRA),
else none (reference-free objectives): then accuracy and margin are the plain log-probability ranking the
final report uses, and there is no drift.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from tuneui.training.preference import reply_logps


@contextlib.contextmanager
def reference_model(trainer: Any, model: Any) -> Iterator[Any]:
    """The model TRL computes reference log-probabilities with, for the duration of the block (None: none)."""
    ref = getattr(trainer, "ref_model", None)
    if ref is not None:
        yield ref
        return
    from accelerate.utils import is_peft_model
    from trl.trainer.utils import use_adapter

    unwrapped = trainer.accelerator.unwrap_model(model) if trainer is not None else model
    if not is_peft_model(unwrapped):
        yield None
        return
    with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
        yield unwrapped


def side_logps(model: Any, rows: list[dict], collator: Callable[[list[dict]], dict], batch_size: int = 8
               ) -> tuple[list[float], list[float]]:
    """(chosen, rejected) summed log-probabilities for pairs; (desirable, undesirable) for KTO rows."""
    first: list[float] = []
    second: list[float] = []
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(rows), batch_size):
            batch = rows[i:i + batch_size]
            out = reply_logps(model, collator(batch))
            if "chosen_input_ids" in batch[0]:  # PairCollator: the chosen rows, then the rejected ones
                first += out[:len(batch)]
                second += out[len(batch):]
            else:
                first += [lp for lp, row in zip(out, batch) if row["label"]]
                second += [lp for lp, row in zip(out, batch) if not row["label"]]
    finally:
        model.train(was_training)
    return first, second


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def figures(policy: tuple[list[float], list[float]], reference: tuple[list[float], list[float]] | None, *,
            beta: float, paired: bool) -> dict:
    """The eval event's preference fields from the two sides' log-probabilities (policy and reference)."""
    chosen, rejected = policy
    if reference is None:  # reference-free: rewards are the log-probabilities themselves
        reward_c, reward_r, drift = list(chosen), list(rejected), None
    else:
        ref_c, ref_r = reference
        reward_c = [beta * (p - r) for p, r in zip(chosen, ref_c)]
        reward_r = [beta * (p - r) for p, r in zip(rejected, ref_r)]
        drift = _mean([p - r for p, r in zip(chosen, ref_c)])
    out: dict[str, Any] = {"logp_chosen": _mean(chosen), "logp_rejected": _mean(rejected), "logp_drift": drift}
    if paired:
        out.update(pref_pairs=len(chosen), pref_accuracy=_mean([float(c > r) for c, r in zip(reward_c, reward_r)]),
                   pref_margin=_mean([c - r for c, r in zip(reward_c, reward_r)]))
    else:  # KTO's replies are not paired: no accuracy; the margin is between the two groups' mean rewards
        good, bad = _mean(reward_c), _mean(reward_r)
        out.update(pref_pairs=len(chosen) + len(rejected),
                   pref_margin=good - bad if good is not None and bad is not None else None)
    return out


class PreferenceValidation:
    """A preference run's `evaluate_fn`: the validation figures of `model`, or None without validation rows."""

    def __init__(self, rows: list[dict], collator: Callable[[list[dict]], dict], *, beta: float,
                 trainer: Callable[[], Any], batch_size: int = 8, reference_free: bool = False):
        self.rows, self.collator, self.beta, self.batch_size = rows, collator, beta, batch_size
        # ORPO/SimPO train against no reference: with LoRA the adapter-disabled base would still be
        # there to measure, and the "drift" from it would read as a reference those runs do not have.
        self.reference_free = reference_free
        self.trainer = trainer  # read when first needed: the trainer is built after its callbacks
        self._reference: tuple[list[float], list[float]] | None = None
        self._reference_measured = False

    def __call__(self, model: Any) -> dict | None:
        if not self.rows:
            return None
        if not self._reference_measured and not self.reference_free:
            with reference_model(self.trainer(), model) as ref:
                self._reference = side_logps(ref, self.rows, self.collator, self.batch_size) if ref else None
            self._reference_measured = True
        policy = side_logps(model, self.rows, self.collator, self.batch_size)
        return figures(policy, self._reference, beta=self.beta, paired="chosen_input_ids" in self.rows[0])
