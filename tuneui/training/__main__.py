"""`python -m tuneui.training RUN.toml|RUN_DIR` — the same as `tuneui train`."""

import argparse
import sys

from tuneui.training.cli_args import add_train_arguments
from tuneui.training.headless import run_train

if __name__ == "__main__":  # data workers import the main module again (multiprocessing's rule)
    parser = argparse.ArgumentParser(prog="python -m tuneui.training", description="Run one training run headless.")
    add_train_arguments(parser)
    sys.exit(run_train(parser.parse_args()))
