"""Start, supervise and re-attach to training runs that live in their own processes.

A run is a directory; the process is `python -m tuneui.training RUN_DIR` started in a new session
so it outlives whoever started it (the UI can quit, the SSH link can drop). The process holds the
run directory's lock while alive (tuneui.contract.runlock); anyone can re-attach with
`attach(run_dir)` and follow events.jsonl, and "alive" means "a live process holds the lock".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import EXIT_CODES, Event, EventFollower, read_events, run_status
from tuneui.contract.rundir import LOG_FILE, RUN_TOML, pid_of, run_is_alive
from tuneui.contract.runlock import RunLocked, holder


@dataclass
class RunHandle:
    run_dir: Path
    process: subprocess.Popen | None = None  # None when attached to a run started elsewhere

    @property
    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        owner = holder(self.run_dir)
        return owner.pid if owner is not None else pid_of(self.run_dir)

    def poll(self) -> int | None:
        """The exit code once the process has ended, else None."""
        if self.process is not None:
            return self.process.poll()
        if run_is_alive(self.run_dir):
            return None
        return EXIT_CODES.get(run_status(self.run_dir), 1)

    def is_alive(self) -> bool:
        return self.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        if self.process is not None:
            return self.process.wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("tuneui.training", timeout or 0.0)
            time.sleep(0.2)
        return code

    def _signal(self, sig: int) -> bool:
        pid = self.pid
        if not pid or not self.is_alive():
            return False
        try:
            os.kill(pid, sig)
            return True
        except ProcessLookupError:
            return False

    def stop(self) -> bool:
        """Graceful: the run finishes its optimizer step, checkpoints, and exits 130."""
        return self._signal(signal.SIGINT)

    def kill(self) -> bool:
        return self._signal(signal.SIGKILL)

    def follower(self) -> EventFollower:
        return EventFollower(self.run_dir)

    def events(self) -> list[Event]:
        return read_events(self.run_dir)


def _unique(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`... when a run already lives there."""
    if not path.exists() or not any(path.iterdir()):
        return path
    for i in range(2, 10_000):
        cand = path.with_name(f"{path.name}-{i}")
        if not cand.exists():
            return cand
    raise ConfigError(f"{path}: too many runs with this name")


def default_run_dir(cfg: RunConfig) -> Path:
    """cfg.output_dir, else a fresh folder named for the run under the user's output_dir setting."""
    from tuneui.contract.settings import runs_root

    return Path(cfg.output_dir).expanduser() if cfg.output_dir else _unique(runs_root() / cfg.name)


def start_run(config: RunConfig, run_dir: str | Path | None = None, *, resume: bool = False,
              env: dict | None = None) -> RunHandle:
    """Save run.toml into the run directory and start the training process there."""
    run_dir = Path(run_dir) if run_dir else default_run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    if (owner := holder(run_dir)) is not None:  # never rewrite the run.toml of a live run
        raise RunLocked(f"in use by {owner.describe()}", source=str(run_dir))
    if not resume:
        config.save(run_dir / RUN_TOML)
    cmd = [sys.executable, "-m", "tuneui.training", str(run_dir)]
    if resume:
        cmd.append("--resume")
    log = open(run_dir / LOG_FILE, "ab")
    try:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    finally:
        log.close()
    return RunHandle(run_dir=run_dir, process=proc)


def attach(run_dir: str | Path) -> RunHandle:
    return RunHandle(run_dir=Path(run_dir))
