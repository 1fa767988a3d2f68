"""`tuneui train` end to end: exit codes, run directory contents, events, report, launch API."""

from __future__ import annotations

import json

from safetensors.torch import load_file

from tests.engine.runs import tiny_config
from tuneui.contract.config import RunConfig
from tuneui.contract.events import TERMINAL_TYPES, read_events
from tuneui.runs import list_runs
from tuneui.training.launch import attach, start_run

KNOWN_TYPES = {"started", "preparing", "step", "eval", "checkpoint", "warning", "finished", "failed", "stopped"}


def test_train_toml_writes_a_complete_run_directory(tmp_path, run_cli):
    toml = tiny_config(tmp_path / "d", max_steps=3, eval_steps=2, save_steps=2, eval_max_examples=4).save(
        tmp_path / "RUN.toml")
    run = tmp_path / "run"
    out = run_cli("train", toml, "-o", run, "--set", "lora_r=4")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "exact_match on 4 held-out examples" in out.stdout
    assert RunConfig.load(run).lora_r == 4  # run.toml holds the overrides too
    events = read_events(run)
    assert {e.type for e in events} <= KNOWN_TYPES
    assert all(isinstance(e.time, float) and isinstance(e.step, int) for e in events)
    assert events[0].type == "started" and events[-1].type == "finished"
    # The periodic validation at step 2, then the base's step-0 point, measured after training
    assert [(e.step, e.base) for e in events if e.type == "eval"] == [(2, False), (0, True)]
    steps = [e for e in events if e.type == "step"]
    assert all({"loss", "lr", "grad_norm", "tokens_per_s", "mem_bytes"} <= e.model_fields_set for e in steps)
    report = json.loads((run / "report.json").read_text())
    assert set(report["task_metric"]) >= {"name", "base", "tuned"} and report["task_metric"]["n"] == 4
    assert set(report["eval_loss"]) == {"base", "tuned"}
    assert report["eval_loss"]["tuned"] < report["eval_loss"]["base"]
    assert load_file(run / "adapter" / "adapter_model.safetensors")
    assert (run / "data" / "train.parquet").exists() and (run / "data" / "val.parquet").exists()


def test_module_entry_point_is_the_same_command(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "tuneui.training", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--resume" in out.stdout and "--set" in out.stdout


def test_bad_config_exits_2_with_one_line_per_field_and_no_traceback(tmp_path, run_cli):
    bad = tmp_path / "bad.toml"
    bad.write_text('technique = "lora"\nlearning_rate = 5\nlora_r = 0\n')
    out = run_cli("train", bad)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "learning_rate:" in out.stderr and "lora_r:" in out.stderr and "2 invalid fields" in out.stderr


def test_missing_dataset_file_is_named(tmp_path, run_cli):
    toml = tiny_config(tmp_path / "d", dataset=str(tmp_path / "nope.jsonl")).save(tmp_path / "r.toml")
    out = run_cli("train", toml, "-o", tmp_path / "run")
    assert out.returncode == 2 and "nope.jsonl" in out.stderr and "Traceback" not in out.stderr
    assert read_events(tmp_path / "run")[-1].type == "failed"


def test_existing_run_dir_needs_resume_or_new_output(tmp_path, run_cli):
    run = tmp_path / "run"
    run.mkdir()
    tiny_config(tmp_path / "d").save(run / "run.toml")
    (run / "events.jsonl").write_text('{"type": "started", "time": 1.0, "step": 0}\n')
    out = run_cli("train", run)
    assert out.returncode == 2 and "--resume" in out.stderr


def test_launch_api_runs_in_its_own_process_and_can_be_reattached(tmp_path):
    cfg = tiny_config(tmp_path / "d", max_steps=2, name="api")
    handle = start_run(cfg, tmp_path / "runs" / "api")
    follower = handle.follower()
    seen = list(follower.follow(interval=0.1, is_alive=handle.is_alive))
    assert handle.wait(timeout=600) == 0
    assert seen[0].type == "started" and seen[-1].type in TERMINAL_TYPES
    again = attach(handle.run_dir)
    assert again.poll() == 0 and not again.is_alive() and again.events()[-1].type == "finished"
    runs = list_runs(tmp_path / "runs")
    assert [r.name for r in runs] == ["api"] and runs[0].status == "finished" and runs[0].technique == "lora"
    assert "api" in (handle.run_dir / "run.toml").read_text()


def test_new_runs_go_to_the_output_dir_setting(tmp_path):
    import argparse

    from tuneui.contract.settings import update_settings
    from tuneui.training.cli_args import resolve

    update_settings(output_dir=str(tmp_path / "my-runs"))
    toml = tiny_config(tmp_path / "d", name="placed").save(tmp_path / "r.toml")
    args = argparse.Namespace(target=str(toml), demo=False, resume=False, output=None, overrides=[])
    _, run_dir = resolve(args)
    assert run_dir == tmp_path / "my-runs" / "placed"
