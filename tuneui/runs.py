"""The runs folder: the runs list (Welcome's recent runs) and the comparison (one row per run with
its key settings, losses, task metric, forgetting, time and loss curve, for overlaying).

Reads only run.toml, events.jsonl and report.json, and finds runs where new runs go
(`tuneui.contract.settings.runs_root`, the user's output folder), so every list sees every run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from tuneui.contract import events as ev
from tuneui.contract.config import RunConfig
from tuneui.contract.evaluation import read_report
from tuneui.contract.events import read_events, run_status
from tuneui.contract.rundir import is_run_dir
from tuneui.contract.runs import RunRow, RunSummary
from tuneui.contract.settings import runs_root


def _num(x: float | None) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def run_row(run_dir: str | Path) -> RunRow:
    run_dir = Path(run_dir)
    row = RunRow(name=run_dir.name, run_dir=str(run_dir), status=run_status(run_dir))
    try:
        cfg = RunConfig.load(run_dir)
    except Exception:  # noqa: BLE001 - a broken run.toml still gets a row, with blanks
        cfg = None
    if cfg is not None:
        row.technique, row.learning_rate, row.epochs, row.max_steps = (cfg.technique, cfg.learning_rate,
                                                                         cfg.epochs, cfg.max_steps)
        row.lora_r = cfg.lora_r if cfg.uses_peft else None
    events = read_events(run_dir)
    row.curve = [(e.step, e.loss) for e in events if isinstance(e, ev.Step) and e.loss is not None and math.isfinite(e.loss)]
    started = next((e for e in events if e.type == "started"), None)
    end = next((e for e in reversed(events) if e.terminal), None)
    if started is not None:
        row.started = started.time
        row.technique = row.technique or started.technique
    if end is not None:
        row.steps = end.step
        if started is not None:
            row.seconds = round(end.time - started.time, 1)
        if end.type == "finished":
            row.train_loss = _num(end.train_loss)
            row.val_loss = _num(end.eval_loss)
    if row.curve:  # a run still going (or killed) shows where it got to
        row.steps = row.steps if row.steps is not None else row.curve[-1][0]
        row.train_loss = row.train_loss if row.train_loss is not None else row.curve[-1][1]
    report = read_report(run_dir)
    if report is not None:
        tm = report.task_metric
        row.metric_name, row.metric_base, row.metric_tuned = tm.name, _num(tm.base), _num(tm.tuned)
        row.val_loss = _num(report.eval_loss.tuned) if row.val_loss is None else row.val_loss
        row.train_loss = _num(report.train_loss) or row.train_loss
        row.seconds = _num(report.wall_time_s) or row.seconds
        if report.forgetting is not None:
            row.forgetting_ratio, row.forgetting_level = _num(report.forgetting.ratio), report.forgetting.level
    return row


def compare_runs(paths: Sequence[str | Path] | None = None, root: str | Path | None = None) -> list[RunRow]:
    """Rows for the given run directories, or every run under root (default: the runs folder),
    newest first. A sweep folder contributes its trials."""
    if not paths:
        root = Path(root) if root else runs_root()
        paths = sorted(root.iterdir()) if root.is_dir() else []
    dirs: list[Path] = []
    for p in map(Path, paths):
        if is_run_dir(p):
            dirs.append(p)
        elif p.is_dir():
            dirs += sorted(d for d in p.iterdir() if is_run_dir(d))
    rows = [run_row(d) for d in dirs]
    return sorted(rows, key=lambda r: r.started or 0, reverse=True)


def summarize(run_dir: Path) -> RunSummary:
    events = read_events(run_dir)
    started = next((e for e in events if e.type == "started"), None)
    steps = [e for e in events if e.type == "step"]
    return RunSummary(
        name=run_dir.name, run_dir=run_dir, status=run_status(run_dir),
        technique=started.technique if started else None,
        started=started.time if started else None,
        last_loss=steps[-1].loss if steps else None,
        step=events[-1].step if events else 0,
    )


def list_runs(root: str | Path | None = None) -> list[RunSummary]:
    """Runs in the runs folder (default: where new runs go), newest first."""
    root = Path(root) if root else runs_root()
    if not root.is_dir():
        return []
    runs = [summarize(d) for d in root.iterdir() if is_run_dir(d)]
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)
