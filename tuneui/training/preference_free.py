"""The reference-free preference objectives (orpo, simpo) inside tuneui's run, through TRL's experimental trainers.

TRL 1.16 keeps ORPO and CPO (whose `loss_type="simpo"` with `cpo_alpha=0` is SimPO) in `trl.experimental`:
their losses are TRL's (`odds_ratio_loss`, `cpo_loss`), the rows are tuneui's exact masking
(`tuneui.training.preference_data.encode_pairs`), and `TuneTrainer` sits in front as for every run.
Neither keeps a reference model: one forward pass over chosen + rejected per pair, at any technique.

Two things of TRL's are replaced. Their `tokenize_row` (run over the dataset in `__init__`) passes the
encoded rows through, as `_prepare_dataset` does for DPO and KTO. And ORPO's NLL term: TRL takes it over the
whole prompt + chosen reply, where the ORPO paper (and an SFT run of tuneui) trains the reply only, so
`concatenated_forward` is TRL's with the NLL taken over the chosen reply's labels (SFT's exact mask).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tuneui.contract.config import RunConfig
from tuneui.training.callbacks import TuneTrainer

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # chosen on purpose; the warning would reach every run's log

from trl.experimental.cpo import CPOConfig, CPOTrainer  # noqa: E402
from trl.experimental.orpo import ORPOConfig, ORPOTrainer  # noqa: E402


class _EncodedRows:
    def tokenize_row(self, feature, model=None):
        return feature


class TuneORPOTrainer(TuneTrainer, _EncodedRows, ORPOTrainer):
    def concatenated_forward(self, model, batch):
        import torch.nn.functional as F

        cat = self.concatenated_inputs(batch, padding_value=self.padding_value, device=self.accelerator.device)
        n = batch["chosen_labels"].shape[0]
        extra = {"output_router_logits": True} if self.aux_loss_enabled else {}
        outputs = model(cat["concatenated_input_ids"], attention_mask=cat["concatenated_attention_mask"],
                        use_cache=False, **extra)
        logits, labels = outputs.logits, cat["concatenated_labels"]
        nll = F.cross_entropy(logits[:n, :-1].flatten(0, 1), labels[:n, 1:].flatten().to(logits.device))
        logps = self.get_batch_logps(logits, labels, average_log_prob=True)
        out = (logps[:n], logps[n:], logits[:n, :-1], logits[n:, :-1], nll)
        return out + (outputs.aux_loss,) if self.aux_loss_enabled else out


class TuneSimPOTrainer(TuneTrainer, _EncodedRows, CPOTrainer):
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        for stored in self._stored_metrics.values():
            stored.pop("nll_loss", None)  # SimPO has no NLL term (cpo_alpha 0): TRL would log a constant 0
        super().log(logs, start_time)


def trainer_arguments(cfg: RunConfig, run_dir: Path, **common: Any) -> Any:
    from tuneui.training.arguments import training_arguments

    if cfg.objective == "orpo":  # beta is the paper's lambda: the weight of the odds-ratio term beside the NLL
        return training_arguments(cfg, run_dir, ORPOConfig, **common)
    return training_arguments(cfg, run_dir, CPOConfig, loss_type="simpo", cpo_alpha=0.0,
                              simpo_gamma=cfg.simpo_gamma, **common)


def trainer_class(objective: str) -> type:
    return TuneORPOTrainer if objective == "orpo" else TuneSimPOTrainer
