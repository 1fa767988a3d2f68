"""`tuneui settings` and `tuneui doctor`: the headless twins of the Preferences and first-run screens."""

from __future__ import annotations

import argparse
import json

import pytest

from tuneui.commands import doctor
from tuneui.commands import settings as settings_cmd
from tuneui.contract.errors import ConfigError
from tuneui.contract.settings import load_settings


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "th"))


def run(module, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tuneui")
    module.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_set_then_show(capsys, tmp_path) -> None:
    assert run(settings_cmd, "settings", "set", "output_dir", str(tmp_path / "runs")) == 0
    assert load_settings().output_dir == str(tmp_path / "runs")
    capsys.readouterr()
    assert run(settings_cmd, "settings", "show", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["runs_dir"] == str(tmp_path / "runs") and shown["telemetry"] == "none"


def test_set_refuses_what_is_not_user_settable() -> None:
    with pytest.raises(ConfigError, match="'telemetry' cannot be set here"):
        run(settings_cmd, "settings", "set", "telemetry", "all")


def test_doctor_exit_code_follows_missing(monkeypatch, capsys) -> None:
    from tuneui import envcheck
    from tuneui.envcheck import Check

    fake = [Check("torch", "PyTorch", "missing", "PyTorch is not installed.", "pip install torch")]
    monkeypatch.setattr(envcheck, "check_environment", lambda: fake)
    assert run(doctor, "doctor", "--json") == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["checks"][0]["fix"] == "pip install torch"
    assert run(doctor, "doctor") == 1
    assert "fix: pip install torch" in capsys.readouterr().out
