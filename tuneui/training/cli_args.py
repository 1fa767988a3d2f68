"""Arguments shared by `tuneui train` and `python -m tuneui.training`, and how they pick a run dir."""

from __future__ import annotations

import argparse
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import EVENTS_FILE
from tuneui.contract.presets import demo_config


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="RUN.toml, or a run directory (with --resume)")
    p.add_argument("--demo", action="store_true", help="the offline demo run (demo model + bundled sample data)")
    p.add_argument("--resume", action="store_true", help="continue RUN_DIR from its newest complete checkpoint")
    p.add_argument("-o", "--output", metavar="RUN_DIR", help="run directory (default: <data dir>/runs/<name>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a RunConfig field, e.g. --set max_steps=40 (repeatable)")
    p.add_argument("--print-launch", action="store_true",
                   help="print the accelerate config, launch command and Slurm script for multi-GPU/multi-node "
                        "runs of this config, and exit")
    p.add_argument("--gpus", type=int, default=8, metavar="N", help="GPUs per node for --print-launch (default 8)")
    p.add_argument("--nodes", type=int, default=1, metavar="N", help="nodes for --print-launch (default 1)")


def resolve(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The config to run and the run directory it goes to (new runs go to the user's output_dir
    setting, like the wizard's)."""
    from tuneui.training.launch import default_run_dir

    target = Path(args.target) if args.target else None
    if args.demo:
        if target is not None:
            raise ConfigError("give either --demo or a RUN.toml/RUN_DIR, not both")
        cfg = demo_config().with_overrides(args.overrides)
    elif target is None:
        raise ConfigError("missing RUN.toml or RUN_DIR (or --demo)")
    else:
        cfg = RunConfig.load(target, args.overrides)

    if target is not None and target.is_dir():
        run_dir = Path(args.output) if args.output else target
        if (run_dir / EVENTS_FILE).exists() and not args.resume and run_dir == target:
            raise ConfigError(f"{run_dir}: this run directory already has a run; add --resume to continue it "
                              f"or -o NEW_DIR to start a fresh one from its run.toml")
        return cfg, run_dir
    if args.resume:
        if not args.output:
            raise ConfigError("--resume needs the run directory (tuneui train RUN_DIR --resume)")
        return cfg, Path(args.output)
    if args.output:
        return cfg, Path(args.output)
    return cfg, default_run_dir(cfg)
