"""`tuneui monitor RUN_DIR`: the wizard's live training screen attached to a run directory.

The run keeps going in its own process whatever happens here; quitting the monitor (Ctrl+Q)
leaves it running, and `tuneui monitor` can attach again at any time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tuneui.contract.errors import TuneuiError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="watch a training run live (loss curves, progress, warnings); stop or resume it",
        description="Open the live training screen attached to RUN_DIR (a run started by the wizard or "
        "`tuneui train`). Quitting the monitor does not stop the run.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory (it holds run.toml and events.jsonl)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).expanduser()
    if not run_dir.is_dir():
        raise TuneuiError("no such run directory", source=str(run_dir))
    if not (run_dir / "run.toml").exists() and not (run_dir / "events.jsonl").exists():
        raise TuneuiError("not a run directory (no run.toml or events.jsonl)", source=str(run_dir))
    from tuneui.screens.app import (
        run_app,  # lazy: the engine never imports the UI at module level
    )

    return run_app(monitor=run_dir.resolve())
