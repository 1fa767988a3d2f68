"""The periodic validation reaches the run's trackers through the Trainer's own integration callbacks, named as the
Trainer's evaluation names its figures (eval_loss -> eval/loss): here W&B's callback with its library replaced by a
recorder (tests/engine/test_preference_alert_resume.py reads a real run's figures back from TensorBoard and trackio)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from transformers import TrainerControl, TrainerState
from transformers.trainer_callback import CallbackHandler

from tuneui.contract.config import RunConfig
from tuneui.contract.events import EventWriter, read_events
from tuneui.training.callbacks import RunCallback
from tuneui.training.guards import StopController


class _FakeWandb:
    """What WandbCallback.on_log calls of the wandb module once its run is set up."""

    def __init__(self):
        self.logged: list[dict] = []
        self.run = SimpleNamespace(summary={})

    def log(self, data: dict) -> None:
        self.logged.append(data)


def _callback(tmp_path, figures, report_to=("wandb",)):
    pytest.importorskip("wandb")
    from transformers.integrations import WandbCallback

    tracker = WandbCallback()
    tracker._wandb, tracker._initialized = _FakeWandb(), True
    cb = RunCallback(cfg=RunConfig(), run_dir=tmp_path, writer=EventWriter(tmp_path), collator=None, is_main=True,
                     stop=StopController(), evaluate_fn=lambda model: next(figures))
    trainer = SimpleNamespace(args=SimpleNamespace(report_to=list(report_to)), state=TrainerState(global_step=0),
                              control=TrainerControl(),
                              callback_handler=CallbackHandler([tracker, cb], None, None, None, None))
    cb.trainer = trainer  # type: ignore[assignment]
    return cb, trainer, tracker._wandb


PREF = [{"pref_accuracy": 0.5, "pref_margin": 0.25, "logp_chosen": -21.1, "logp_rejected": -21.0,
         "logp_drift": -0.4, "pref_pairs": 2},
        {"pref_accuracy": 0.75, "pref_margin": 0.5, "logp_chosen": -20.9, "logp_rejected": -22.0, "pref_pairs": 2}]


def test_preference_figures_go_to_the_trackers_as_eval_figures_at_their_step(tmp_path):
    cb, trainer, wandb = _callback(tmp_path, iter(PREF))
    for step in (2, 4):
        trainer.state.global_step = step
        trainer.control.should_log = True  # set by the Trainer's flow callback on a logging step
        cb.run_eval(step, model=None)
        assert trainer.control.should_log  # the step's own log (its `step` event) still comes
    assert wandb.logged == [
        {"eval/pref_accuracy": 0.5, "eval/pref_margin": 0.25, "eval/logp_chosen": -21.1, "eval/logp_rejected": -21.0,
         "eval/logp_drift": -0.4, "eval/pref_pairs": 2.0, "train/global_step": 2},
        # a reference-free objective has no drift: the figure is absent, not sent as a placeholder
        {"eval/pref_accuracy": 0.75, "eval/pref_margin": 0.5, "eval/logp_chosen": -20.9, "eval/logp_rejected": -22.0,
         "eval/pref_pairs": 2.0, "train/global_step": 4}]
    # the same figures as the eval events
    evals = [e for e in read_events(tmp_path) if e.type == "eval"]
    assert [e.pref_accuracy for e in evals] == [0.5, 0.75] and evals[1].logp_drift is None


def test_an_sft_runs_validation_loss_goes_as_eval_loss(tmp_path):
    cb, trainer, wandb = _callback(tmp_path, iter([1.25, None]))
    trainer.state.global_step = 3
    cb.run_eval(3, model=None)
    cb.run_eval(6, model=None)  # no validation examples: nothing measured, nothing sent
    assert wandb.logged == [{"eval/loss": 1.25, "train/global_step": 3}]


def test_without_trackers_nothing_is_sent(tmp_path):
    cb, _, wandb = _callback(tmp_path, iter(PREF), report_to=())
    cb.run_eval(2, model=None)
    assert wandb.logged == [] and len(read_events(tmp_path)) == 1
