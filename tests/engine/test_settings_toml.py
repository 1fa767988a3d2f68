"""User settings TOML: defaults, round trip, clear errors with line numbers, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneui.contract.errors import ConfigError
from tuneui.contract.settings import (
    Settings,
    apply_environment,
    load_settings,
    save_settings,
    settings_path,
    update_settings,
)


@pytest.fixture(autouse=True)
def tuneui_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "th"))
    return tmp_path / "th"


def test_missing_file_means_defaults(tuneui_home: Path) -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.telemetry == "none"
    assert settings.runs_dir() == tuneui_home / "data" / "runs"
    assert settings.hub_cache() is None
    assert not settings_path().exists()


def test_round_trip_lives_in_the_config_dir(tuneui_home: Path) -> None:
    saved = Settings(theme="nord", output_dir="~/tuneui-runs", hub_cache_dir="/big/hf")
    path = save_settings(saved)
    assert path == tuneui_home / "config" / "settings.toml"
    assert load_settings() == saved
    assert load_settings().runs_dir() == Path.home() / "tuneui-runs"
    assert 'theme = "nord"' in path.read_text()


def test_update_changes_only_the_given_fields() -> None:
    save_settings(Settings(theme="nord"))
    updated = update_settings(first_run_done=True)
    assert updated.theme == "nord" and updated.first_run_done
    assert load_settings() == updated


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('theme = "nord"\n\nthem = "x"\n', ":3: unknown setting 'them'; did you mean 'theme'?"),
        ('theme = "nord"\ntelemetry = "full"\n', ":2: telemetry: Input should be 'none'"),
        ('first_run_done = "maybe"\n', ":1: first_run_done: "),
        ('theme = \n', ":1: not valid TOML: "),
        ('theme = ""\n', ":1: theme: "),
    ],
)
def test_bad_file_names_file_line_and_field(text: str, message: str) -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(str(settings_path()) + message)
    assert settings_path().read_text() == text  # never rewritten behind the user's back


def test_update_rejects_unknown_and_invalid_values() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        update_settings(colour="red")
    with pytest.raises(ConfigError, match="telemetry"):
        update_settings(telemetry="all")
    assert not settings_path().exists()


def test_apply_environment_sets_hub_cache_without_overriding_the_user() -> None:
    env: dict[str, str] = {}
    apply_environment(Settings(hub_cache_dir="/big/hf"), env)
    assert env["HF_HUB_CACHE"] == "/big/hf"
    assert env["HF_HUB_DISABLE_TELEMETRY"] == "1"
    apply_environment(Settings(hub_cache_dir="/other"), env)  # a later change in the panel wins
    assert env["HF_HUB_CACHE"] == "/other"
    apply_environment(Settings(), env)
    assert "HF_HUB_CACHE" not in env

    user = {"HF_HUB_CACHE": "/mine"}
    apply_environment(Settings(hub_cache_dir="/big/hf"), user)
    assert user["HF_HUB_CACHE"] == "/mine"
