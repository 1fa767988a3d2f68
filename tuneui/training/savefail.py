"""What went wrong when a save failed, in words a person can act on: a full disk (how much is needed,
how much is free, on which filesystem), or a folder that cannot be written.

Savers fail in several shapes: `open`/`write` raise OSError(ENOSPC), but `torch.save` raises a
RuntimeError ("PytorchStreamWriter failed writing file ...") and safetensors its own errors, with the
errno lost on the way. So the errno is looked for along the exception's chain, and when there is
none, the free space on the target filesystem decides: too little free space for the save means the
disk was full.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from tuneui.training.guards import RunFailure

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop always returns


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def mount_point(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def free_bytes(path: Path) -> int | None:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


# Savers that lose the errno often keep its words (safetensors: "No space left on device (os error 28)").
_FULL_WORDS = re.compile(r"no space left on device|disk quota exceeded|os error 28\b|errno 28\b", re.I)


def _errno_in_chain(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno is not None:
            return cur
        if _FULL_WORDS.search(str(cur)):
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        cur = cur.__cause__ or cur.__context__
    return None


def model_checkpoint_bytes(model) -> int:
    """About what a checkpoint of `model` takes: trainable weights plus two fp32 Adam moments each."""
    total = 0
    for p in model.parameters():
        if p.requires_grad:
            total += p.numel() * (p.element_size() + 8)
    return total


def classify(exc: BaseException, *, what: str, target: Path, needed: int, intact: str,
             resume_hint: str) -> RunFailure | None:
    """A RunFailure saying what happened to the save of `what` into `target`, or None when the
    exception is not about the filesystem (a bug: let it surface as it is)."""
    os_err = _errno_in_chain(exc)
    free = free_bytes(target)
    disk = mount_point(target)
    if (os_err is not None and os_err.errno in _FULL) or (
            os_err is None and free is not None and free < max(needed, 1 << 20)):
        free_s = human_bytes(free) if free is not None else "an unknown amount"
        return RunFailure(
            f"disk full while saving {what} to {target}: it needs about {human_bytes(needed)}, "
            f"{free_s} is free on {disk}; {intact}",
            f"free at least {human_bytes(max(needed - (free or 0), 0) * 1.2 + (1 << 20))} on {disk} "
            f"(or move the run to a bigger disk), then {resume_hint}")
    if os_err is not None and os_err.errno in _DENIED:
        place = os_err.filename or target
        return RunFailure(f"cannot write {what}: {os_err.strerror} ({place}); {intact}",
                          f"make {place} writable, then {resume_hint}")
    if os_err is not None:
        return RunFailure(f"could not write {what} to {target}: {os_err.strerror or os_err}; {intact}",
                          f"check the disk, then {resume_hint}")
    return None
