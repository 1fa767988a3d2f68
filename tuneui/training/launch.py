"""Start, supervise and re-attach to training runs that live in their own processes.

A run is a directory; the process is `python -m tuneui.training RUN_DIR` started in a new session
so it outlives whoever started it (the UI can quit, the SSH link can drop). The process writes its
pid to `run.pid` while alive; anyone can re-attach with `attach(run_dir)` and follow events.jsonl.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tuneui.errors import ConfigError
from tuneui.training.config import RunConfig
from tuneui.training.events import EventFollower, read_events, run_status

PID_FILE = "run.pid"
LOG_FILE = "train.log"


def _pid_of(run_dir: Path) -> int | None:
    try:
        return int((Path(run_dir) / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not a running run.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def run_is_alive(run_dir: str | Path) -> bool:
    return _alive(_pid_of(Path(run_dir)))


@dataclass
class RunHandle:
    run_dir: Path
    process: subprocess.Popen | None = None  # None when attached to a run started elsewhere

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else _pid_of(self.run_dir)

    def poll(self) -> int | None:
        """The exit code once the process has ended, else None."""
        if self.process is not None:
            return self.process.poll()
        if run_is_alive(self.run_dir):
            return None
        return {"finished": 0, "stopped": 130, "failed": 1}.get(run_status(self.run_dir), 1)

    def is_alive(self) -> bool:
        return self.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        if self.process is not None:
            return self.process.wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("tuneui.training", timeout)
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

    def events(self) -> list[dict]:
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
    from tuneui.settings import load_settings

    return Path(cfg.output_dir).expanduser() if cfg.output_dir else _unique(load_settings().runs_dir() / cfg.name)


def start_run(config: RunConfig, run_dir: str | Path | None = None, *, resume: bool = False,
              env: dict | None = None) -> RunHandle:
    """Save run.toml into the run directory and start the training process there."""
    run_dir = Path(run_dir) if run_dir else default_run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        config.save(run_dir / "run.toml")
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


@dataclass
class RunSummary:
    name: str
    run_dir: Path
    status: str
    technique: str | None
    started: float | None
    last_loss: float | None
    step: int

    def to_dict(self) -> dict:
        return {**self.__dict__, "run_dir": str(self.run_dir)}


def summarize(run_dir: Path) -> RunSummary:
    events = read_events(run_dir)
    started = next((e for e in events if e["type"] == "started"), None)
    steps = [e for e in events if e["type"] == "step"]
    return RunSummary(
        name=run_dir.name, run_dir=run_dir, status=run_status(run_dir),
        technique=started.get("technique") if started else None,
        started=started["time"] if started else None,
        last_loss=steps[-1].get("loss") if steps else None,
        step=events[-1]["step"] if events else 0,
    )


def list_runs(root: str | Path | None = None) -> list[RunSummary]:
    """Runs under the runs directory, newest first."""
    from tuneui.paths import runs_dir

    root = Path(root) if root else runs_dir()
    if not root.is_dir():
        return []
    runs = [summarize(d) for d in root.iterdir() if (d / "run.toml").exists()]
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)
