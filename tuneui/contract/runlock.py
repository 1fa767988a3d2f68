"""The advisory lock of a run directory: who is using it, and is that process still alive.

`RUN_DIR/run.lock` is locked with `flock` by the process that owns the run (the training process for
its whole life, a resume, an export that replaces a directory). The kernel drops a flock when its
process dies, however it dies, so a SIGKILLed trainer never leaves the directory locked. The file
also says who holds it (pid, the process's start time, what it is doing), so a second trainer can
say whom it is waiting for, and monitors can say "running" without trusting a pid that may have
been reused: a holder counts only while a process with that pid *and that start time* exists.

Readers never lock (a monitor must not make a trainer starting at the same moment fail); they read
the holder line and check the process. Where `flock` is not supported (some network filesystems),
the holder line alone decides, with the same pid-and-start-time check for stale locks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tuneui.contract.errors import TuneuiError

LOCK_FILE = "run.lock"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def process_start(pid: int) -> float | None:
    """When `pid` started (clock ticks since boot on Linux), None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return _start_without_proc(pid)
    if fields[0] == b"Z":  # exited, not yet reaped: not a live owner
        return None
    return float(fields[19])


def _start_without_proc(pid: int) -> float | None:
    # No /proc (macOS): existence only; 0.0 stands for "alive, start time unknown".
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0.0
    return 0.0


@dataclass(frozen=True)
class Holder:
    pid: int
    start: float
    purpose: str  # "training", "export", ...
    since: float  # unix time the lock was taken
    host: str = ""
    phase: str = ""  # what the holder is doing now (setup, tokenising, base evaluation, training, ...)

    def alive(self) -> bool:
        if self.host and self.host != socket.gethostname():
            return True  # another machine's process: it cannot be checked from here, so trust the lock
        start = process_start(self.pid)
        return start is not None and (start == self.start or 0.0 in (start, self.start))

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        doing = f", {self.phase}" if self.phase else ""
        return f"{self.purpose} process {self.pid}{where} (since {when}{doing})"


class RunLocked(TuneuiError):
    """Someone else is using the run directory."""


def _read(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(pid=int(data["pid"]), start=float(data["start"]), purpose=str(data.get("purpose", "")),
                      since=float(data.get("since", 0)), host=str(data.get("host", "")),
                      phase=str(data.get("phase", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def holder(run_dir: str | Path) -> Holder | None:
    """The live process using the run directory, or None (never locked, released, or stale)."""
    found = _read(Path(run_dir) / LOCK_FILE)
    return found if found is not None and found.alive() else None


def is_locked(run_dir: str | Path) -> bool:
    return holder(run_dir) is not None


class RunLock:
    """An acquired lock; keep it for as long as the directory is being changed."""

    def __init__(self, run_dir: Path, fd: int, info: Holder, flocked: bool):
        self.run_dir, self.path = run_dir, run_dir / LOCK_FILE
        self._fd: int | None = fd
        self.info, self.flocked = info, flocked

    def set_phase(self, phase: str) -> None:
        """Say what the owner is doing now (monitors show it; tools wait for a phase)."""
        self.info = Holder(**{**self.info.__dict__, "phase": phase})
        self._write()

    def _write(self) -> None:
        if self._fd is None:
            return
        data = json.dumps(self.info.__dict__).encode()
        # One pwrite of the whole line, then trim: a reader sees the old line, the new one, or (for
        # an instant) a longer mix it cannot parse, which it treats as "held, details unknown".
        os.pwrite(self._fd, data + b"\n", 0)
        os.ftruncate(self._fd, len(data) + 1)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no holder line left behind: monitors see "not running" at once
        if self.flocked:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(run_dir: str | Path, purpose: str, *, advice: str = "") -> RunLock:
    """Lock the run directory for this process, or raise RunLocked naming who holds it."""
    run_dir = Path(run_dir)
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise TuneuiError(f"cannot lock the run directory: {exc.strerror}", source=str(run_dir)) from None
    flocked = True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _locked(run_dir, _read(path), advice) from None
    except OSError as exc:
        if exc.errno not in _NO_FLOCK:
            os.close(fd)
            raise TuneuiError(f"cannot lock the run directory: {exc.strerror}", source=str(run_dir)) from None
        flocked = False
        other = _read(path)
        if other is not None and other.alive() and other.pid != os.getpid():
            os.close(fd)
            raise _locked(run_dir, other, advice) from None
    me = os.getpid()
    info = Holder(pid=me, start=process_start(me) or 0.0, purpose=purpose, since=time.time(),
                  host=socket.gethostname())
    lock = RunLock(run_dir, fd, info, flocked)
    lock._write()
    return lock


def _locked(run_dir: Path, other: Holder | None, advice: str) -> RunLocked:
    who = other.describe() if other is not None and other.alive() else "another process"
    tail = f"; {advice}" if advice else ""
    return RunLocked(f"in use by {who}{tail}", source=str(run_dir))


@contextlib.contextmanager
def locked(run_dir: str | Path, purpose: str, *, advice: str = "") -> Iterator[RunLock]:
    lock = acquire(run_dir, purpose, advice=advice)
    try:
        yield lock
    finally:
        lock.release()
