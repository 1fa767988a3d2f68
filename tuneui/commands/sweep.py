"""`tuneui sweep RUN.toml`: a few short trials over learning rate (and LoRA rank), ranked by val loss.

`--json` prints a stable object: {"schema": 1, "out_dir": str, "trials": [{"index", "overrides", "run_dir",
"status", "val_loss", "train_loss", "seconds", "rank"}], "best": trial|null, "applied": str|null}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tuneui.contract.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("sweep", help="short hyperparameter search (learning rate, LoRA rank) ranked by val loss",
                       description="Run a handful of short trials on a slice of the data and rank them by "
                                   "validation loss. The user's RUN.toml is never modified; --apply writes a new one.")
    p.add_argument("config", metavar="RUN.toml", help="the run configuration to start from (or a run directory)")
    p.add_argument("-o", "--output", metavar="DIR", help="sweep folder (default: <runs>/<name>-sweep)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a RunConfig field first (repeatable)")
    p.add_argument("--lr", help="learning rates to try, comma-separated (default: x1/3, x1, x3 of the config's)")
    p.add_argument("--rank", help="LoRA ranks to try, comma-separated (LoRA techniques only)")
    p.add_argument("--steps", type=int, default=30, help="optimizer steps per trial (default 30)")
    p.add_argument("--trials", type=int, default=6, help="at most this many trials (default 6)")
    p.add_argument("--max-examples", type=int, default=400, help="training examples in the slice (default 400)")
    p.add_argument("--apply", metavar="OUT.toml", help="write the config with the best setting applied here")
    p.add_argument("--json", action="store_true", help="print the stable JSON object")
    p.set_defaults(func=run)


def _values(text: str | None, kind, flag: str) -> list | None:
    if text is None:
        return None
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{flag}: no values given")
    return values


def run(args: argparse.Namespace) -> int:
    from tuneui.contract.config import RunConfig
    from tuneui.contract.settings import runs_root
    from tuneui.sweep import apply_best, default_grid, plan_trials, run_sweep

    cfg = RunConfig.load(args.config, args.overrides)
    if args.trials < 1:
        raise ConfigError("--trials: must be at least 1")
    grid = default_grid(cfg)
    if (lrs := _values(args.lr, float, "--lr")) is not None:
        grid["learning_rate"] = lrs
    if (ranks := _values(args.rank, int, "--rank")) is not None:
        grid["lora_r"] = ranks
    trials = plan_trials(cfg, grid, args.trials)
    out = Path(args.output) if args.output else runs_root() / f"{cfg.name}-sweep"

    def show(result) -> None:
        if args.json:
            return
        running = next((t for t in result.trials if t.status == "running"), None)
        if running:
            print(f"tuneui: trial {running.index}/{len(result.trials)}: {running.label()}…", file=sys.stderr)

    result = run_sweep(cfg, out, trials=trials, steps=args.steps, max_train=args.max_examples, on_update=show)
    applied = None
    if args.apply and result.best:
        applied = str(apply_best(cfg, result).save(Path(args.apply)))
    if args.json:
        print(json.dumps({"schema": 1, **result.to_dict(), "applied": applied}))
        return 0 if result.best else 1
    print(f"{'rank':<5}{'trial':<7}{'setting':<40}{'val loss':>10}{'train loss':>12}{'time':>8}  status")
    order = result.ranked + [t for t in result.trials if t not in result.ranked]
    for t in order:
        def f(x):
            return "—" if x is None else f"{x:.4f}"
        print(f"{t.rank or '—':<5}{t.index:<7}{t.label():<40}{f(t.val_loss):>10}{f(t.train_loss):>12}"
              f"{(t.seconds or 0):>7.0f}s  {t.status}")
    if result.best is None:
        print("no trial finished; see the trial folders' train.log", file=sys.stderr)
        return 1
    print(f"best: {result.best.label()}  (results in {out / 'sweep.json'})")
    if applied:
        print(f"wrote {applied}: run it with `tuneui train {applied}`")
    return 0
