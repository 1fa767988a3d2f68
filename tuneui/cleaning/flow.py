"""From a loaded dataset (its spool) to cleaned train/validation files: what `tuneui data clean`,
the wizard's Clean step and every training run do, streaming batch by batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tuneui.cleaning.pipeline import Cleaned, clean_examples
from tuneui.cleaning.split import assign, check_fraction, default_val_size
from tuneui.contract.cleaning import CleanOptions
from tuneui.contract.datasets import LoadProgress, LoadResult
from tuneui.contract.errors import DataError

Progress = Callable[[LoadProgress], None]
# Cleaning switched off still runs the pipeline (for keys and the split's near-duplicate search), with
# every filter off.
NO_FILTERS = dict(fix_encoding=False, empty_turns=False, pairs=False, pii="off", boilerplate=False, quality=False,
                  min_length=0, max_length=None, exact_dedup=False, near_dedup=False)


def clean_loaded(load: LoadResult, options: CleanOptions | None, *, workdir: str | Path, enabled: bool = True,
                 progress: Progress | None = None, tokenizer: Any = None, workers: int | None = None) -> Cleaned:
    """Clean every example of `load` (read from its spool); `enabled=False` keeps them all."""
    from tuneui.data.spool import Spool

    if load.spool is None:
        raise DataError(load.refusal or "nothing to clean: the file holds no usable examples", source=load.path)
    opts = options or CleanOptions()
    if not enabled:
        opts = CleanOptions.from_dict({**opts.to_dict(), **NO_FILTERS})
    with Spool(load.spool) as spool:
        return clean_examples(spool.batches(), opts, kind=load.kind, total=load.examples, workdir=workdir,
                              tokenizer=tokenizer, progress=progress, workers=workers)


def load_and_clean(path: str | Path, fmt: str, columns: dict[str, str] | None, options: CleanOptions | None, *,
                   workdir: str | Path, enabled: bool = True, progress: Progress | None = None,
                   tokenizer: Any = None, workers: int | None = None) -> tuple[LoadResult, Cleaned | None]:
    """Load and clean in one streaming pass (the workers that parse a chunk also clean it). Cleaned is
    None when the file's kind is only counted (refused)."""
    from tuneui.cleaning.pipeline import Collector, rows_step
    from tuneui.data import load_dataset

    opts = (options or CleanOptions()).validate_all()
    if not enabled:
        opts = CleanOptions.from_dict({**opts.to_dict(), **NO_FILTERS})
    made: list[Collector] = []

    def hook(kind: str):
        collector = Collector(opts, kind, workdir, tokenizer)
        made.append(collector)
        return (rows_step, (opts, kind, tokenizer)), collector.add

    load = load_dataset(path, fmt=fmt, columns=columns, hook=hook, progress=progress,
                        workers=1 if tokenizer is not None else workers)
    if not made:
        return load, None
    cleaned = made[0].finish(progress)
    if tokenizer is not None and cleaned.report.before:
        # The "before" token lengths: the loaded preview (the file's first examples), as the "after" ones
        # are the first kept examples; TokenStats.measured says how many each side measured.
        from tuneui.contract import defaults
        from tuneui.data.sequences import trained_conversations
        from tuneui.data.stats import token_stats

        sample = trained_conversations(load.preview)[0]
        if sample:
            cleaned.report.stats_before["tokens"] = token_stats(sample, tokenizer, defaults.MAX_SEQ_LENGTH).to_dict()
    return load, cleaned


def split_cleaned(cleaned: Cleaned, val_fraction: float | None, seed: int, out_dir: Path, kind: str, *,
                  threshold: float = 0.8, min_words: int = 16) -> tuple[dict[str, Any], dict[str, str]]:
    """Split the kept examples (no near-duplicate pair and no prompt across the split) and write
    train/val files to `out_dir`; returns (split facts, {part: path})."""
    from tuneui.cleaning.output import write_split

    check_fraction(val_fraction)
    n = cleaned.count
    k = default_val_size(n, val_fraction) if val_fraction != 0 else 0
    ordinal = np.cumsum(cleaned.keep) - 1  # stage row -> position among the kept examples
    pairs = [(int(ordinal[a]), int(ordinal[b]), s) for a, b, s in cleaned.near_pairs]
    prompts = cleaned.prompts[cleaned.keep] if cleaned.prompts is not None else None
    val, leakage = assign(n, k, seed, pairs, prompts)
    leakage.update(threshold=threshold, min_words=min_words,
                   checked_by="the near-duplicate search of cleaning: every near pair left stays on one side")
    outputs = write_split(((batch, ordinal[rows]) for batch, rows in cleaned.kept_batches()),
                          val if k else None, out_dir, kind)
    info = {"train": int(n - val.sum()), "val": int(val.sum()), "seed": seed, "leakage": leakage}
    return info, outputs


def large_removal_lines(cleaned: Cleaned) -> list[str]:
    """The loud CLI warning for filters that removed more than `ask_above` of the data, with examples."""
    report = cleaned.report
    out = []
    for f in report.unconfirmed:
        share = f.removed / report.before
        out.append(f"WARNING: {f.name} removed {f.removed:,} of {report.before:,} examples ({share:.0%}); "
                   f"if that is wrong, switch it off (--set {_switch(f.name)}) or relax it")
        for e in f.examples[:3]:
            where = f"line {e['line']}" if "line" in e else f"#{e['index']}"
            out.append(f"    e.g. {where}: {e.get('reason', '')} | {e.get('text', '')[:100]}")
    return out


def _switch(name: str) -> str:
    return {"encoding": "fix_encoding=false", "empty_turns": "empty_turns=false", "pii": "pii=off",
            "too_short": "min_length=0", "too_long": "max_length=1000000", "exact_duplicates": "exact_dedup=false",
            "near_duplicates": "near_dedup=false"}.get(name, f"{name}=false")
