"""Arguments shared by `tuneui train` and `python -m tuneui.training`, and how they pick a run dir."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tuneui.contract.config import OBJECTIVES, RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import EVENTS_FILE
from tuneui.contract.outputs import check_output_dir
from tuneui.contract.presets import demo_config


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="RUN.toml, or a run directory (with --resume)")
    p.add_argument("--demo", action="store_true", help="the offline demo run (demo model + bundled sample data)")
    p.add_argument("--objective", choices=OBJECTIVES, help="what the run optimises (as --set objective=...); "
                   "with --demo, a preference objective trains the demo's preference pairs")
    p.add_argument("--resume", action="store_true", help="continue RUN_DIR from its newest complete checkpoint")
    p.add_argument("-o", "--output", metavar="RUN_DIR", help="run directory (default: <data dir>/runs/<name>); "
                   "must be new or empty")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a non-empty -o RUN_DIR holding only an earlier tuneui run (never one in use, one "
                        "holding this run's inputs or files tuneui did not write)")
    p.add_argument("--trust-local-code", metavar="PATH",
                   help="consent to run the Python code of the local model directory PATH (with "
                        "trust_remote_code = true)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a RunConfig field, e.g. --set max_steps=40 (repeatable)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="no progress: only errors and the outcome")
    shown.add_argument("--json", action="store_true", help="write the run's events to stdout as JSON lines "
                       "(the outcome then goes to stderr)")
    p.add_argument("--print-launch", action="store_true",
                   help="print the accelerate config, launch command and Slurm script for multi-GPU/multi-node "
                        "runs of this config, and exit")
    p.add_argument("--gpus", type=int, default=8, metavar="N", help="GPUs per node for --print-launch (default 8)")
    p.add_argument("--nodes", type=int, default=1, metavar="N", help="nodes for --print-launch (default 1)")


def resolve(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The config to run and the run directory it goes to (new runs go to the user's output_dir
    setting, like the wizard's). An explicit run directory must be new or empty (or, with
    --overwrite, replaceable: tuneui.contract.outputs); `args.replace_existing` says whether the
    caller must move the old one aside first (`replace_run_dir`)."""
    from tuneui.training.launch import default_run_dir

    args.replace_existing = False
    overrides = list(args.overrides)
    if getattr(args, "trust_local_code", None):
        overrides.append(f"trust_local_code={json.dumps(args.trust_local_code)}")
    target = Path(args.target) if args.target else None
    if getattr(args, "objective", None):
        overrides.append(f"objective={args.objective}")
    if args.demo:
        if target is not None:
            raise ConfigError("give either --demo or a RUN.toml/RUN_DIR, not both")
        cfg = demo_config().with_overrides(overrides)
        if cfg.objective != "sft":  # --set objective=dpo too: the demo's pairs, not its SFT conversations
            cfg = demo_config(cfg.objective).with_overrides(overrides)
    elif target is None:
        raise ConfigError("missing RUN.toml or RUN_DIR (or --demo)")
    else:
        cfg = RunConfig.load(target, overrides)

    if args.resume:
        if args.output:
            run_dir = Path(args.output)
        elif target is not None and target.is_dir():
            run_dir = target
        else:
            raise ConfigError("--resume needs the run directory (tuneui train RUN_DIR --resume)")
        if not (run_dir / EVENTS_FILE).exists() and not (run_dir / "run.toml").exists():
            raise ConfigError("not a run directory (no run.toml or events.jsonl) to resume", source=str(run_dir))
        return cfg, run_dir
    if target is not None and target.is_dir() and not args.output:
        if (target / EVENTS_FILE).exists():
            raise ConfigError(f"{target}: this run directory already has a run; add --resume to continue it (from "
                              f"its newest checkpoint, or from the start if it stopped before its first one) or "
                              f"-o NEW_DIR to start a fresh one from its run.toml")
        return cfg, target
    if args.output or cfg.output_dir:
        run_dir = Path(args.output or cfg.output_dir or "").expanduser()
        if os.environ.get("RANK", "0") == "0":  # the main process decides; the others follow it in
            args.replace_existing = check_output_dir(run_dir, overwrite=getattr(args, "overwrite", False),
                                                     sources=_inputs(cfg, target), what="run")
        return cfg, run_dir
    return cfg, default_run_dir(cfg)


def _inputs(cfg: RunConfig, target: Path | None) -> list[Path]:
    """What the run reads: a run directory that contains one of these is never replaced."""
    found = [target] if target is not None else []
    for value in (cfg.dataset, cfg.val_dataset, cfg.model):
        if value and value != "demo" and Path(value).expanduser().exists():
            found.append(Path(value))
    return found


def replace_run_dir(run_dir: Path) -> None:
    """Move the old run out of the way in one rename (holding its lock, so no trainer starts in it
    meanwhile), then delete it: --overwrite's consent, given after check_output_dir allowed it."""
    from tuneui.contract.outputs import discard, move_aside
    from tuneui.contract.runlock import locked

    with locked(run_dir, "replacing it"):
        aside = move_aside(run_dir)
    discard(aside)
