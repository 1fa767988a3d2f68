"""A preference run (dpo, kto, orpo) killed with SIGKILL after a checkpoint and resumed with --resume logs the same
per-step losses and rewards as the uninterrupted run: TRL's trainers resume like tuneui's SFT run does."""

from __future__ import annotations

import pytest

from tests.engine.runs import Reference, kill_after_checkpoint_then_resume, step_losses
from tests.engine.test_preference_training import PAIRS, _cfg, _kto_file
from tuneui.contract.events import read_events

SAVE_STEPS = 2


def _config(objective: str, tmp_path, **variant):
    data = _kto_file(tmp_path) if objective == "kto" else PAIRS
    # 9 training pairs (18 KTO rows) in micro-batches of 2: the 6 steps cross an epoch, where the sampler reshuffles
    return _cfg(data, objective=objective, micro_batch_size=2, max_steps=6, max_seq_length=128, eval_max_examples=2,
                val_fraction=0.1, **variant)


def _rewards(events) -> dict[int, float | None]:
    return {e.step: e.reward_margin for e in events if e.type == "step"}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # three tiny runs, each a fresh interpreter
# PiSSA: the checkpoint holds the trained adapter alone; TRL's reference copy is made again from the fresh one
@pytest.mark.parametrize(("objective", "variant"), [("dpo", {}), ("kto", {}), ("orpo", {}),
                                                    ("dpo", {"lora_init": "pissa"})],
                         ids=["dpo", "kto", "orpo", "dpo-pissa"])
def test_sigkill_then_resume_repeats_the_uninterrupted_steps(tmp_path, objective, variant):
    cfg = _config(objective, tmp_path, **variant)
    ref = Reference(cfg, tmp_path / "ref")  # runs while this run is started, killed and resumed
    try:
        session = kill_after_checkpoint_then_resume(cfg.model_copy(update={"save_steps": SAVE_STEPS}),
                                                    tmp_path / "run")
        reference = list(read_events(ref.finished(timeout=600)))
    finally:
        ref.close()
    ckpt_step = int(session[0].resumed_from.rsplit("-", 1)[1])
    want, got = step_losses(reference), step_losses(session)
    after = [s for s in want if s > ckpt_step]
    assert after and sorted(got) == after  # every step after the checkpoint, none repeated or skipped
    diffs = [abs(got[s] - want[s]) for s in after]
    print(f"{objective}: max per-step loss difference after resume from step {ckpt_step}: {max(diffs):.3g}")
    assert max(diffs) < 1e-5
    margins, want_margins = _rewards(session), _rewards(reference)
    assert all(abs(margins[s] - want_margins[s]) < 1e-5 for s in after)
    assert session[-1].type == "finished"
