"""Preference and KTO examples -> token ids whose completion mask is tuneui's exact loss masking.

TRL's DPOTrainer and KTOTrainer tokenize `prompt` and `prompt + chosen` themselves and take the
completion as "whatever follows the common prefix" (`common_prefix_length`). tuneui encodes each
side as one conversation instead (prompt + chosen, prompt + rejected, prompt + completion) with
`tuneui.templates.encode_conversation`, so the tokens a pair compares are exactly the tokens SFT
would train for that reply: the reply and its end-of-turn token, never the separator the template
writes after it, never a role header, and the same answer for every chat template
(docs/masking.md). Replies already in the prompt (a multi-turn history) are rendered but not
compared: they are marked `train: False`.

The collators hand TRL's loss the tensors its own collators build (`input_ids`, `attention_mask`,
`completion_mask`; for KTO also `label` and the `KL_*` sequences), so the loss code is TRL's.
"""

from __future__ import annotations

from tuneui.contract.datasets import Conversation, Example
from tuneui.data.sequences import prompt_only
from tuneui.templates import IGNORE_INDEX, MaskingRefused, RenderOptions, encode_conversation
from tuneui.training.dataset import EncodeStats


def _encode(tokenizer, prompt: Conversation, reply: Conversation, max_seq_length: int, tools,
            options: RenderOptions) -> tuple[list[int], list[int]]:
    enc = encode_conversation(tokenizer, prompt_only(prompt) + list(reply), max_seq_length, tools=tools,
                              options=options)
    return enc.input_ids, [int(label != IGNORE_INDEX) for label in enc.labels]


def _count(stats: EncodeStats, ids: list[list[int]], masks: list[list[int]]) -> None:
    stats.kept += 1
    stats.tokens += sum(len(x) for x in ids)
    stats.trained_tokens += sum(sum(m) for m in masks)


def encode_pairs(tokenizer, examples: list[Example], max_seq_length: int, *,
                 options: RenderOptions | None = None) -> tuple[list[dict], EncodeStats]:
    """One row per pair the masking accepts on both sides; a pair loses both sides or neither."""
    options = options or RenderOptions()
    stats = EncodeStats(total=len(examples))
    rows = []
    for i, ex in enumerate(examples):
        if ex.chosen is None or ex.rejected is None:
            raise ValueError(f"example {i + 1} is not a preference pair")
        try:
            chosen, chosen_mask = _encode(tokenizer, ex.messages, ex.chosen, max_seq_length, ex.tools, options)
            rejected, rejected_mask = _encode(tokenizer, ex.messages, ex.rejected, max_seq_length, ex.tools, options)
        except MaskingRefused as exc:
            stats.refuse(exc, i)
            continue
        stats.truncated += len(chosen) >= max_seq_length or len(rejected) >= max_seq_length
        _count(stats, [chosen, rejected], [chosen_mask, rejected_mask])
        rows.append({"chosen_input_ids": chosen, "chosen_mask": chosen_mask,
                     "rejected_input_ids": rejected, "rejected_mask": rejected_mask})
    return rows, stats


def encode_unpaired(tokenizer, examples: list[Example], max_seq_length: int, *, block: int,
                    options: RenderOptions | None = None) -> tuple[list[dict], EncodeStats]:
    """KTO rows, in order, each with its KL sequence: its prompt with the reply of the previous example
    of its block of `block` rows (TRL's estimate of the KL term: mismatched prompt/reply pairs from the
    same micro-batch, which needs sequential batches of exactly these blocks)."""
    options = options or RenderOptions()
    stats = EncodeStats(total=len(examples))
    kept: list[tuple[int, Example, list[int], list[int]]] = []
    for i, ex in enumerate(examples):
        if ex.completion is None or ex.label is None:
            raise ValueError(f"example {i + 1} is not a KTO example")
        try:
            ids, mask = _encode(tokenizer, ex.messages, ex.completion, max_seq_length, ex.tools, options)
        except MaskingRefused as exc:
            stats.refuse(exc, i)
            continue
        kept.append((i, ex, ids, mask))
    rows = []
    for start in range(0, len(kept), block):
        group = kept[start:start + block]
        for j, (i, ex, ids, mask) in enumerate(group):
            other = group[j - 1][1]  # j - 1 == -1 wraps to the block's last reply, as TRL rotates
            assert other.completion is not None
            try:
                kl_ids, kl_mask = _encode(tokenizer, ex.messages, other.completion, max_seq_length, ex.tools, options)
            except MaskingRefused as exc:
                stats.refuse(exc, i)
                continue
            stats.truncated += len(ids) >= max_seq_length
            _count(stats, [ids], [mask])
            rows.append({"input_ids": ids, "completion_mask": mask, "label": bool(ex.label),
                         "KL_input_ids": kl_ids, "KL_completion_mask": kl_mask})
    return rows, stats


def _padded(seqs: list[list[int]], value: int):
    import torch

    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def _triple(ids: list[list[int]], masks: list[list[int]], pad: int, prefix: str = "") -> dict:
    return {f"{prefix}input_ids": _padded(ids, pad),
            f"{prefix}attention_mask": _padded([[1] * len(x) for x in ids], 0),
            f"{prefix}completion_mask": _padded(masks, 0)}


class PairCollator:
    """Chosen rows first, then rejected rows, right-padded: the batch layout DPOTrainer's loss splits in two."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id
        self.tokens_seen = 0

    def __call__(self, features: list[dict]) -> dict:
        ids = [f["chosen_input_ids"] for f in features] + [f["rejected_input_ids"] for f in features]
        masks = [f["chosen_mask"] for f in features] + [f["rejected_mask"] for f in features]
        self.tokens_seen += sum(len(x) for x in ids)
        return _triple(ids, masks, self.pad)


class SidedPairCollator(PairCollator):
    """PairCollator's batch plus the per-side views TRL's ORPO and CPO trainers read (`chosen_input_ids`,
    `chosen_attention_mask`, `chosen_labels`, the same for `rejected_`): labels are the ids where the
    completion mask is on, -100 elsewhere, so the compared tokens are the same as DPO's."""

    def __call__(self, features: list[dict]) -> dict:
        import torch

        out = super().__call__(features)
        n = len(features)
        labels = torch.where(out["completion_mask"].bool(), out["input_ids"], IGNORE_INDEX)
        for side, rows in (("chosen", slice(0, n)), ("rejected", slice(n, 2 * n))):
            out[f"{side}_input_ids"] = out["input_ids"][rows]
            out[f"{side}_attention_mask"] = out["attention_mask"][rows]
            out[f"{side}_labels"] = labels[rows]
        return out


class UnpairedCollator:
    """KTOTrainer's batch: the rows, their labels, and the KL rows."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id
        self.tokens_seen = 0

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids = [f["input_ids"] for f in features]
        self.tokens_seen += sum(len(x) for x in ids)
        out = _triple(ids, [f["completion_mask"] for f in features], self.pad)
        out.update(_triple([f["KL_input_ids"] for f in features], [f["KL_completion_mask"] for f in features],
                           self.pad, prefix="KL_"))
        out["label"] = torch.tensor([bool(f["label"]) for f in features])
        return out
