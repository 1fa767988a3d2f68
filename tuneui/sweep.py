"""A short hyperparameter search: a handful of short trials on a slice of the data.

Every trial trains on the same slice of the same cleaned split (prepared once, written as JSONL in
the sweep folder), for the same few steps, and is ranked by validation loss, so the trials differ
only in the settings searched. Each trial is an ordinary run directory (`trial-N/`), started as its
own process like any run, so `tuneui monitor` and Compare work on trials too. The best setting is
returned as overrides to apply to the full run.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.fsutil import atomic_write_text
from tuneui.contract.loop import SweepResult, Trial

SWEEP_FILE = "sweep.json"


def save(result: SweepResult) -> None:
    """Rank the finished trials and write sweep.json (atomically: a reader never sees half of it)."""
    for i, t in enumerate(result.ranked, 1):
        t.rank = i
    atomic_write_text(result.out_dir / SWEEP_FILE, json.dumps(result.to_dict(), indent=2))


def default_grid(cfg: RunConfig) -> dict[str, list]:
    """Learning rate around the configured one (x1/3, x1, x3); LoRA rank around it for adapters."""
    lr = cfg.learning_rate
    grid: dict[str, list] = {"learning_rate": sorted({_round(lr / 3), _round(lr), _round(min(lr * 3, 0.5))})}
    if cfg.uses_peft:
        grid["lora_r"] = sorted({max(1, cfg.lora_r // 2), cfg.lora_r * 2})
    return grid


def _round(x: float) -> float:
    return float(f"{x:.2g}")


def plan_trials(cfg: RunConfig, grid: dict[str, list] | None = None, max_trials: int = 6) -> list[Trial]:
    """The grid's combinations, at most max_trials of them (spread over the grid, not its first corner)."""
    grid = grid or default_grid(cfg)
    for key in grid:
        if key not in RunConfig.model_fields:
            raise ConfigError(f"sweep: unknown setting {key!r}")
        if key.startswith("lora_") and not cfg.uses_peft:
            raise ConfigError(f"sweep: {key} only applies to LoRA techniques (this run uses {cfg.technique})")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if len(combos) > max_trials:
        step = len(combos) / max_trials
        combos = [combos[int(i * step)] for i in range(max_trials)]
    trials = []
    for i, combo in enumerate(combos, 1):
        if "lora_r" in combo and "lora_alpha" not in combo:
            # Keep alpha/r fixed so a rank change does not also change the effective learning rate.
            combo["lora_alpha"] = float(cfg.lora_alpha * combo["lora_r"] / cfg.lora_r)
        trials.append(Trial(index=i, overrides=combo))
    return trials


def prepare_slice(cfg: RunConfig, out_dir: Path, max_train: int, max_val: int) -> dict:
    """Load, clean and split once; write the slice every trial uses. Returns RunConfig updates."""
    from tuneui.training.dataset import prepare_run_data

    data = prepare_run_data(cfg, out_dir)  # writes out_dir/data/ (the full split, for reference)
    files = {}
    for name, rows, tools, n in (("train", data.train, data.train_tools, max_train),
                                 ("val", data.val, data.val_tools, max_val)):
        path = out_dir / f"slice_{name}.jsonl"
        atomic_write_text(path, "".join(json.dumps({"messages": c, **({"tools": t} if t else {})}, ensure_ascii=False)
                                        + "\n" for c, t in zip(rows[:n], tools[:n])))
        files[name] = str(path)
    updates = {"dataset": files["train"], "dataset_format": "messages", "columns": {}, "clean": False}
    if data.val:
        updates["val_dataset"] = files["val"]
    return updates


def trial_config(cfg: RunConfig, trial: Trial, data_updates: dict, steps: int) -> RunConfig:
    fixed = {"name": f"{cfg.name}-trial-{trial.index}", "max_steps": steps, "eval_steps": 0, "save_steps": 0,
             "eval_max_examples": 0, "output_dir": None, "logging_steps": max(1, min(cfg.logging_steps, steps // 5))}
    return RunConfig.from_dict({**cfg.model_dump(), **data_updates, **fixed, **trial.overrides}, source="sweep")


def _outcome(run_dir: Path) -> tuple[float | None, float | None]:
    from tuneui.contract.events import read_events

    for event in reversed(read_events(run_dir)):
        if event.type == "finished":
            return event.eval_loss, event.train_loss
    return None, None


def run_sweep(cfg: RunConfig, out_dir: str | Path, *, trials: list[Trial] | None = None, steps: int = 30,
              max_train: int = 400, max_val: int = 64, on_update: Callable[[SweepResult], None] | None = None,
              stop: threading.Event | None = None, start=None) -> SweepResult:
    """Run the trials one after another; `on_update` is called after every change of state.

    `start(cfg, run_dir)` launches one trial and returns a handle with wait()/stop() (default:
    tuneui.training.launch.start_run, a separate process)."""
    if steps < 1:
        raise ConfigError("sweep: steps must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(out_dir / "base.toml")
    result = SweepResult(out_dir=out_dir, trials=trials if trials is not None else plan_trials(cfg))
    data_updates = prepare_slice(cfg, out_dir, max_train, max_val)
    if start is None:
        from tuneui.training.launch import start_run as start
    notify = on_update or (lambda r: None)
    save(result)
    notify(result)
    for trial in result.trials:
        if stop is not None and stop.is_set():
            trial.status = "stopped"
            continue
        run_dir = out_dir / f"trial-{trial.index}"
        trial.run_dir, trial.status = str(run_dir), "running"
        notify(result)
        began = time.monotonic()
        handle = start(trial_config(cfg, trial, data_updates, steps), run_dir)
        code = _wait(handle, stop)
        trial.seconds = round(time.monotonic() - began, 1)
        trial.val_loss, trial.train_loss = _outcome(run_dir)
        trial.status = {0: "finished", 130: "stopped"}.get(code, "failed")
        save(result)
        notify(result)
    return result


def _wait(handle, stop: threading.Event | None) -> int:
    if stop is None:
        return int(handle.wait() or 0)
    asked = False
    while True:
        try:
            code = handle.wait(timeout=0.5)
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: still running
            code = None
        if code is not None:
            return int(code)
        if stop.is_set() and not asked:
            handle.stop()  # once: the trial checkpoints and exits 130
            asked = True


def best_overrides(result: SweepResult) -> dict:
    """The winning trial's settings, to apply to the full run (empty when no trial finished)."""
    best = result.best
    return dict(best.overrides) if best else {}


def apply_best(cfg: RunConfig, result: SweepResult) -> RunConfig:
    return RunConfig.from_dict({**cfg.model_dump(), **best_overrides(result)}, source="sweep")


def load_sweep(out_dir: str | Path) -> SweepResult:
    data = json.loads((Path(out_dir) / SWEEP_FILE).read_text(encoding="utf-8"))
    trials = [Trial(**t) for t in data["trials"]]
    return SweepResult(out_dir=Path(out_dir), trials=trials)
