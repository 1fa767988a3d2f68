"""report_to through tuneui's own runner: the losses in events.jsonl are the ones the trackers hold, read
back with TensorBoard's and MLflow's own readers, beside run.toml, the cleaning report and report.json."""

from __future__ import annotations

import json
import os

import pytest

from tests.engine.runs import step_losses, tiny_config
from tuneui.contract.events import read_events
from tuneui.trackers import installed
from tuneui.training.runner import run_training


@pytest.fixture
def restore_env():
    """The runner sets the trackers' environment variables in its own process (normally a subprocess)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.skipif("wandb" in installed(), reason="needs an environment without wandb")
def test_a_tracker_that_is_not_installed_fails_the_run_with_the_install_command(tmp_path, restore_env):
    cfg = tiny_config(tmp_path / "d", max_steps=2, report_to=["wandb"])
    run = tmp_path / "run"
    assert run_training(cfg, run) == 2
    failed = [e for e in read_events(run) if e.type == "failed"]
    assert failed and 'report_to: wandb is not installed; pip install "tuneui[wandb]"' in failed[0].reason
    assert cfg.model_dump() == type(cfg).load(run / "run.toml").model_dump()  # run.toml loads without the extra


@pytest.mark.skipif(not {"tensorboard", "mlflow"} <= set(installed()),
                    reason="needs the tensorboard and mlflow extras (pip install -e '.[trackers]')")
def test_tensorboard_and_mlflow_hold_the_runs_losses_and_reports(tmp_path, restore_env):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_config(tmp_path / "d", name="tracked", max_steps=4, report_to=["tensorboard", "mlflow"])
    run = tmp_path / "run"
    assert run_training(cfg, run) == 0
    losses = step_losses(read_events(run))
    ours = [losses[s] for s in sorted(losses)]
    assert len(ours) == 4

    acc = EventAccumulator(str(run / "trackers" / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    # the Trainer logs each step's loss rounded to 4 significant digits (transformers 5 log formatting)
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx(ours, rel=1e-3)
    texts = set(acc.Tags()["tensors"])
    assert {"tuneui/run/text_summary", "tuneui/data_report/text_summary", "tuneui/report/text_summary"} <= texts

    client = MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    run_id = json.loads((run / "trackers" / "ids.json").read_text())["mlflow"]  # mlflow unsets its env at the end
    history = sorted(client.get_metric_history(run_id, "loss"), key=lambda m: m.step)
    assert [m.value for m in history] == pytest.approx(ours, rel=1e-3)
    artifacts = {a.path for a in client.list_artifacts(run_id, "tuneui")}
    assert artifacts == {"tuneui/run.toml", "tuneui/data_report.json", "tuneui/report.json"}
    info = client.get_run(run_id)
    assert info.info.run_name == "tracked" and info.data.params["learning_rate"] == str(cfg.learning_rate)
    assert [e for e in read_events(run) if e.type == "warning" and "could not log" in e.reason] == []
