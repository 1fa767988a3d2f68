"""`tuneui train RUN.toml|RUN_DIR [--demo] [--resume] [-o RUN_DIR] [--set key=value ...]`."""

from __future__ import annotations

import argparse
import os
import sys

from tuneui.errors import TuneuiError


def register(sub) -> None:
    from tuneui.training.cli_args import add_train_arguments

    p = sub.add_parser("train", help="run one training run headless",
                       description="Run one training run in this process, appending events to "
                                   "RUN_DIR/events.jsonl. Exit 0 finished, 1 failed, 2 bad input, 130 stopped.")
    add_train_arguments(p)
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from tuneui.settings import apply_environment, load_settings
    from tuneui.training.cli_args import resolve
    from tuneui.training.runner import run_training

    try:
        apply_environment(load_settings())  # the hub cache setting, for the run and its loaders
        cfg, run_dir = resolve(args)
    except TuneuiError as exc:
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.print_launch:
        from tuneui.training.launch_plans import default_run_toml, render

        if args.gpus < 1 or args.nodes < 1:
            print("tuneui: error: --gpus and --nodes must be at least 1", file=sys.stderr)
            return 2
        print(render(cfg, default_run_toml(args.target), gpus=args.gpus, nodes=args.nodes), end="")
        return 0
    main = os.environ.get("RANK", "0") == "0"
    if main:
        print(f"tuneui: run directory {run_dir}", file=sys.stderr)
    code = run_training(cfg, run_dir, resume=args.resume)
    if main:
        _print_outcome(run_dir, code)
    return code


def _print_outcome(run_dir, code: int) -> None:
    import json

    report_path = run_dir / "report.json"
    if code == 0 and report_path.exists():
        report = json.loads(report_path.read_text())
        tm, el = report["task_metric"], report["eval_loss"]

        def pct(x):
            return "n/a" if x is None else f"{100 * x:.1f}%"

        def num(x):
            return "n/a" if x is None else f"{x:.3f}"

        print(f"{tm['name']} on {tm.get('n', 0)} held-out examples: base {pct(tm['base'])} -> tuned {pct(tm['tuned'])}")
        print(f"eval loss: base {num(el['base'])} -> tuned {num(el['tuned'])}")
        verdict = (report.get("forgetting") or {}).get("verdict")
        if verdict:
            print(f"forgetting probe: {verdict}")
        print(f"adapter: {run_dir / 'adapter'}")
