"""`tuneui train RUN.toml|RUN_DIR [--demo] [--resume] [-o RUN_DIR] [--set key=value ...]`."""

from __future__ import annotations


def register(sub) -> None:
    from tuneui.training.cli_args import add_train_arguments
    from tuneui.training.headless import run_train

    p = sub.add_parser("train", help="run one training run headless",
                       description="Run one training run in this process, appending events to "
                                   "RUN_DIR/events.jsonl. Exit 0 finished, 1 failed, 2 bad input, 130 stopped.")
    add_train_arguments(p)
    p.set_defaults(func=run_train)
