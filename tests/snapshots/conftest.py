"""Snapshot tests: fixed terminal size, fixed clock and timezone, fakes injected, relative paths,
so the SVGs are the same on any machine."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "ui"))  # fakes.py


@pytest.fixture(autouse=True)
def _stable_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(tmp_path)  # paths on screen are relative to here, so they read the same everywhere
    yield
    monkeypatch.undo()
    time.tzset()
