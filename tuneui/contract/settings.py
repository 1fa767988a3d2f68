"""User settings: one small TOML file in the platform's config dir (`settings_path()`).

    theme = "textual-dark"          # the app's colour theme
    output_dir = "~/tuneui-runs"    # where new runs go; empty: <data dir>/runs
    hub_cache_dir = ""              # Hugging Face cache (HF_HUB_CACHE); empty: the hub default
    telemetry = "none"              # tuneui never sends anything anywhere; "none" is the only value

A missing file means defaults. A bad file raises ConfigError naming the file, line and field.
Writes are atomic, and keep nothing but these keys (comments in a hand-edited file are not kept).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tuneui.contract.errors import ConfigError
from tuneui.contract.fsutil import atomic_write_text
from tuneui.contract.paths import config_dir, default_runs_dir

DEFAULT_THEME = "textual-dark"
_MARK = "TUNEUI_HUB_CACHE_FROM_SETTINGS"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    theme: str = Field(DEFAULT_THEME, min_length=1, description="colour theme of the app")
    output_dir: str = Field("", description="where new runs are written; empty: the data dir's runs/")
    hub_cache_dir: str = Field("", description="Hugging Face hub cache; empty: the hub's own default")
    telemetry: Literal["none"] = Field("none", description="tuneui sends no telemetry, ever")
    first_run_done: bool = Field(False, description="the first-run environment check was seen")

    @field_validator("output_dir", "hub_cache_dir")
    @classmethod
    def _plain_path(cls, value: str) -> str:
        value = value.strip()
        if "\x00" in value:
            raise ValueError("a path cannot contain NUL")
        return value

    def runs_dir(self) -> Path:
        """Directory new runs go into (the setting, or the platform default)."""
        return _expand(self.output_dir) if self.output_dir else default_runs_dir()

    def hub_cache(self) -> Path | None:
        return _expand(self.hub_cache_dir) if self.hub_cache_dir else None


FIELDS = tuple(Settings.model_fields)


def _expand(value: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(value))).absolute()


def runs_root() -> Path:
    """Where runs live: the user's `output_dir` setting, else <data dir>/runs.

    The one answer for everything that writes or reads runs (new runs, the runs list, compare,
    sweeps), so a custom output folder is seen everywhere. A broken settings file falls back to the
    default folder here; `tuneui settings` and the first-run check report the file itself.
    """
    try:
        return load_settings().runs_dir()
    except ConfigError:
        return default_runs_dir()


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def load_settings(path: Path | None = None) -> Settings:
    path = Path(path) if path is not None else settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read settings: {exc}", source=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line N, column M)"; keep that as the line number.
        match = re.search(r"at line (\d+)", str(exc))
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        line = int(match.group(1)) if match else max(1, len(text.splitlines()))
        raise ConfigError(f"not valid TOML: {msg}", source=str(path), line=line) from exc
    try:
        return Settings(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        if err["type"] == "extra_forbidden":
            near = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known settings: {', '.join(FIELDS)}"
            msg = f"unknown setting {key!r}{hint}"
        else:
            msg = f"{key}: {err['msg']}"
        raise ConfigError(msg, source=str(path), line=_line_of(text, key)) from exc


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    path = Path(path) if path is not None else settings_path()
    header = "# tuneui settings: edit here or in the app's Settings panel.\n"
    return atomic_write_text(path, header + tomli_w.dumps(settings.model_dump()))


def update_settings(path: Path | None = None, **changes: object) -> Settings:
    """Load, change the given fields (validated), save; returns the saved settings."""
    current = load_settings(path)
    unknown = [k for k in changes if k not in FIELDS]
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; known settings: {', '.join(FIELDS)}")
    try:
        updated = Settings(**{**current.model_dump(), **changes})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{err['loc'][0]}: {err['msg']}") from exc
    save_settings(updated, path)
    return updated


def apply_environment(settings: Settings, environ: dict[str, str] | None = None) -> None:
    """Make the settings take effect for this process and the trainers it starts.

    A hub cache set in the environment wins over the settings file (the user said so louder).
    """
    env = os.environ if environ is None else environ
    ours = env.get(_MARK) == "1"  # HF_HUB_CACHE came from an earlier call, not the user
    cache = settings.hub_cache()
    if ours:
        env.pop("HF_HUB_CACHE", None)
        env.pop(_MARK, None)
    if cache is not None and "HF_HUB_CACHE" not in env and "HF_HOME" not in env:
        env["HF_HUB_CACHE"] = str(cache)
        env[_MARK] = "1"
    # telemetry = "none": the libraries tuneui drives must not phone home either.
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    env.setdefault("DO_NOT_TRACK", "1")
