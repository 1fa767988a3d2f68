"""Ready-made run configurations the front ends offer by name."""

from __future__ import annotations

from tuneui.contract.config import RunConfig


def demo_config() -> RunConfig:
    """The offline demo: small enough to finish in a few minutes on 2 CPU cores, large enough to learn."""
    return RunConfig(
        name="demo", model="demo", dataset="demo", technique="full", learning_rate=1e-3,
        lr_scheduler="cosine", warmup_ratio=0.05, epochs=2, micro_batch_size=16,
        max_seq_length=256, logging_steps=10, eval_steps=100, save_steps=200,
        eval_max_examples=100, eval_max_new_tokens=16, weight_decay=0.0,
    )
