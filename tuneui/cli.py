"""The `tuneui` command.

With no subcommand it starts the wizard (importing `tuneui.screens` lazily). Each subcommand lives in
its own module under `tuneui/commands/` exposing `register(subparsers)`; the module sets
`func(args) -> int` on its parser. Heavy libraries are imported inside `func`, never at import
time, so `tuneui --help` stays instant.

Exit codes: 0 ok; 1 the run failed; 2 bad input or usage; 130 stopped by the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tuneui import __version__
from tuneui.contract.errors import TuneuiError

# Order is the order shown in --help.
COMMAND_MODULES = [
    "tuneui.commands.train",
    "tuneui.commands.monitor",
    "tuneui.commands.data",
    "tuneui.commands.recommend",
    "tuneui.commands.chat",
    "tuneui.commands.export",
    "tuneui.commands.demo_model",
    "tuneui.commands.sweep",
    "tuneui.commands.evaluate",
    "tuneui.commands.serve",
    "tuneui.commands.desktop",
    "tuneui.commands.settings",
    "tuneui.commands.doctor",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuneui",
        description="Guided LLM fine-tuning in the terminal. Run with no command to start the wizard.",
    )
    parser.add_argument("--version", action="version", version=f"tuneui {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="start the wizard preloaded with the offline demo model and data"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command not built yet: leave it out of the CLI
                continue
            raise
        module.register(sub)
    return parser


def _run_wizard(args: argparse.Namespace) -> int:
    from tuneui.screens.app import (
        run_app,  # lazy: the engine never imports the UI at module level
    )

    return run_app(demo=args.demo)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None) or _run_wizard
    try:
        return int(func(args) or 0)
    except TuneuiError as exc:
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tuneui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tuneui ... | head`: the reader left; not an error worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
