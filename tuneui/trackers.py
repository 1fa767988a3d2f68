"""Experiment trackers through the Trainer's own `report_to` integrations, kept offline and in the run dir.

Each tracker is an optional extra. `tracker_setup` turns the RunConfig's choice into the Trainer's
`report_to` list plus the environment variables its callbacks read (they read them when the Trainer
is built, so the runner applies them before that). Everything is written under RUN_DIR/trackers/:

  tensorboard  trackers/tensorboard/   event files (TENSORBOARD_LOGGING_DIR)
  mlflow       trackers/mlflow.db       SQLite store when SQLAlchemy is installed (full `mlflow`),
               or trackers/mlruns/     else the file store (mlflow-skinny), which MLflow 3
               + trackers/mlartifacts/
                                       keeps in maintenance mode and refuses without MLFLOW_ALLOW_FILE_STORE.
                                       The run is created here first and handed to the callback with
                                       MLFLOW_RUN_ID, so config, cleaning report and report.json join it
  wandb        trackers/wandb/         offline unless the user already set WANDB_MODE (WANDB_DIR);
                                       a fixed WANDB_RUN_ID lets the final report join the run
  trackio      trackers/trackio/       trackio's local SQLite store (TRACKIO_DIR, read once when trackio
                                       is first imported: apply the plan before anything imports it)

The run's config, cleaning report and final report.json go to every chosen tracker beside the
losses the Trainer logs (log_run_start / log_run_end).
"""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tuneui.contract.config import TRACKERS
from tuneui.contract.errors import ConfigError
from tuneui.contract.rundir import TRACKERS_DIR

PROJECT = "tuneui"  # the experiment / project name every tracker files tuneui's runs under
_MODULE = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",),
           "trackio": ("trackio",)}


def installed() -> list[str]:
    """Trackers whose library is importable here (the wizard offers these)."""
    return [t for t in TRACKERS if any(importlib.util.find_spec(m) for m in _MODULE[t])]


def install_hint(tracker: str) -> str:
    return f'pip install "tuneui[{tracker}]"'


@dataclass
class TrackerPlan:
    report_to: list[str]
    env: dict[str, str]
    run_name: str
    project: str
    dirs: dict[str, Path] = field(default_factory=dict)

    def apply(self) -> None:
        os.environ.update(self.env)


def tracker_setup(report_to: list[str], run_dir: str | Path, *, run_name: str, project: str = PROJECT,
                  resume: bool = False) -> TrackerPlan:
    unknown = [t for t in report_to if t not in TRACKERS]
    if unknown:
        raise ConfigError(f"report_to: unknown tracker {unknown[0]!r} (choose from {', '.join(TRACKERS)})")
    have = installed()
    missing = [t for t in report_to if t not in have]
    if missing:
        raise ConfigError(f"report_to: {missing[0]} is not installed; {install_hint(missing[0])}")
    root = Path(run_dir).resolve() / TRACKERS_DIR
    plan = TrackerPlan(report_to=list(dict.fromkeys(report_to)), env={}, run_name=run_name, project=project)
    ids_file = root / "ids.json"
    ids = json.loads(ids_file.read_text()) if resume and ids_file.exists() else {}
    if "tensorboard" in report_to:
        plan.dirs["tensorboard"] = root / "tensorboard"
        plan.env["TENSORBOARD_LOGGING_DIR"] = str(plan.dirs["tensorboard"])
    if "mlflow" in report_to:
        # artifacts beside the store: the file store would read a folder of its own as a broken experiment
        plan.dirs["mlflow"] = root / "mlartifacts"
        if importlib.util.find_spec("sqlalchemy") and importlib.util.find_spec("alembic"):
            plan.env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        else:
            plan.dirs["mlflow_store"] = root / "mlruns"
            plan.env["MLFLOW_TRACKING_URI"] = plan.dirs["mlflow_store"].as_uri()
            plan.env["MLFLOW_ALLOW_FILE_STORE"] = "true"
        plan.env["MLFLOW_EXPERIMENT_NAME"] = project
        plan.env["MLFLOW_FLATTEN_PARAMS"] = "TRUE"
        ids.setdefault("mlflow", _new_mlflow_run(plan))
        plan.env["MLFLOW_RUN_ID"] = ids["mlflow"]
    if "wandb" in report_to:
        plan.dirs["wandb"] = root  # wandb makes its own wandb/ folder inside WANDB_DIR
        plan.env.update(WANDB_DIR=str(root), WANDB_PROJECT=project, WANDB_MODE=os.environ.get("WANDB_MODE", "offline"),
                        WANDB_RESUME="allow", WANDB_RUN_ID=ids.setdefault("wandb", uuid.uuid4().hex[:12]))
    if "trackio" in report_to:
        plan.dirs["trackio"] = root / "trackio"
        plan.env["TRACKIO_DIR"] = str(plan.dirs["trackio"])
    for d in plan.dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    if ids:
        root.mkdir(parents=True, exist_ok=True)
        ids_file.write_text(json.dumps(ids))
    return plan


