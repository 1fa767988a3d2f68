"""`tuneui evaluate RUN_DIR`: recompute report.json (base vs tuned); `--compare` tables past runs.

`--json` prints report.json's object (evaluate), or for --compare a stable object:
  {"schema": 1, "runs": [{"name", "run_dir", "status", "technique", "learning_rate", "lora_r", "epochs",
   "max_steps", "steps", "train_loss", "val_loss", "metric_name", "metric_base", "metric_tuned",
   "forgetting_ratio", "forgetting_level", "seconds", "started"}]}
"""

from __future__ import annotations

import argparse
import json
import sys

from tuneui.contract.errors import TuneuiError


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="re-evaluate a finished run, base vs tuned (or --compare runs)",
                       description="Recompute RUN_DIR/report.json: validation loss and perplexity, the task "
                                   "metric and the forgetting probe, for the base model and the tuned one.")
    p.add_argument("paths", nargs="*", metavar="RUN_DIR", help="run directory (several, or none, with --compare)")
    p.add_argument("--compare", action="store_true",
                   help="a table of runs (default: every run in the runs folder) instead of evaluating")
    p.add_argument("--limit", type=int, default=None, help="validation examples for the task metric")
    p.add_argument("--json", action="store_true", help="print the stable JSON object")
    p.set_defaults(func=run)


def _print_table(header, rows) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def run(args: argparse.Namespace) -> int:
    if args.compare:
        from tuneui.contract.runs import COLUMNS, table_rows
        from tuneui.runs import compare_runs

        rows = compare_runs(args.paths or None)
        if args.json:
            print(json.dumps({"schema": 1, "runs": [r.to_dict() for r in rows]}))
        elif not rows:
            print("no runs found")
        else:
            _print_table(COLUMNS, table_rows(rows))
        return 0
    if len(args.paths) != 1:
        raise TuneuiError("evaluate: give exactly one RUN_DIR (or --compare for several)")
    if args.limit is not None and args.limit < 0:
        raise TuneuiError("--limit: must be 0 or more")
    from tuneui.contract.evaluation import report_rows
    from tuneui.evaluate_run import evaluate_run

    def progress(msg: str) -> None:
        if not args.json:
            print(f"tuneui: {msg}…", file=sys.stderr)

    report = evaluate_run(args.paths[0], limit=args.limit, progress=progress)
    if args.json:
        print(json.dumps(report.to_dict(), default=str))
        return 0
    _print_table(("", "base", "tuned"), report_rows(report))
    if report.forgetting is not None and report.forgetting.verdict:
        print(f"forgetting: {report.forgetting.verdict}")
    return 0
