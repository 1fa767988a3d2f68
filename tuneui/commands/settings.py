"""`tuneui settings`: show or change the user settings without opening the app (SSH sessions)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "settings",
        help="show or change user settings (theme, output dir, hub cache)",
        description="Show or change the user settings file; the app's Preferences panel edits the same file.",
    )
    sub = parser.add_subparsers(dest="settings_action", metavar="ACTION")
    show = sub.add_parser("show", help="print the settings (default)")
    show.add_argument("--json", action="store_true", help="print a JSON object")
    setp = sub.add_parser("set", help="change one setting, e.g. `set output_dir /data/runs`")
    setp.add_argument("key", help="theme, output_dir or hub_cache_dir")
    setp.add_argument("value", help="the new value; an empty string restores the default")
    sub.add_parser("path", help="print where the settings file is")
    parser.set_defaults(func=run, json=False)


def run(args: argparse.Namespace) -> int:
    from tuneui.contract.errors import ConfigError
    from tuneui.contract.settings import (
        FIELDS,
        Settings,
        load_settings,
        settings_path,
        update_settings,
    )

    action = args.settings_action or "show"
    if action == "path":
        print(settings_path())
        return 0
    if action == "set":
        if args.key not in ("theme", "output_dir", "hub_cache_dir"):
            editable = "theme, output_dir, hub_cache_dir"
            raise ConfigError(f"{args.key!r} cannot be set here; settable: {editable}")
        value = args.value if args.value or args.key != "theme" else Settings().theme
        settings = update_settings(None, **{args.key: value})
        print(f"{args.key} = {getattr(settings, args.key)!r}  (saved in {settings_path()})")
        return 0
    settings = load_settings()
    if args.json:
        print(json.dumps({**settings.model_dump(), "path": str(settings_path()),
                          "runs_dir": str(settings.runs_dir())}))
        return 0
    for key in FIELDS:
        print(f"{key} = {getattr(settings, key)!r}")
    print(f"# runs go to {settings.runs_dir()}; file: {settings_path()}")
    return 0
