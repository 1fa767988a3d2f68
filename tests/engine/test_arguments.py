"""One place turns a RunConfig into the Trainer's arguments, and it carries every training field."""

from __future__ import annotations

from tuneui.contract.config import RunConfig
from tuneui.training.arguments import OPTIMIZERS, SAME_MEANING, training_arguments


def test_every_mapped_field_reaches_the_trainer(tmp_path):
    cfg = RunConfig(micro_batch_size=3, gradient_accumulation_steps=5, learning_rate=3e-4, weight_decay=0.01,
                    lr_scheduler="linear", warmup_ratio=0.1, max_grad_norm=0.5, epochs=2.5, max_steps=17,
                    logging_steps=7, seed=11, optimizer="sgd", neftune_noise_alpha=5.0)
    args = training_arguments(cfg, tmp_path)
    for ours, theirs in SAME_MEANING.items():
        got = getattr(args, theirs)
        want = getattr(cfg, ours)
        assert str(got).removeprefix("SchedulerType.") == str(want) or got == want, (ours, theirs, got, want)
    assert args.optim.value == OPTIMIZERS["sgd"] and args.data_seed == 11
    assert args.report_to == [] or args.report_to == "none"
    assert args.train_sampling_strategy == "group_by_length"
    assert training_arguments(cfg.updated(packing=True), tmp_path).train_sampling_strategy == "random"


def test_trackers_reach_the_trainer_with_the_run_name(tmp_path):
    args = training_arguments(RunConfig(name="tracked", report_to=["tensorboard", "mlflow"]), tmp_path)
    assert args.report_to == ["tensorboard", "mlflow"] and args.run_name == "tracked" and args.project == "tuneui"
    assert args.neftune_noise_alpha is None
