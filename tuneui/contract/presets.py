"""Ready-made run configurations the front ends offer by name."""

from __future__ import annotations

from tuneui.contract.config import RunConfig

# The real-model demo (SmolLM2-135M-Instruct learns to write dates as ISO 8601), chosen by the
# trials in benchmarks/README.md: LoRA on the MLP projections only (on the same steps, adapting
# attention as well raised general-text perplexity 1.25x and attention alone 2.7x, the MLP alone
# 1.09x, for the same task score); few, large steps, because a longer run at a lower rate forgot
# more for the same score; micro-batch 16, because at 8 one seed in four scored 0.797; 8% of the
# 1,000 conversations held out (80, of which 64 are scored); a token cap that leaves an ISO date
# (11 tokens with its end-of-turn) room to show whether the model stops.
REAL_DEMO_SETTINGS: dict = {
    "technique": "lora", "lora_r": 16, "lora_alpha": 32.0, "lora_target_modules": ["gate_proj", "up_proj", "down_proj"],
    "learning_rate": 2e-3, "lr_scheduler": "cosine", "warmup_ratio": 0.1, "weight_decay": 0.0,
    "max_steps": 20, "micro_batch_size": 16, "max_seq_length": 128, "val_fraction": 0.08,
    "logging_steps": 5, "eval_steps": 0, "save_steps": 0, "eval_max_examples": 64, "eval_max_new_tokens": 24,
}


# The preference demo (DPO on the same task: the right ISO date against one of the base model's
# mistakes, tuneui/demo_preference.py), chosen by the trials in benchmarks/README.md. The same LoRA
# as the SFT demo; its own held-out pairs (dates no training pair asks about), all 64 scored.
PREFERENCE_DEMO_SETTINGS: dict = {
    **REAL_DEMO_SETTINGS, "objective": "dpo", "pref_beta": 0.1, "learning_rate": 1e-3, "max_steps": 30,
    "micro_batch_size": 8, "val_fraction": 0.0, "logging_steps": 5,
}


def demo_config(objective: str = "sft") -> RunConfig:
    """The offline demo: a real instruct model, LoRA, a few CPU minutes from near 0 to most dates right.
    A preference objective trains the preference demo's pairs instead of the SFT demo's conversations."""
    if objective != "sft":
        return RunConfig(name=f"demo-{objective}", model="demo", dataset="demo-preference",
                         val_dataset="demo-preference-val", **(PREFERENCE_DEMO_SETTINGS | {"objective": objective}))
    return RunConfig(name="demo", model="demo", dataset="demo", **REAL_DEMO_SETTINGS)
