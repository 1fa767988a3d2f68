"""Run one training run in this process (`tuneui train` and `python -m tuneui.training`) and say
how it ended: the run directory first, then the base -> tuned figures."""

from __future__ import annotations

import argparse
import os
import sys

from tuneui.contract.errors import TuneuiError


def run_train(args: argparse.Namespace) -> int:
    from tuneui.contract.settings import apply_environment, load_settings
    from tuneui.training.cli_args import replace_run_dir, resolve
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
    if main and args.replace_existing:
        try:
            replace_run_dir(run_dir)
        except TuneuiError as exc:
            print(f"tuneui: error: {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"tuneui: replaced the earlier run in {run_dir} (--overwrite)", file=sys.stderr)
    if main:
        print(f"tuneui: run directory {run_dir}", file=sys.stderr)
    code = run_training(cfg, run_dir, resume=args.resume)
    if main:
        _print_outcome(run_dir, code)
    if code == 130:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """A stopped run leaves at once. Everything it wrote is closed and atomic by now, but the
    interpreter's own teardown with torch and transformers loaded takes seconds (measured: 4 s on
    CPU), which a user pressing Ctrl+C, or a scheduler's grace period, should not have to wait."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_outcome(run_dir, code: int) -> None:
    from tuneui.contract.evaluation import fmt_num, fmt_score, read_report

    report = read_report(run_dir) if code == 0 else None
    if report is None:
        return
    tm, el = report.task_metric, report.eval_loss
    print(f"{tm.name} on {tm.n} held-out examples: base {fmt_score(tm.base)} -> tuned {fmt_score(tm.tuned)}")
    sr = report.stop_rate
    if sr.base is not None or sr.tuned is not None:
        print(f"replies that end with the end-of-turn token within {report.max_new_tokens} tokens: "
              f"base {fmt_score(sr.base)} -> tuned {fmt_score(sr.tuned)}")
    print(f"eval loss: base {fmt_num(el.base)} -> tuned {fmt_num(el.tuned)}")
    if report.forgetting is not None and report.forgetting.verdict:
        print(f"forgetting probe: {report.forgetting.verdict}")
    print(f"adapter: {run_dir / 'adapter'}")
