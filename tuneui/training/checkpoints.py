"""Complete, verifiable checkpoints and the choice of which one to resume from.

The Trainer writes a checkpoint (weights or adapter, optimizer, scheduler, RNG states, step
counters and data position in trainer_state.json) to a scratch folder. Only when that is complete
does tuneui add the RunConfig and a manifest of SHA-256 hashes and rename the folder to
`checkpoints/step-N`: a rename is atomic, so a kill at any moment leaves either the previous set of
checkpoints or the new one, never a half-written `step-N`. Resume loads only folders whose
manifest matches their files; nothing without a manifest (nothing tuneui did not write) is loaded.
The manifest also carries the run's identity (`run.id`), so a checkpoint copied in from another
run is skipped too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.fsutil import atomic_write_text
from tuneui.contract.rundir import RUN_ID_FILE

MANIFEST = "tuneui-manifest.json"
CHECKPOINTS = "checkpoints"
# Fields that change what the weights mean: resuming across a change to any of them is refused.
SHAPE_FIELDS = ("model", "technique", "lora_r", "lora_target_modules", "freeze_trainable_layers",
                "bnb_4bit_quant_type", "bnb_4bit_double_quant", "use_dora", "use_rslora", "lora_init")


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def finalize(scratch: Path, run_dir: Path, step: int, cfg: RunConfig, extra: dict | None = None) -> Path:
    """Seal a complete scratch checkpoint and move it into place as checkpoints/step-N (`extra`:
    more facts for the manifest, e.g. the run's loss so far)."""
    cfg.save(scratch / "run.toml")
    manifest = {
        "tuneui_checkpoint": 1,
        "step": step,
        "run_id": read_run_id(run_dir),
        **(extra or {}),
        "files": {str(p.relative_to(scratch)): {"sha256": _sha256(p), "bytes": p.stat().st_size}
                  for p in _files(scratch)},
    }
    atomic_write_text(scratch / MANIFEST, json.dumps(manifest, indent=1))
    final = run_dir / CHECKPOINTS / f"step-{step}"
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # a re-run of the same step (resume after a kill right after saving)
        # Swap by rename: the old folder leaves in one step, so a kill never leaves step-N half deleted.
        old = final.with_name(f".{final.name}.replaced")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        scratch.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        scratch.rename(final)
    return final


def manifest(ckpt: Path) -> dict:
    try:
        data = json.loads((ckpt / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_run_id(run_dir: Path) -> str | None:
    try:
        return (run_dir / RUN_ID_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def foreign(ckpt: Path, run_id: str | None) -> str | None:
    """Why the checkpoint belongs to another run, or None when it is this run's."""
    try:
        theirs = json.loads((ckpt / MANIFEST).read_text()).get("run_id")
    except (OSError, ValueError, AttributeError):
        return "unreadable manifest"
    if theirs == run_id:
        return None
    if run_id is None:
        return f"it belongs to run {theirs}, and this run directory has no run.id"
    return f"it belongs to another run (run id {theirs or 'none'}, this run is {run_id})"


def verify(ckpt: Path) -> str | None:
    """None when the checkpoint is complete and untampered, else the reason it is not."""
    try:
        manifest = json.loads((ckpt / MANIFEST).read_text())
        files = manifest["files"]
    except FileNotFoundError:
        return "no manifest (incomplete, or not written by tuneui)"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable manifest"
    present = {str(p.relative_to(ckpt)) for p in _files(ckpt)}
    if present != set(files):
        missing = sorted(set(files) - present)
        extra = sorted(present - set(files))
        return f"files differ from the manifest (missing {missing}, unexpected {extra})"
    for name, meta in files.items():
        if (ckpt / name).stat().st_size != meta["bytes"] or _sha256(ckpt / name) != meta["sha256"]:
            return f"{name} does not match its manifest hash"
    return None


@dataclass
class Checkpoint:
    step: int
    path: Path


def listed(run_dir: Path) -> list[Checkpoint]:
    """step-N folders under checkpoints/, oldest first (not yet verified)."""
    root = run_dir / CHECKPOINTS
    out = []
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit():
                out.append(Checkpoint(int(p.name[5:]), p))
    return sorted(out, key=lambda c: c.step)


def newest_complete(run_dir: Path, warn=lambda reason: None, *, check_owner: bool = False) -> Checkpoint | None:
    own = read_run_id(run_dir) if check_owner else None
    for ckpt in reversed(listed(run_dir)):
        problem = verify(ckpt.path) or (foreign(ckpt.path, own) if check_owner else None)
        if problem is None:
            return ckpt
        warn(f"skipping checkpoint {ckpt.path.name}: {problem}")
    return None


def rotate(run_dir: Path, keep: int) -> list[Path]:
    """Delete the oldest checkpoints beyond `keep`; called only after a new one is complete."""
    ckpts = listed(run_dir)
    doomed = [c.path for c in ckpts[:-keep]] if keep > 0 else []
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def check_compatible(ckpt: Path, cfg: RunConfig) -> None:
    saved = RunConfig.load(ckpt / "run.toml")
    diffs = [f"{f}: checkpoint has {getattr(saved, f)!r}, config has {getattr(cfg, f)!r}"
             for f in SHAPE_FIELDS if getattr(saved, f) != getattr(cfg, f)]
    if diffs:
        raise ConfigError(f"{ckpt}: cannot resume, the checkpoint was trained with a different setup:\n  "
                          + "\n  ".join(diffs) + "\nstart a new run (-o NEW_DIR) instead")
