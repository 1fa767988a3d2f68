"""From a RunConfig's dataset to tokenized train/val examples, and the batch collators.

The cleaned split the run used is written to `<run>/data/` (Parquet) so the run is reproducible
and inspectable. Each example is encoded by `tuneui.templates` (exact loss masking, see
docs/masking.md); an example it refuses (nothing to train, a reply it cannot locate, every reply
token cut by truncation) is dropped and counted by reason, never trained on a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import DataError
from tuneui.contract.fsutil import atomic_write_text
from tuneui.data.schema import Conversation
from tuneui.data.template_check import Origin, origins_for
from tuneui.templates import IGNORE_INDEX, MaskingRefused, RenderOptions, encode_conversation, fold_system_prompt
from tuneui.templates.refusals import NO_REPLY, NO_REPLY_AFTER_TRUNCATION


@dataclass
class EncodeStats:
    total: int = 0
    kept: int = 0
    truncated: int = 0
    trained_tokens: int = 0
    tokens: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> examples dropped for it
    refusal_messages: dict[str, str] = field(default_factory=dict)  # reason -> its first message
    reasoning_dropped: int = 0  # replies whose reasoning the template leaves out (as at inference)

    @property
    def dropped(self) -> int:
        return sum(self.refused.values())

    def refuse(self, exc: MaskingRefused, row: int) -> None:
        self.refused[exc.reason] = self.refused.get(exc.reason, 0) + 1
        self.refusal_messages.setdefault(exc.reason, f"example {row + 1}: {exc.message}")

    def summary(self) -> str:
        """`3 no_reply (example 4: ...), 1 reply_not_found (...)`."""
        return ", ".join(f"{n} {reason} ({self.refusal_messages[reason]})" for reason, n in self.refused.items())

    def advice(self, max_seq_length: int) -> str:
        advice = []
        if NO_REPLY_AFTER_TRUNCATION in self.refused:
            advice.append(f"raise max_seq_length (now {max_seq_length}) or shorten the prompts")
        if NO_REPLY in self.refused:
            advice.append("give those examples an assistant reply")
        if set(self.refused) - {NO_REPLY_AFTER_TRUNCATION, NO_REPLY}:
            advice.append("`tuneui data inspect FILE --model MODEL` lists each refused row (docs/masking.md)")
        return "; ".join(advice)

    def to_dict(self) -> dict:
        return {**self.__dict__, "dropped": self.dropped}


@dataclass
class RunData:
    train: list[Conversation]
    val: list[Conversation]
    report: dict = field(default_factory=dict)
    # Where each example came from (file, line, row), for errors that name rows; None when resumed.
    train_origins: list[Origin] | None = None
    val_origins: list[Origin] | None = None


def as_prompted(cfg: RunConfig, convs: list[Conversation]) -> list[Conversation]:
    """Conversations as generation must see them: with fold_system, a system prompt the template
    cannot take is folded into the first user turn, as it was for training."""
    return [fold_system_prompt(c) for c in convs] if cfg.fold_system else convs


def dataset_path(name: str) -> str:
    if name == "demo":
        from tuneui.demo import sample_dataset_path

        return str(sample_dataset_path())
    return name


def prepare_run_data(cfg: RunConfig, run_dir: Path, *, write: bool = True) -> RunData:
    """Load, clean and split the dataset; write the split used to <run_dir>/data/.

    Deterministic, so every process of a multi-process run derives the same split; only the
    main one writes it.
    """
    convs, origins = _load(cfg, cfg.dataset)
    report: dict = {"loaded": len(convs)}
    if cfg.clean:
        from tuneui.cleaning import clean

        result = clean(convs, cfg.cleaning)
        convs = result.kept
        origins = [origins[i] for i in result.kept_indices]
        report["cleaning"] = result.report.to_dict()
    if cfg.val_dataset:
        train, train_origins = convs, origins
        val, val_origins = _load(cfg, cfg.val_dataset)
    elif cfg.val_fraction > 0:
        from tuneui.cleaning import train_val_split

        split = train_val_split(convs, cfg.val_fraction, cfg.seed, deduplicated=cfg.clean)
        train, val = split.train, split.val
        train_origins = [origins[i] for i in split.train_indices]
        val_origins = [origins[i] for i in split.val_indices]
        report["leakage"] = split.leakage
    else:
        train, val, train_origins, val_origins = convs, [], origins, []
    if not train:
        raise DataError("no training examples left after loading and cleaning", source=cfg.dataset)
    report.update(train=len(train), val=len(val))
    if write:
        write_split(run_dir / "data", train, val, report)
    return RunData(train=train, val=val, report=report, train_origins=train_origins, val_origins=val_origins)


def _load(cfg: RunConfig, name: str) -> tuple[list[Conversation], list[Origin]]:
    """The file's conversations (strict unless skip_bad_lines) and where each one is in the file."""
    from tuneui.data import load_dataset

    result = load_dataset(dataset_path(name), fmt=cfg.dataset_format, columns=cfg.columns or None)
    if result.errors and not cfg.skip_bad_lines:
        raise DataError(f"{result.first_error_message()}; fix them or skip them (--skip-bad)")
    if not result.conversations:
        raise DataError("no usable examples", source=result.path)
    return result.conversations, origins_for(result.path, result.unit, result.lines, len(result.conversations))


