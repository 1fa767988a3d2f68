"""Output folders that never clobber the user's work.

An output folder (`tuneui train -o DIR`, `tuneui export -o DIR`) must be new or empty. `--overwrite`
is the user's consent to replace it, and even then tuneui only replaces a folder that holds nothing
but what tuneui itself wrote there, that does not contain one of the command's own inputs (the run
being exported, the config, the dataset), that is not inside one of them, and that no live process
is using. The old folder leaves by one rename and is deleted only after that, so no moment shows a
half-deleted folder under the old name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tuneui.contract.errors import TuneuiError
from tuneui.contract.runlock import holder

# What a run directory holds when tuneui wrote it (tuneui.contract.rundir and the training runtime).
RUN_ENTRIES = frozenset({"run.toml", "events.jsonl", "run.pid", "run.lock", "run.id", "train.log", "report.json",
                         "base_eval.json", "adapter", "checkpoints", "data", "trainer", "chat_examples.jsonl"})
# An export records the names it wrote here, so a later `--overwrite` knows what it may replace.
EXPORT_MANIFEST = "tuneui-export.json"


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _is_temp_of(name: str, known: Iterable[str]) -> bool:
    # atomic writes leave `.NAME.<random>` scratch entries next to NAME while they work
    return name.startswith(".") and any(name.startswith(f".{k}.") for k in known)


def foreign_entries(folder: Path) -> list[str]:
    """Entries of `folder` tuneui did not write (by the run layout or an export's manifest)."""
    names = sorted(os.listdir(folder))
    owned: set[str] = set()
    if (folder / "run.toml").is_file() and any((folder / n).exists() for n in ("events.jsonl", "run.id", "run.lock")):
        owned |= RUN_ENTRIES
    if (folder / EXPORT_MANIFEST).is_file():
        import json

        try:
            listed = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8")).get("files", [])
            owned |= {str(n) for n in listed} | {EXPORT_MANIFEST}
        except (OSError, ValueError, AttributeError):
            pass
    return [n for n in names if n not in owned and not _is_temp_of(n, owned)]


def check_output_dir(out: str | Path, *, overwrite: bool, sources: Iterable[str | Path] = (),
                     what: str = "output") -> bool:
    """Raise TuneuiError unless `out` may be written; True when an existing folder will be replaced."""
    out = Path(out).expanduser()
    if out.is_symlink() and not out.exists():
        raise TuneuiError(f"the {what} folder is a broken symbolic link (or a loop)", source=str(out))
    if out.exists() and not out.is_dir():
        raise TuneuiError(f"the {what} folder is a file; choose another -o", source=str(out))
    parent = out.resolve().parent if out.exists() else _existing_parent(out)
    if not os.access(parent if not out.exists() else out, os.W_OK):
        raise TuneuiError("cannot write here (read-only); choose another -o", source=str(out))
    if not out.exists() or _effectively_empty(out):
        return False
    if not overwrite:
        raise TuneuiError(f"the {what} folder already exists and is not empty; choose another -o, or add "
                          "--overwrite to replace it", source=str(out))
    real = out.resolve()
    for src in sources:
        s = Path(src).expanduser().resolve()
        if _inside(s, real):
            raise TuneuiError(f"--overwrite refused: the folder contains {src}, an input of this command; "
                              "choose another -o", source=str(out))
        if _inside(real, s):
            raise TuneuiError(f"--overwrite refused: the folder is inside {src}, an input of this command; "
                              "choose another -o", source=str(out))
    if (owner := holder(out)) is not None:
        raise TuneuiError(f"--overwrite refused: in use by {owner.describe()}", source=str(out))
    foreign = foreign_entries(out)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise TuneuiError(f"--overwrite refused: the folder holds {foreign[0]!r}{more}, which tuneui did not "
                          "write; remove it yourself or choose another -o", source=str(out))
    return True


def _effectively_empty(folder: Path) -> bool:
    """Empty, or holding only the lock of a run killed before it wrote anything (nobody holds it)."""
    names = set(os.listdir(folder))
    return not names or (names == {"run.lock"} and holder(folder) is None)


def _existing_parent(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def move_aside(folder: Path) -> Path:
    """Rename `folder` to a hidden sibling in one step; the caller deletes it when it is safe to."""
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.replaced-", dir=folder.parent))
    os.rename(folder, aside / folder.name)
    return aside


def discard(aside: Path) -> None:
    shutil.rmtree(aside, ignore_errors=True)
