"""Where tuneui keeps things, via platformdirs; every location can be redirected for tests.

`TUNEUI_HOME` points config, data and cache at one directory (tests and CI use a temp dir);
the individual `TUNEUI_*_DIR` variables override single locations.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "tuneui"


def _base(kind: str) -> Path:
    env = os.environ.get(f"TUNEUI_{kind.upper()}_DIR")
    if env:
        return Path(env)
    home = os.environ.get("TUNEUI_HOME")
    if home:
        return Path(home) / kind
    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))


def config_dir() -> Path:
    return _base("config")


def data_dir() -> Path:
    return _base("data")


def cache_dir() -> Path:
    return _base("cache")


def default_runs_dir() -> Path:
    """Where runs go when the user has not set `output_dir` (read `settings.runs_root()`, not this)."""
    return data_dir() / "runs"


def package_assets() -> Path:
    """Assets that ship inside the wheel (sample data, forgetting-probe text, icon).

    The repo's top-level assets/ is installed as the `tuneui.assets` package.
    """
    from importlib.resources import files

    return Path(str(files("tuneui.assets")))
