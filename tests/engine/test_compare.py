"""Compare runs: one row per run, loss curves, the CLI table."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from loop_fixtures import tiny_full_run, tiny_run  # noqa: E402,F401 - session fixtures

from tuneui.contract.runs import table_rows
from tuneui.runs import compare_runs, run_row


def test_rows_read_settings_losses_metric_and_forgetting(tiny_run, tmp_path):
    run = tmp_path / "runs" / "a"
    shutil.copytree(tiny_run, run)
    report = json.loads((run / "report.json").read_text())
    report.update(task_metric={"name": "exact_match", "base": 0.1, "tuned": 0.8, "n": 10},
                  forgetting={"ratio": 1.2, "level": "mild", "verdict": "mild forgetting"})
    (run / "report.json").write_text(json.dumps(report))
    row = run_row(run)
    assert row.technique == "lora" and row.lora_r == 8 and row.learning_rate == 1e-4
    assert row.status == "finished" and row.steps == 2 and len(row.curve) == 2
    assert (row.metric_base, row.metric_tuned, row.forgetting_level) == (0.1, 0.8, "mild")
    cells = table_rows([row])[0]
    assert "10.0%→80.0%" in cells and "mild (1.20x)" in cells


def test_a_folder_of_runs_and_a_broken_run_both_list(tiny_run, tiny_full_run, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(tiny_run, root / "lora")
    shutil.copytree(tiny_full_run, root / "full")
    (root / "broken").mkdir()
    (root / "broken" / "run.toml").write_text("not = [toml")
    rows = compare_runs([root])
    assert {r.name for r in rows} == {"lora", "full", "broken"}
    assert next(r for r in rows if r.name == "full").lora_r is None  # rank means nothing for freeze
    from tuneui.cli import main

    assert main(["evaluate", "--compare", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and len(out["runs"]) == 3 and "curve" not in out["runs"][0]
    assert main(["evaluate", "--compare", str(tmp_path / "empty")]) == 0
    assert "no runs found" in capsys.readouterr().out


def test_a_custom_output_folder_is_where_runs_are_listed_and_compared(tiny_run, tmp_path, monkeypatch):
    """New runs go to the user's output_dir setting; the runs list and compare read the same folder."""
    from tuneui.contract.config import RunConfig
    from tuneui.contract.settings import runs_root, update_settings
    from tuneui.runs import list_runs
    from tuneui.training.launch import default_run_dir

    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "home"))
    mine = tmp_path / "my-runs"
    update_settings(output_dir=str(mine))
    assert runs_root() == mine
    target = default_run_dir(RunConfig(name="mine"))
    assert target == mine / "mine"
    shutil.copytree(tiny_run, target)
    assert [r.name for r in list_runs()] == ["mine"]
    assert [r.name for r in compare_runs()] == ["mine"]
