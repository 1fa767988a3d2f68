"""`tuneui doctor`: the first-run environment check, headless (PyTorch, GPU, bitsandbytes, disk)."""

from __future__ import annotations

import argparse
import json

MARKS = {"ok": "ok  ", "warn": "note", "missing": "MISSING"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check PyTorch, GPU, bitsandbytes and disk space; print the fix for what is missing",
        description="Check this machine for what tuneui needs. Exit 0 when nothing is missing, 1 otherwise.",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tuneui.envcheck import check_environment, summary

    checks = check_environment()
    missing = any(c.status == "missing" for c in checks)
    if args.json:
        print(json.dumps({"ok": not missing, "summary": summary(checks), "checks": [c.to_dict() for c in checks]}))
    else:
        # The verdict first, as on the first-run screen: "Ready, with notes below" is then true.
        print(summary(checks))
        for c in checks:
            print(f"{MARKS[c.status]:7} {c.title}: {c.detail}")
            if c.fix:
                print(f"        fix: {c.fix}")
    return 1 if missing else 0
