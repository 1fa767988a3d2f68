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
from tuneui.contract.datasets import Example
from tuneui.contract.errors import DataError
from tuneui.contract.fsutil import atomic_write_text
from tuneui.data.schema import Conversation
from tuneui.data.template_check import Origin
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
    # Each example's function definitions (None where it has none), parallel to train/val.
    train_tools: list[list[dict] | None] = field(default_factory=list)
    val_tools: list[list[dict] | None] = field(default_factory=list)
    # Where each example came from (file, line, row), for errors that name rows; None when resumed.
    train_origins: list[Origin] | None = None
    val_origins: list[Origin] | None = None
    # The whole examples (prompt, chosen/rejected or completion/label): what preference objectives train.
    train_full: list[Example] = field(default_factory=list)
    val_full: list[Example] = field(default_factory=list)


def as_prompted(cfg: RunConfig, convs: list[Conversation]) -> list[Conversation]:
    """Conversations as generation must see them: with fold_system, a system prompt the template
    cannot take is folded into the first user turn, as it was for training."""
    return [fold_system_prompt(c) for c in convs] if cfg.fold_system else convs


def dataset_path(name: str) -> str:
    """'demo': the real-model demo's dates; 'demo-tiny': the tiny model's last-word sample;
    'demo-preference' / 'demo-preference-val': the preference demo's training / held-out pairs."""
    if name == "demo":
        from tuneui.demo_task import dataset_path as dates_path

        return str(dates_path())
    if name == "demo-tiny":
        from tuneui.demo import sample_dataset_path

        return str(sample_dataset_path())
    from tuneui.demo_preference import HELD_OUT_NAME, TRAIN_NAME

    if name in (TRAIN_NAME, HELD_OUT_NAME):  # the preference demo's pairs, written on first use
        from tuneui.demo_preference import ensure_files

        train, held_out = ensure_files()
        return str(train if name == TRAIN_NAME else held_out)
    return name


SKIP_HINT = "fix them, or skip them with skip_bad_lines = true in run.toml (--set skip_bad_lines=true)"


def check_trainable(load, cfg: RunConfig) -> None:
    """Refuse, by name and before any model is loaded, data this run cannot train (its objective decides)."""
    from tuneui.data.kinds import refusal_for

    refusal = refusal_for(load.kind, cfg.objective) if load.kind in ("sft", "text", "preference", "kto") \
        else load.refusal
    if refusal:
        raise DataError(refusal, source=load.path)
    if load.errors and not cfg.skip_bad_lines:
        raise DataError(f"{load.first_error_message()}; {SKIP_HINT}")
    if not load.examples:
        raise DataError("no usable examples", source=load.path)


