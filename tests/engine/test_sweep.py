"""Sweep: the trial grid, ranking by validation loss on a shared data slice, applying the best,
stopping, and one real trial through the CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tuneui.contract import events as events_mod
from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import EventWriter
from tuneui.sweep import apply_best, default_grid, load_sweep, plan_trials, run_sweep


def write_data(path: Path, n: int = 40) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"What is the last word of: red cat {i} blue"},
                          {"role": "assistant", "content": "blue"}]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_default_grid_spreads_lr_and_rank_and_keeps_alpha_over_r(tmp_path):
    cfg = RunConfig(technique="lora", learning_rate=3e-4, lora_r=16, lora_alpha=32)
    grid = default_grid(cfg)
    assert grid == {"learning_rate": [1e-4, 3e-4, 9e-4], "lora_r": [8, 32]}
    trials = plan_trials(cfg)
    assert len(trials) == 6
    for t in trials:
        assert t.overrides["lora_alpha"] / t.overrides["lora_r"] == 2.0
    few = plan_trials(cfg, max_trials=3)
    assert len(few) == 3 and len({t.overrides["learning_rate"] for t in few}) >= 2  # not one corner


def test_full_fine_tunes_sweep_the_learning_rate_only():
    cfg = RunConfig(technique="full", learning_rate=1e-3)
    assert set(default_grid(cfg)) == {"learning_rate"}
    with pytest.raises(ConfigError, match="only applies to LoRA"):
        plan_trials(cfg, {"lora_r": [8]})
    with pytest.raises(ConfigError, match="unknown setting"):
        plan_trials(cfg, {"nonsense": [1]})


class FakeHandle:
    """Writes the events a finished run would, with a val loss that depends on the settings."""

    def __init__(self, cfg: RunConfig, run_dir: Path, started: list):
        started.append(cfg)
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "run.toml")
        loss = abs(cfg.learning_rate - 2e-4) * 1000 + 1.0 + (0.1 if cfg.lora_r == 8 else 0.0)
        ev = EventWriter(run_dir)
        ev.emit(events_mod.Started(step=0, technique=cfg.technique))
        ev.emit(events_mod.Finished(step=cfg.max_steps, train_loss=loss + 0.05, eval_loss=loss))

    def wait(self, timeout=None):
        return 0

    def stop(self):
        pass


def test_trials_share_one_slice_are_ranked_and_the_best_is_applied(tmp_path):
    cfg = RunConfig(name="s", dataset=str(write_data(tmp_path / "d.jsonl")), technique="lora",
                    learning_rate=2e-4, lora_r=16, lora_alpha=32, val_fraction=0.25)
    started: list[RunConfig] = []
    updates = []
    result = run_sweep(cfg, tmp_path / "sweep", steps=5, max_train=12, max_val=4,
                       start=lambda c, d: FakeHandle(c, d, started), on_update=lambda r: updates.append(1))
    assert len(started) == 6 and len(updates) >= 13
    assert {c.dataset for c in started} == {str(tmp_path / "sweep" / "slice_train.jsonl")}
    assert all(c.max_steps == 5 and c.clean is False and c.eval_max_examples == 0 for c in started)
    assert len((tmp_path / "sweep" / "slice_train.jsonl").read_text().splitlines()) == 12
    assert len((tmp_path / "sweep" / "slice_val.jsonl").read_text().splitlines()) <= 4
    best = result.best
    assert best.overrides["learning_rate"] == 2e-4 and best.overrides["lora_r"] == 32 and best.rank == 1
    assert [t.val_loss for t in result.ranked] == sorted(t.val_loss for t in result.ranked)
    applied = apply_best(cfg, result)
    assert (applied.learning_rate, applied.lora_r, applied.lora_alpha) == (2e-4, 32, 64.0)
    assert applied.max_steps == cfg.max_steps and applied.dataset == cfg.dataset  # the full run, not the slice
    saved = load_sweep(tmp_path / "sweep")
    assert saved.best.index == best.index


def test_stop_skips_the_remaining_trials(tmp_path):
    cfg = RunConfig(name="s", dataset=str(write_data(tmp_path / "d.jsonl")), technique="full",
                    learning_rate=1e-3)
    stop = threading.Event()
    started: list = []

    def start(c, d):
        stop.set()  # the user presses Stop during the first trial
        return FakeHandle(c, d, started)

    result = run_sweep(cfg, tmp_path / "sweep", steps=2, start=start, stop=stop)
    assert len(started) == 1
    assert [t.status for t in result.trials] == ["finished", "stopped", "stopped"]


def test_cli_runs_a_real_trial_and_writes_the_applied_config(tmp_path, demo_model_dir, capsys):
    from tuneui.cli import main

    cfg = RunConfig(name="cli", model=str(demo_model_dir), dataset=str(write_data(tmp_path / "d.jsonl", 24)),
                    technique="lora", lora_r=4, lora_alpha=8, max_seq_length=64, micro_batch_size=4,
                    val_fraction=0.25)
    toml = cfg.save(tmp_path / "run.toml")
    before = toml.read_text()
    code = main(["sweep", str(toml), "-o", str(tmp_path / "sw"), "--lr", "1e-3", "--rank", "4", "--steps", "2",
                 "--max-examples", "8", "--apply", str(tmp_path / "best.toml"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    (trial,) = out["trials"]
    assert trial["status"] == "finished" and trial["val_loss"] > 0 and out["best"]["index"] == 1
    assert RunConfig.load(tmp_path / "best.toml").learning_rate == 1e-3
    assert toml.read_text() == before  # the user's file is never modified
    assert main(["sweep", str(toml), "--lr", "fast"]) == 2
    assert "--lr: expected comma-separated numbers" in capsys.readouterr().err
