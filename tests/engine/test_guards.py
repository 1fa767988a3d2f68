"""The watches that turn loss curves into warnings, as pure logic."""

from __future__ import annotations

import torch

from tuneui.training.guards import DivergenceWatch, OverfitWatch


def test_divergence_needs_a_sustained_rise_not_a_spike():
    w = DivergenceWatch(factor=2.0, patience=3, warmup_steps=2)
    losses = [3.0, 2.0, 1.0, 5.0, 0.9, 2.5, 2.6, 2.7]
    results = [w.update(i + 1, x) for i, x in enumerate(losses)]
    assert results[:7] == [None] * 7  # the spike to 5.0 at step 4 recovers at once
    assert results[7] and "diverged" in results[7] and "0.900" in results[7]


def test_a_converged_run_with_noisy_tiny_losses_is_not_diverging():
    """Per-batch losses of a run that has learned its task (the real-model demo's last steps)."""
    w = DivergenceWatch(factor=2.0, patience=3, warmup_steps=2)
    losses = [0.7, 0.4, 0.05, 0.018, 0.06, 0.045, 0.062, 0.05, 0.04]
    assert [w.update(i + 1, x) for i, x in enumerate(losses)] == [None] * len(losses)
    rising = [w.update(len(losses) + i + 1, x) for i, x in enumerate([0.9, 1.5, 2.4])]
    assert rising[-1] and "diverged" in rising[-1]


def test_overfit_warns_once_when_eval_rises_while_train_falls():
    w = OverfitWatch(patience=2)
    assert w.update(1.0, 2.0) is None
    assert w.update(0.9, 1.8) is None
    assert w.update(1.0, 1.5) is None
    msg = w.update(1.1, 1.2)
    assert msg and "overfitting" in msg and "0.900 -> 1.100" in msg
    assert w.update(1.2, 1.0) is None  # said once, not on every evaluation after


def test_no_overfit_warning_when_train_loss_rises_too():
    w = OverfitWatch(patience=2)
    for ev, tr in [(1.0, 1.0), (1.1, 1.1), (1.2, 1.2)]:
        assert w.update(ev, tr) is None


def test_early_stopping_restores_the_best_weights(tmp_path):
    from transformers import TrainerControl

    from tuneui.contract.config import RunConfig
    from tuneui.contract.events import EventWriter, read_events
    from tuneui.training.callbacks import RunCallback
    from tuneui.training.guards import StopController

    model = torch.nn.Linear(2, 2)
    losses = iter([1.0, 0.5, 0.7, 0.8])
    cfg = RunConfig(early_stopping_patience=2, overfit_patience=5)
    cb = RunCallback(cfg=cfg, run_dir=tmp_path, writer=EventWriter(tmp_path), collator=None, is_main=True,
                     stop=StopController(), evaluate_fn=lambda m: next(losses))
    control = TrainerControl()
    snapshots = {}
    for step in (10, 20, 30, 40):
        with torch.no_grad():
            model.weight.fill_(step)
        snapshots[step] = model.weight.clone()
        cb.run_eval(step, model, control)
    assert control.should_training_stop and cb.stopped_early
    assert cb.restore_best(model) == 20
    assert torch.equal(model.weight, snapshots[20])
    assert any("early stopping" in getattr(e, "reason", "") for e in read_events(tmp_path))
