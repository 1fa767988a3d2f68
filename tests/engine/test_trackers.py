"""Trackers: the HF Trainer trains a tiny model a few steps with report_to set by tracker_setup, and the
logged losses are read back with each library's own reader (TensorBoard's EventAccumulator, MLflow's
client), together with the run config, cleaning report and report.json tuneui adds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tuneui.contract.errors import ConfigError
from tuneui.trackers import (
    TRACKERS,
    installed,
    log_run_end,
    log_run_start,
    tracker_setup,
)

STEPS = 5


def _run_dir(tmp_path):
    from tuneui.contract.config import RunConfig

    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    RunConfig(name="tracked", max_steps=STEPS).save(run / "run.toml")
    (run / "data" / "data_report.json").write_text(json.dumps({"rows_in": 12, "rows_out": 10}))
    return run


def _train(plan, run_dir) -> list[float]:
    """A few real optimizer steps of a tiny Llama with the Trainer; returns the losses it logged."""
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    rows = [{"input_ids": list(range(i, i + 16)), "labels": list(range(i, i + 16))} for i in range(8)]
    args = TrainingArguments(output_dir=str(run_dir / "trainer"), max_steps=STEPS, logging_steps=1,
                             per_device_train_batch_size=2, learning_rate=1e-2, use_cpu=True, save_strategy="no",
                             disable_tqdm=True, report_to=plan.report_to, run_name=plan.run_name,
                             project=plan.project)
    trainer = Trainer(model=model, args=args, train_dataset=rows)
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def _applied(tmp_path, monkeypatch, tracker: str):
    """A run directory and the tracker's plan, its environment set as the runner sets it."""
    run = _run_dir(tmp_path)
    plan = tracker_setup([tracker], run, run_name="tracked")
    for k, v in plan.env.items():
        monkeypatch.setenv(k, v)
    return run, plan


def _finish(run_dir, losses):
    (run_dir / "report.json").write_text(json.dumps(
        {"eval_loss": {"base": losses[0], "tuned": losses[-1]}, "steps": len(losses)}))


def test_tensorboard_event_files_hold_the_losses_and_reports(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, plan = _applied(tmp_path, monkeypatch, "tensorboard")
    log_run_start(plan, run)
    losses = _train(plan, run)
    _finish(run, losses)
    log_run_end(plan, run)

    acc = EventAccumulator(str(run / "trackers" / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    logged = [e.value for e in acc.Scalars("train/loss")]
    assert len(logged) == STEPS == len(losses)
    assert logged == pytest.approx(losses, rel=1e-6)
    assert acc.Scalars("tuneui/eval_loss/tuned")[0].value == pytest.approx(losses[-1], rel=1e-6)
    texts = {t for t in acc.Tags()["tensors"]}
    assert {"tuneui/run/text_summary", "tuneui/data_report/text_summary", "tuneui/report/text_summary"} <= texts


def test_mlflow_file_store_run_holds_losses_params_and_artifacts(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    run, plan = _applied(tmp_path, monkeypatch, "mlflow")
    log_run_start(plan, run)
    losses = _train(plan, run)
    _finish(run, losses)
    log_run_end(plan, run)

    assert plan.env["MLFLOW_TRACKING_URI"].startswith(("file:", "sqlite:"))
    client = MlflowClient(tracking_uri=plan.env["MLFLOW_TRACKING_URI"])
    run_id = plan.env["MLFLOW_RUN_ID"]
    history = sorted(client.get_metric_history(run_id, "loss"), key=lambda m: m.step)
    assert [m.step for m in history] == list(range(1, STEPS + 1))
    assert [m.value for m in history] == pytest.approx(losses, rel=1e-6)
    data = client.get_run(run_id).data
    assert data.params["learning_rate"] == "0.01"
    assert data.metrics["tuneui/eval_loss/tuned"] == pytest.approx(losses[-1], rel=1e-6)
    artifacts = {a.path for a in client.list_artifacts(run_id, "tuneui")}
    assert artifacts == {"tuneui/run.toml", "tuneui/data_report.json", "tuneui/report.json"}
    assert client.get_run(run_id).info.run_name == "tracked"


@pytest.mark.skipif(not {"wandb", "trackio"} <= set(installed()), reason="wandb and trackio not installed")
def test_wandb_offline_and_trackio_local_write_inside_the_run_dir(tmp_path, monkeypatch):
    # trackio reads TRACKIO_DIR once, when it is first imported: nothing may import it before the plan
    # applies. A training run is always a fresh process; in a test session another test (or a library
    # probing what is installed) may have imported it already, so this test then runs alone in a fresh
    # interpreter, as training does.
    if "trackio" in sys.modules and not os.environ.get("TUNEUI_TEST_FRESH_PROCESS"):
        here = Path(__file__)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"{here}::test_wandb_offline_and_trackio_local_write_inside_the_run_dir"],
            cwd=here.parents[2], env={**os.environ, "TUNEUI_TEST_FRESH_PROCESS": "1"},
            capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "1 passed" in proc.stdout
        return
    assert "trackio" not in sys.modules
    run = _run_dir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    plan = tracker_setup(["wandb", "trackio"], run, run_name="tracked")
    assert plan.env["WANDB_MODE"] == "offline"
    for k, v in plan.env.items():
        monkeypatch.setenv(k, v)
    log_run_start(plan, run)
    losses = _train(plan, run)
    _finish(run, losses)
    log_run_end(plan, run)
    offline = list((run / "trackers" / "wandb").glob(f"offline-run-*-{plan.env['WANDB_RUN_ID']}"))
    assert offline, "no offline W&B run with the planned id"
    assert any((run / "trackers" / "trackio").rglob("*.db"))


def test_unknown_or_missing_trackers_are_config_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown tracker 'neptune'"):
        tracker_setup(["neptune"], tmp_path, run_name="r")
    missing = [t for t in TRACKERS if t not in installed()]
    if missing:
        with pytest.raises(ConfigError, match=rf'pip install "tuneui\[{missing[0]}\]"'):
            tracker_setup([missing[0]], tmp_path, run_name="r")
    plan = tracker_setup([], tmp_path, run_name="r")
    assert plan.report_to == [] and plan.env == {}


def test_a_preference_reports_base_and_tuned_figures_are_metrics(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, plan = _applied(tmp_path, monkeypatch, "tensorboard")
    (run / "report.json").write_text(json.dumps({"eval_loss": {"base": None, "tuned": None}, "objective": "dpo",
                                                 "preference": {"base": {"pairs": 4, "accuracy": 0.5},
                                                                "tuned": {"pairs": 4, "accuracy": 0.75}}}))
    log_run_end(plan, run)
    acc = EventAccumulator(str(run / "trackers" / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    assert acc.Scalars("tuneui/preference/base/accuracy")[0].value == 0.5
    assert acc.Scalars("tuneui/preference/tuned/accuracy")[0].value == 0.75
