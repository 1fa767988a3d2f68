"""`start_from`: a run that begins where a finished run ended (the usual SFT -> DPO path).

The finished run's result becomes this run's base model. A full/freeze run's adapter/ already is a
whole model and is loaded as it is. A LoRA-family run's adapter is merged into its base once, into
RUN_DIR/start_model (atomically, with the export's merge code), and this run loads that folder: with
LoRA the DPO reference (the base with the new adapter disabled) is then the SFT model, which is what
DPO needs, and with QLoRA the merged folder is quantised on load like any base.

What was resolved is written to RUN_DIR/start_from.json before training, so a resumed run reuses the
merged folder instead of merging again, and chat, evaluation and export of this run find its base
(tuneui.runload reads the same file).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError, TuneuiError
from tuneui.contract.fsutil import atomic_dir, atomic_write_text
from tuneui.contract.rundir import ADAPTER_DIR, REPORT_FILE, START_FROM_FILE, START_MODEL_DIR, is_run_dir
from tuneui.runload import RunArtifacts, load_tokenizer_for, locate, started_from


def _problem(message: str) -> ConfigError:
    return ConfigError(f"start_from: {message}")


def source_run(cfg: RunConfig, run_dir: Path) -> RunArtifacts:
    """The finished run `cfg.start_from` names, checked without loading anything heavy."""
    src = Path(cfg.start_from).expanduser()
    if not is_run_dir(src):
        raise _problem(f"{src} is not a run directory (no run.toml in it)")
    if src.resolve() == Path(run_dir).resolve():
        raise _problem(f"{src} is this run's own directory; name the finished run to start from")
    if not (src / REPORT_FILE).is_file() or not (src / ADAPTER_DIR).is_dir():
        raise _problem(f"the run {src} has not finished (no {REPORT_FILE} or {ADAPTER_DIR}/); finish or resume it "
                       "first")
    try:
        art = locate(src)
    except TuneuiError as exc:
        raise _problem(str(exc)) from None
    if art.config is not None and art.config.model != cfg.model:
        raise _problem(f"the run {src} was trained on model {art.config.model!r}, and this run names "
                       f"{cfg.model!r}; set model = {art.config.model!r}")
    return art


def check_tokenizer(art: RunArtifacts, tokenizer) -> None:
    """The source run's saved tokenizer must be the one this run renders and masks with."""
    theirs = load_tokenizer_for(art)
    if theirs.get_vocab() != tokenizer.get_vocab():
        raise _problem(f"the run {art.run_dir} used a different tokenizer (vocabulary) than this run's model")
    if theirs.chat_template != tokenizer.chat_template:
        raise _problem(f"the run {art.run_dir} used a different chat template than this run's model; its replies "
                       "were learnt in that template")


def resolve(cfg: RunConfig, run_dir: Path, tokenizer, *, write: bool = True,
            say: Callable[[str], None] = lambda message: None) -> dict:
    """The model folder this run loads as its base, merging a LoRA run's adapter on first start only.
    Returns the record written to start_from.json (and report.json): run, kind, model_path."""
    run_dir = Path(run_dir)
    art = source_run(cfg, run_dir)
    check_tokenizer(art, tokenizer)
    source = str(Path(cfg.start_from).expanduser().resolve())
    earlier = started_from(run_dir)
    if earlier is not None and earlier.get("run") != source:
        raise _problem(f"this run started from {earlier.get('run')}, and its checkpoints build on that run; "
                       f"start a new run to start from {source}")
    if earlier is not None and Path(earlier["model_path"]).is_dir():
        return earlier  # a resumed run: merged once, when it first started
    if art.kind == "full":
        model_path = art.model_dir.resolve()
    else:
        from tuneui.merge import merged_dtype, save_merged

        model_path = (run_dir / START_MODEL_DIR).resolve()
        if write:
            dtype = merged_dtype(art)
            say(f"merging the adapter of {art.name} into its base ({dtype}), once, into {START_MODEL_DIR}/")
            with atomic_dir(model_path) as tmp:
                save_merged(art, load_tokenizer_for(art), tmp, dtype)
    record = {"run": source, "kind": art.kind,
              "model_path": str(model_path)}
    if write:
        atomic_write_text(run_dir / START_FROM_FILE, json.dumps(record, indent=1))
    return record