def _mlflow_client(plan: TrackerPlan):
    from mlflow.tracking import MlflowClient

    if "MLFLOW_ALLOW_FILE_STORE" in plan.env:  # read by the store when the client opens it
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = plan.env["MLFLOW_ALLOW_FILE_STORE"]
    return MlflowClient(tracking_uri=plan.env["MLFLOW_TRACKING_URI"])


def _new_mlflow_run(plan: TrackerPlan) -> str:
    for d in plan.dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    client = _mlflow_client(plan)
    exp = client.get_experiment_by_name(plan.project)
    # artifacts beside the store, not in ./mlartifacts of whatever directory tuneui was started from
    exp_id = exp.experiment_id if exp else client.create_experiment(plan.project,
                                                                    artifact_location=plan.dirs["mlflow"].as_uri())
    return client.create_run(exp_id, run_name=plan.run_name).info.run_id


def _flat_numbers(d: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat_numbers(v, key + "/"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def _log(plan: TrackerPlan, texts: dict[str, str], files: list[Path], metrics: dict[str, float]) -> None:
    if "tensorboard" in plan.report_to:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # the Trainer's callback falls back to tensorboardX the same way
            from tensorboardX import SummaryWriter  # type: ignore[no-redef]

        with SummaryWriter(log_dir=str(plan.dirs["tensorboard"])) as w:
            for tag, text in texts.items():
                w.add_text(f"tuneui/{tag}", f"```\n{text}\n```")
            for tag, value in metrics.items():
                w.add_scalar(f"tuneui/{tag}", value, 0)
    if "mlflow" in plan.report_to:
        client = _mlflow_client(plan)
        run_id = plan.env["MLFLOW_RUN_ID"]
        for f in files:
            client.log_artifact(run_id, str(f), artifact_path="tuneui")
        for tag, value in metrics.items():
            client.log_metric(run_id, f"tuneui/{tag}", value)
    if "wandb" in plan.report_to or "trackio" in plan.report_to:
        _log_wandb_like(plan, texts, metrics)


def _log_wandb_like(plan: TrackerPlan, texts: dict[str, str], metrics: dict[str, float]) -> None:
    if "wandb" in plan.report_to:
        import wandb

        # WANDB_MODE (offline unless the user chose otherwise) comes from the applied plan's environment
        run = wandb.run or wandb.init(project=plan.project, name=plan.run_name, id=plan.env["WANDB_RUN_ID"],
                                      dir=plan.env["WANDB_DIR"], resume="allow")
        run.config.update({f"tuneui/{k}": v for k, v in texts.items()}, allow_val_change=True)
        run.summary.update({f"tuneui/{k}": v for k, v in metrics.items()})
        run.finish()
    if "trackio" in plan.report_to:
        import trackio

        trackio.init(project=plan.project, name=plan.run_name, resume="allow")
        trackio.config.update({f"tuneui/{k}": v for k, v in texts.items()}, allow_val_change=True)
        if metrics:
            trackio.log({f"tuneui/{k}": v for k, v in metrics.items()})
        trackio.finish()


def log_run_start(plan: TrackerPlan, run_dir: str | Path) -> None:
    """run.toml and the cleaning report (data/data_report.json), before training starts."""
    run_dir = Path(run_dir)
    files = [p for p in (run_dir / "run.toml", run_dir / "data" / "data_report.json") if p.exists()]
    texts = {p.stem: p.read_text(encoding="utf-8") for p in files}
    _log(plan, texts, files, {})


def log_run_end(plan: TrackerPlan, run_dir: str | Path) -> None:
    """report.json: the file itself, and its numbers (eval_loss/base, task_metric/tuned, preference/tuned/accuracy,
    ...) as metrics."""
    path = Path(run_dir) / "report.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    summary = {k: report[k] for k in ("task_metric", "eval_loss", "perplexity", "token_f1", "forgetting",
                                      "preference", "train_loss", "steps", "wall_time_s") if k in report}
    _log(plan, {"report": json.dumps(summary, indent=1, default=str)}, [path], _flat_numbers(summary))
