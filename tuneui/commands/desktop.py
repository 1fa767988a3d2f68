"""`tuneui install-desktop [--uninstall]`: the application-menu launcher and icon."""

from __future__ import annotations

import argparse
import json
import shlex

from tuneui.contract.errors import TuneuiError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "install-desktop",
        help="add tuneui (with its icon) to your desktop's application menu",
        description=(
            "Write a launcher that opens tuneui in a terminal: a freedesktop .desktop entry and "
            "icon under $XDG_DATA_HOME (Linux), ~/Applications/tuneui.app (macOS) or a Start-menu "
            "shortcut (Windows). Running it again replaces the earlier launcher."
        ),
    )
    parser.add_argument(
        "--uninstall", action="store_true", help="remove exactly the files an earlier install wrote"
    )
    parser.add_argument(
        "--terminal",
        metavar="CMD",
        help="Linux: terminal command to run tuneui in, e.g. 'kitty -e' or 'gnome-terminal --' "
        "(default: the desktop's own terminal, via Terminal=true)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the files without writing them")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tuneui import desktop

    if args.uninstall:
        if args.terminal or args.dry_run:
            raise TuneuiError("--uninstall takes no other options")
        result = desktop.uninstall()
        if args.json:
            print(json.dumps({
                "action": "uninstall",
                "installed": result.installed,
                "removed": [str(p) for p in result.removed],
                "kept": [str(p) for p in result.kept],
            }))
        elif not result.installed:
            print("No tuneui launcher is installed; nothing to remove.")
        else:
            for path in result.removed:
                print(f"removed {path}")
            for path in result.kept:
                print(f"kept {path} (changed since tuneui wrote it)")
        return 0

    terminal = shlex.split(args.terminal) if args.terminal else None
    if args.terminal is not None and not terminal:
        raise TuneuiError("--terminal: give a command, e.g. --terminal 'xterm -e'")
    plan = desktop.plan_install(terminal=terminal)
    paths = plan.paths if args.dry_run else desktop.install(plan)
    if args.json:
        print(json.dumps({
            "action": "dry-run" if args.dry_run else "install",
            "platform": plan.platform,
            "files": [str(p) for p in paths],
            "manifest": str(desktop.manifest_path()),
        }))
        return 0
    verb = "would write" if args.dry_run else "wrote"
    for path in paths:
        print(f"{verb} {path}")
    if not args.dry_run:
        where = {
            "linux": "your application menu (log out and in if it does not show up at once)",
            "macos": "~/Applications and Launchpad",
            "windows": "the Start menu",
        }[plan.platform]
        print(f"tuneui is now in {where}. Remove it with: tuneui install-desktop --uninstall")
    return 0
