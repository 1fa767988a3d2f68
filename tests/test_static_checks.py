"""The architecture and the code's hygiene, checked with the suite: the import-linter contracts in
pyproject.toml (the layers of docs/architecture.md), ruff, and mypy (the contract, the facade and the
UI typed strictly; the test fakes checked against the facade's Protocol)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import early_mypy

REPO = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *cmd], cwd=REPO, capture_output=True, text=True, timeout=900)


def test_import_contracts_are_kept():
    out = subprocess.run(["lint-imports"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_ruff_finds_nothing():
    out = _run("ruff", "check", ".")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.mark.slow
def test_mypy_finds_nothing(request):
    # Started in the background when collection ended (tests/early_mypy.py): same command, same check.
    returncode, out = early_mypy.result(request.config)
    assert returncode == 0, out[-8000:]
