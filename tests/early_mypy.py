"""mypy, started in the background as soon as the session knows its test will run.

mypy over the package is about 90 s of one core with a cold cache (as on CI's clean clone), and the
rest of the suite keeps the 2-core CI machine only 1.1 cores busy on average. Started at the end of
collection, mypy runs on the idle core while the other tests run; its test only collects the result.
The check itself is unchanged: the same `python -m mypy` in the repository root, its exit status and
output asserted by the test. Run on its own (or where the hook did not start it), the test starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_NAME = "test_mypy_finds_nothing"
_KEY = pytest.StashKey[subprocess.Popen]()


def _start(background: bool) -> subprocess.Popen:
    # Niced in the background so that it takes the core the suite leaves idle, not time from the tests.
    return subprocess.Popen([sys.executable, "-m", "mypy"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=(lambda: os.nice(10)) if background else None)


def start_if_selected(session: pytest.Session) -> None:
    # Under pytest-xdist every worker collects every test: none knows it will run this one, so none starts it.
    if hasattr(session.config, "workerinput"):
        return
    if any(item.name == TEST_NAME for item in session.items):
        session.config.stash[_KEY] = _start(background=True)


def result(config: pytest.Config, timeout: float = 900) -> tuple[int, str]:
    """mypy's exit status and output: from the background process, or from one started now."""
    proc = config.stash.get(_KEY, None) or _start(background=False)
    config.stash[_KEY] = proc  # ended by stop() if the wait below is interrupted
    out, _ = proc.communicate(timeout=timeout)
    del config.stash[_KEY]
    return proc.returncode, out


def stop(config: pytest.Config) -> None:
    """Ends a background mypy that no test collected (a session stopped early by -x or ^C)."""
    proc = config.stash.get(_KEY, None)
    if proc is not None:
        del config.stash[_KEY]
        proc.kill()
        proc.communicate()
