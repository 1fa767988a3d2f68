"""Fixtures shared by every test: an isolated tuneui home per test and one demo model per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# One shared cache for the whole session so the demo model is built once, not per test.
_SESSION_CACHE = Path(os.environ.get("TUNEUI_TEST_CACHE", "")) if os.environ.get("TUNEUI_TEST_CACHE") else None


def pytest_configure(config):
    global _SESSION_CACHE
    if _SESSION_CACHE is None:
        import tempfile

        _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="tuneui-test-cache-"))
    os.environ["TUNEUI_CACHE_DIR"] = str(_SESSION_CACHE)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def tuneui_home(tmp_path_factory, monkeypatch) -> Path:
    """Config and data (runs/) in a fresh temp dir for every test; the cache stays shared."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TUNEUI_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def demo_model_dir() -> Path:
    from tuneui.demo import ensure_demo_model

    return ensure_demo_model()


@pytest.fixture(scope="session")
def demo_tokenizer(demo_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(demo_model_dir)


@pytest.fixture
def run_cli():
    """Run `tuneui ...` in a subprocess (real exit codes, real stderr)."""
    import subprocess

    def _run(*args, timeout=600, env=None, cwd=None):
        return subprocess.run(
            [sys.executable, "-m", "tuneui", *map(str, args)], capture_output=True, text=True,
            timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd,
        )

    return _run