def write_split(out: Path, train: list[Conversation], val: list[Conversation], report: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("val", val)):
        table = pa.table({"messages": pa.array(rows, type=pa.list_(pa.struct(
            [("role", pa.string()), ("content", pa.string())])))})
        tmp = out / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        tmp.replace(out / f"{name}.parquet")
    atomic_write_text(out / "data_report.json", json.dumps(report, indent=2, default=str))


def read_split(run_dir: Path) -> RunData:
    import pyarrow.parquet as pq

    data = run_dir / "data"
    train = pq.read_table(data / "train.parquet").column("messages").to_pylist()
    val = pq.read_table(data / "val.parquet").column("messages").to_pylist()
    report = json.loads((data / "data_report.json").read_text())
    return RunData(train=train, val=val, report=report)


def encode_all(tokenizer, convs: list[Conversation], max_seq_length: int, *, tools: list | None = None,
               options: RenderOptions | None = None) -> tuple[list[dict], EncodeStats]:
    """Token ids and labels for every example the masking accepts; the rest are counted by reason.

    Messages reach the chat template as they are (extra keys such as `tool_calls`,
    `reasoning_content`, `name`, `tool_call_id` included); `tools`, when given, holds each example's
    tool list (or None), rendered by the template's own tools support.
    """
    options = options or RenderOptions()
    stats = EncodeStats(total=len(convs))
    examples = []
    for i, conv in enumerate(convs):
        try:
            enc = encode_conversation(tokenizer, conv, max_seq_length, options=options,
                                      tools=tools[i] if tools is not None else None)
        except MaskingRefused as exc:
            stats.refuse(exc, i)
            continue
        stats.truncated += enc.truncated
        stats.reasoning_dropped += enc.reasoning_dropped
        stats.kept += 1
        stats.trained_tokens += enc.trained_tokens
        stats.tokens += len(enc.input_ids)
        examples.append({"input_ids": enc.input_ids, "labels": enc.labels})
    return examples, stats


class PackingCollator:
    """Padding-free batches: the micro-batch's examples concatenated into one row.

    position_ids restart at 0 for each example; with no attention_mask, transformers builds a
    block-diagonal causal mask from them, so examples never attend to each other and no compute
    is spent on pad tokens.
    """

    def __init__(self):
        self.tokens_seen = 0

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids: list[int] = []
        labels: list[int] = []
        pos: list[int] = []
        for f in features:
            ids += f["input_ids"]
            # The first token of an example must not be predicted from the previous example.
            labels += [IGNORE_INDEX] + list(f["labels"][1:])
            pos += range(len(f["input_ids"]))
        self.tokens_seen += len(ids)
        return {
            "input_ids": torch.tensor([ids]),
            "labels": torch.tensor([labels]),
            "position_ids": torch.tensor([pos]),
            "use_cache": False,  # a cache disables the packed mask (see model_setup.build_model)
        }


class PaddingCollator:
    """Right-padded batches with an attention mask (used when packing is off, and for generation-free eval)."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id
        self.tokens_seen = 0

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad)
        labels = torch.full((len(features), width), IGNORE_INDEX)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
            self.tokens_seen += n
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def make_collator(cfg: RunConfig, tokenizer):
    return PackingCollator() if cfg.packing else PaddingCollator(tokenizer.pad_token_id)
