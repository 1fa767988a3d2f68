"""Run one training run in this process (`tuneui train` and `python -m tuneui.training`) and say
how it ended: the run directory first, then the base -> tuned figures."""

from __future__ import annotations

import argparse
import builtins
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
    quiet, as_json = getattr(args, "quiet", False), getattr(args, "json", False)
    console = None
    if main:
        from tuneui.training.console import ConsoleProgress, monitor_hint, route_third_party_output

        if not quiet:
            if not args.resume and not args.output and (note := renamed_note(cfg, run_dir)) is not None:
                print(note, file=sys.stderr)
            print(monitor_hint(run_dir), file=sys.stderr, flush=True)
        restore = route_third_party_output(run_dir)
        console = ConsoleProgress(run_dir, mode="quiet" if quiet else "json" if as_json else "auto").start()
    try:
        code = run_training(cfg, run_dir, resume=args.resume)
    finally:
        if console is not None:
            console.close()
            restore()
    if main:
        _print_outcome(run_dir, code, out=sys.stderr if as_json else sys.stdout)
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


def renamed_note(cfg, run_dir) -> str | None:
    """One line when a run went to `NAME-2` because a run named NAME exists: said, not silent."""
    if cfg.output_dir or run_dir.name == cfg.name or not run_dir.name.startswith(f"{cfg.name}-"):
        return None
    return (f"tuneui: a run named {cfg.name!r} exists already; this one is {run_dir.name!r} "
            f"(choose the name with --set name=NAME or the folder with -o)")


def _print_outcome(run_dir, code: int, out=None) -> None:
    from functools import partial

    from tuneui.contract.evaluation import fmt_num, fmt_score, read_report

    report = read_report(run_dir) if code == 0 else None
    if report is None:
        return
    print = partial(builtins.print, file=out or sys.stdout)  # noqa: A001 - the outcome's stream
    if report.preference is not None:
        _print_preference(report.preference, print)
    else:
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


def _print_preference(figures, print) -> None:  # noqa: A002 - the outcome's print
    """A preference run's outcome: how base and tuned rank the held-out replies (no SFT figures, which it
    does not measure)."""
    from tuneui.contract.evaluation import fmt_num, fmt_score

    base, tuned = figures.base, figures.tuned
    if tuned is None:
        return
    if tuned.pairs is not None:
        before = f"base {fmt_score(base.accuracy)} -> " if base is not None else "base not measured, "
        margins = (f" (mean log-probability margin {fmt_num(base.mean_logp_margin)} -> "
                   f"{fmt_num(tuned.mean_logp_margin)})" if base is not None else "")
        print(f"preference accuracy on {tuned.pairs} held-out pairs (chosen more likely than rejected): "
              f"{before}tuned {fmt_score(tuned.accuracy)}{margins}")
        return
    for side in ("desirable", "undesirable"):
        b = getattr(base, f"{side}_mean_logp") if base is not None else None
        print(f"mean log-probability of the {getattr(tuned, side)} held-out {side} replies: base {fmt_num(b)} "
              f"-> tuned {fmt_num(getattr(tuned, f'{side}_mean_logp'))}")
