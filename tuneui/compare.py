"""Compare past runs: one row per run (technique, key settings, losses, task metric, forgetting, time)
and each run's loss curve, for overlaying. Reads only run.toml, events.jsonl and report.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tuneui.training.events import read_events


@dataclass
class RunRow:
    name: str
    run_dir: str
    status: str
    technique: str | None = None
    learning_rate: float | None = None
    lora_r: int | None = None
    epochs: float | None = None
    max_steps: int | None = None
    steps: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    metric_name: str | None = None
    metric_base: float | None = None
    metric_tuned: float | None = None
    forgetting_ratio: float | None = None
    forgetting_level: str | None = None
    seconds: float | None = None
    started: float | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)

    def to_dict(self, curve: bool = False) -> dict:
        d = asdict(self)
        if not curve:
            d.pop("curve")
        return d


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def run_row(run_dir: str | Path) -> RunRow:
    from tuneui.training.config import RunConfig
    from tuneui.training.events import run_status

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
    row.curve = [(int(e["step"]), float(e["loss"])) for e in events
                 if e["type"] == "step" and _num(e.get("loss")) is not None]
    started = next((e for e in events if e["type"] == "started"), None)
    end = next((e for e in reversed(events) if e["type"] in ("finished", "failed", "stopped")), None)
    if started:
        row.started = started["time"]
        row.technique = row.technique or started.get("technique")
    if end:
        row.steps = end.get("step")
        if started:
            row.seconds = round(end["time"] - started["time"], 1)
        row.train_loss = _num(end.get("train_loss"))
        row.val_loss = _num(end.get("eval_loss"))
    if row.curve:  # a run still going (or killed) shows where it got to
        row.steps = row.steps if row.steps is not None else row.curve[-1][0]
        row.train_loss = row.train_loss if row.train_loss is not None else row.curve[-1][1]
    try:
        report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    if report:
        tm = report.get("task_metric") or {}
        row.metric_name, row.metric_base, row.metric_tuned = tm.get("name"), _num(tm.get("base")), _num(tm.get("tuned"))
        row.val_loss = _num((report.get("eval_loss") or {}).get("tuned")) if row.val_loss is None else row.val_loss
        row.train_loss = _num(report.get("train_loss")) or row.train_loss
        row.seconds = _num(report.get("wall_time_s")) or row.seconds
        fg = report.get("forgetting") or {}
        row.forgetting_ratio, row.forgetting_level = _num(fg.get("ratio")), fg.get("level")
    return row


def compare_runs(paths: list[str | Path] | None = None, root: str | Path | None = None) -> list[RunRow]:
    """Rows for the given run directories, or every run under root (default: the runs folder),
    newest first. A sweep folder contributes its trials."""
    if not paths:
        from tuneui.paths import runs_dir

        root = Path(root) if root else runs_dir()
        paths = sorted(root.iterdir()) if root.is_dir() else []
    dirs: list[Path] = []
    for p in map(Path, paths):
        if (p / "run.toml").exists():
            dirs.append(p)
        elif p.is_dir():
            dirs += sorted(d for d in p.iterdir() if (d / "run.toml").exists())
    rows = [run_row(d) for d in dirs]
    return sorted(rows, key=lambda r: r.started or 0, reverse=True)


def fmt(x, kind: str = "num") -> str:
    if x is None:
        return "—"
    if kind == "pct":
        return f"{100 * x:.1f}%"
    if kind == "sci":
        return f"{x:.1e}"
    if kind == "time":
        return f"{x / 60:.1f}m" if x >= 90 else f"{x:.0f}s"
    return f"{x:.3f}"


COLUMNS = ("run", "technique", "lr", "rank", "steps", "train loss", "val loss", "task base→tuned",
           "forgetting", "time")


def table_rows(rows: list[RunRow]) -> list[tuple[str, ...]]:
    out = []
    for r in rows:
        metric = "—" if r.metric_tuned is None else f"{fmt(r.metric_base, 'pct')}→{fmt(r.metric_tuned, 'pct')}"
        forgetting = "—" if r.forgetting_ratio is None else f"{r.forgetting_level} ({r.forgetting_ratio:.2f}x)"
        out.append((r.name, r.technique or "—", fmt(r.learning_rate, "sci"), str(r.lora_r or "—"),
                    str(r.steps if r.steps is not None else "—"), fmt(r.train_loss), fmt(r.val_loss), metric,
                    forgetting, fmt(r.seconds, "time")))
    return out
