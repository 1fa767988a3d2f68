"""From a RunConfig's dataset to tokenized train/val examples, and the batch collators.

The cleaned split the run used is written to `<run>/data/` (Parquet) so the run is reproducible
and inspectable. Examples whose labels are all masked after truncation (the reply was cut off
entirely) are dropped and counted: training on them would add zero-loss noise to every average.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import DataError
from tuneui.contract.fsutil import atomic_write_text
from tuneui.data.schema import Conversation
from tuneui.data.tokenize import IGNORE_INDEX, encode_conversation


@dataclass
class EncodeStats:
    total: int = 0
    kept: int = 0
    dropped_all_masked: int = 0
    truncated: int = 0
    trained_tokens: int = 0
    tokens: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RunData:
    train: list[Conversation]
    val: list[Conversation]
    report: dict = field(default_factory=dict)


def dataset_path(name: str) -> str:
    """'demo': the real-model demo's dates; 'demo-tiny': the tiny model's last-word sample."""
    if name == "demo":
        from tuneui.demo_task import dataset_path as dates_path

        return str(dates_path())
    if name == "demo-tiny":
        from tuneui.demo import sample_dataset_path

        return str(sample_dataset_path())
    return name


def prepare_run_data(cfg: RunConfig, run_dir: Path, *, write: bool = True) -> RunData:
    """Load, clean and split the dataset; write the split used to <run_dir>/data/.

    Deterministic, so every process of a multi-process run derives the same split; only the
    main one writes it.
    """
    from tuneui.data import load_conversations

    convs = load_conversations(dataset_path(cfg.dataset), fmt=cfg.dataset_format, columns=cfg.columns or None,
                               skip_bad=cfg.skip_bad_lines)
    report: dict = {"loaded": len(convs)}
    if cfg.clean:
        from tuneui.cleaning import clean

        result = clean(convs, cfg.cleaning)
        convs = result.kept
        report["cleaning"] = result.report.to_dict()
    if cfg.val_dataset:
        train = convs
        val = load_conversations(dataset_path(cfg.val_dataset), fmt=cfg.dataset_format,
                                 columns=cfg.columns or None, skip_bad=cfg.skip_bad_lines)
    elif cfg.val_fraction > 0:
        from tuneui.cleaning import train_val_split

        split = train_val_split(convs, cfg.val_fraction, cfg.seed, deduplicated=cfg.clean)
        train, val = split.train, split.val
        report["leakage"] = split.leakage
    else:
        train, val = convs, []
    if not train:
        raise DataError("no training examples left after loading and cleaning", source=cfg.dataset)
    report.update(train=len(train), val=len(val))
    if write:
        write_split(run_dir / "data", train, val, report)
    return RunData(train=train, val=val, report=report)


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


def encode_all(tokenizer, convs: list[Conversation], max_seq_length: int) -> tuple[list[dict], EncodeStats]:
    stats = EncodeStats(total=len(convs))
    examples = []
    for conv in convs:
        enc = encode_conversation(tokenizer, conv, max_seq_length)
        stats.truncated += enc.truncated
        n = enc.trained_tokens
        if n == 0:
            stats.dropped_all_masked += 1
            continue
        stats.kept += 1
        stats.trained_tokens += n
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
