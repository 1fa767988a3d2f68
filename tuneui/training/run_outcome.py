"""What a run's end says beyond its exit code: the advice after an out-of-memory, the one-line
summary the `finished` event carries, and the claim on the run directory that comes before it all."""

from __future__ import annotations

import os
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.runlock import RunLock


def oom_advice(cfg: RunConfig) -> str:
    from tuneui.training.fit_probe import step_down

    smaller = step_down(cfg)
    if smaller is None:
        return "this is already the smallest setup; use a GPU with more memory or a smaller model"
    changes = [f"{f} = {getattr(smaller, f)!r}" for f in RunConfig.model_fields
               if getattr(smaller, f) != getattr(cfg, f)]
    return "try the next smaller setup: " + ", ".join(changes) + " (then --resume, or start again)"


def claim(run_dir: Path, *, is_main: bool) -> RunLock | None:
    """Create the run directory and lock it for this process (the main rank owns the run)."""
    from tuneui.contract import runlock

    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError("the run directory is a file; choose another -o", source=str(run_dir))
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the run directory: {exc.strerror}", source=str(exc.filename or run_dir)
                          ) from None
    if not os.access(run_dir, os.W_OK):
        raise ConfigError("cannot write in the run directory (read-only); choose another -o", source=str(run_dir))
    if not is_main:
        return None
    return runlock.acquire(run_dir, "training", advice="wait for it to end, or stop it first "
                           "(`tuneui monitor` or `kill -INT PID`); a second trainer in one directory would "
                           "mix two runs")


def report_summary(report: dict) -> dict:
    return {k: report[k] for k in ("task_metric", "eval_loss", "perplexity", "token_f1", "forgetting", "preference")
            if k in report}
