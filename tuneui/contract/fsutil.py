"""Atomic file writes: outputs appear complete or not at all, never half-written."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes 0600 files; outputs are ordinary user files, so honour the umask instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Build a directory in a scratch folder next to `final`, then swap it into place.

    Readers see the old directory or the complete new one, never a half-written or half-deleted one
    (the old one is renamed away first, and deleted only once the new one is in place); on an error
    the scratch folder is removed and `final` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes 0700 folders; outputs are ordinary user folders
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.replaced-", dir=final.parent))
            final.rename(old / final.name)
        try:
            tmp.rename(final)
        except BaseException:
            if old is not None:
                (old / final.name).rename(final)
                old.rmdir()
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def why_unreachable(path: str | Path) -> str:
    """Why `path` cannot be opened, in words ("a symbolic link loop" rather than "no such file")."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (too many levels of symbolic links)"
        if os.path.islink(path):
            try:
                return f"a broken symbolic link (to {os.readlink(path)})"
            except OSError:
                return "a broken symbolic link"
        if exc.errno == errno.ENOENT:
            return "no such file or directory"
        return exc.strerror or str(exc)
    return "it exists"