def prepare_run_data(cfg: RunConfig, run_dir: Path, *, write: bool = True) -> RunData:
    """Load, clean and split the dataset, streaming; write the split used to <run_dir>/data/.

    Deterministic, so every process of a multi-process run derives the same split; only the
    main one writes it (the others split into a temporary folder).
    """
    import shutil
    import tempfile

    from tuneui.cleaning.flow import large_removal_lines, load_and_clean, split_cleaned
    from tuneui.cleaning.output import read_split_file, read_split_lines, write_examples
    from tuneui.data import load_examples

    work = Path(tempfile.mkdtemp(prefix="tuneui-data-"))
    try:
        load, maybe = load_and_clean(dataset_path(cfg.dataset), cfg.dataset_format, cfg.columns or None, cfg.cleaning,
                                     workdir=work, enabled=cfg.clean)
        check_trainable(load, cfg)
        assert maybe is not None  # a kind that is only counted has a refusal, raised just above
        cleaned = maybe
        report: dict = {"loaded": load.examples, "kind": load.kind, "skipped_lines": load.problems.bad_lines}
        if cfg.clean:
            report["cleaning"] = cleaned.report.to_dict()
            report["warnings"] = large_removal_lines(cleaned)
        out = run_dir / "data" if write else work / "split"
        if cfg.val_dataset:
            split, paths = split_cleaned(cleaned, 0, cfg.seed, out, load.kind)
            val_examples, _, val_load = load_examples(dataset_path(cfg.val_dataset), fmt=cfg.dataset_format,
                                                      columns=cfg.columns or None, skip_bad=cfg.skip_bad_lines,
                                                      hint=SKIP_HINT)
            check_trainable(val_load, cfg)
            if val_load.kind != load.kind:
                raise DataError(f"the validation file holds {val_load.kind} data, the training file {load.kind}",
                                source=cfg.val_dataset)
            paths.update(write_examples(out, read_split_file(Path(paths["train"])), val_examples, load.kind))
        else:
            split, paths = split_cleaned(cleaned, cfg.val_fraction, cfg.seed, out, load.kind,
                                         threshold=cfg.cleaning.near_dup_threshold,
                                         min_words=cfg.cleaning.near_dup_min_words)
            report["leakage"] = split["leakage"]
        train, train_lines = read_split_lines(Path(paths["train"]))
        val, val_lines = read_split_lines(Path(paths["val"])) if "val" in paths else ([], [])
        train_origins = _origins(load.path, load.unit, train_lines)
        val_origins = (_origins(val_load.path, val_load.unit, val_lines) if cfg.val_dataset
                       else _origins(load.path, load.unit, val_lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not train:
        raise DataError("no training examples left after loading and cleaning", source=cfg.dataset)
    report.update(train=len(train), val=len(val))
    if write:
        atomic_write_text(run_dir / "data" / "data_report.json", json.dumps(report, indent=2, default=str))
    return RunData([e.messages for e in train], [e.messages for e in val], report,
                   [e.tools for e in train], [e.tools for e in val], train_origins, val_origins, train, val)


def _origins(path: str, unit: str, lines: list[int]) -> list[Origin]:
    """Where each example of a split was in its file: the split keeps every example's source line,
    so a refusal found at training time names the user's line, not a position in the split."""
    return [Origin(path, unit, line, line) for line in lines]


def write_split(out: Path, train: list[Conversation], val: list[Conversation], report: dict,
                train_tools: list | None = None, val_tools: list | None = None) -> None:
    """Write a split held in memory (tests, small tools) in the run directory's format."""
    from tuneui.cleaning.output import write_examples
    from tuneui.contract.datasets import Example

    def examples(convs: list[Conversation], tools: list | None) -> list[Example]:
        return [Example(messages=c, tools=(tools[i] if tools else None)) for i, c in enumerate(convs)]

    kind = "text" if train and all(len(c) == 1 and c[0]["role"] == "assistant" for c in train) else "sft"
    write_examples(out, examples(train, train_tools), examples(val, val_tools), kind)
    atomic_write_text(out / "data_report.json", json.dumps(report, indent=2, default=str))


def split_complete(run_dir: Path) -> bool:
    return _missing_split_file(run_dir / "data") is None


def _missing_split_file(data: Path) -> Path | None:
    """The first file of a run's split that is not there: train.parquet, data_report.json, and
    val.parquet when the report says the run had a validation split. A report that cannot be read
    is named too (it is there, but says nothing)."""
    for name in ("train.parquet", "data_report.json"):
        if not (data / name).is_file():
            return data / name
    try:
        report = json.loads((data / "data_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return data / "data_report.json"
    if isinstance(report, dict) and report.get("val") and not (data / "val.parquet").is_file():
        return data / "val.parquet"
    return None


def read_split(run_dir: Path) -> RunData:
    """The examples a run trained on, as it wrote them; a missing or damaged file is one line naming it."""
    import pyarrow as pa

    from tuneui.cleaning.output import read_split_file

    data = run_dir / "data"
    missing = _missing_split_file(data)
    if missing is not None and not missing.is_file():
        raise DataError("missing: the run's data split is needed to continue it exactly; start a new run "
                        "with -o NEW_DIR instead", source=str(missing))
    try:
        report = json.loads((data / "data_report.json").read_text(encoding="utf-8"))
        if not isinstance(report, dict):
            raise ValueError("data_report.json is not a JSON object")
        train = read_split_file(data / "train.parquet")
        val = read_split_file(data / "val.parquet") if (data / "val.parquet").exists() else []
    except (OSError, ValueError, KeyError, AttributeError, pa.ArrowException) as exc:
        raise DataError(f"the run's data split cannot be read ({str(exc).splitlines()[0][:200]}); start a new "
                        "run with -o NEW_DIR instead", source=str(data)) from None
    return RunData([e.messages for e in train], [e.messages for e in val], report,
                   [e.tools for e in train], [e.tools for e in val], train_full=train, val_full=val)


def encode_all(tokenizer, convs: list[Conversation], max_seq_length: int, *, tools: list[list[dict] | None] | None = None,
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
                                      tools=tools[i] if tools else None)
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
