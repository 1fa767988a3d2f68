"""The bundled samples the Dataset step offers beside a file of your own, and what loading one changes
in the run beyond the file: the offline demo's conversations (SFT) and its preference pairs (DPO, ORPO,
SimPO), the very files `tuneui train --demo [--objective dpo]` trains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneui.contract.config import RunConfig
from tuneui.contract.presets import PREFERENCE_DEMO_SETTINGS, REAL_DEMO_SETTINGS, demo_config

# The Dataset step's buttons: id -> the objective its sample's demo trains.
BUTTONS = {"sample": "sft", "sample-pairs": "dpo"}
HINT = ("Pick a file (Ctrl+O browses), or try a bundled sample: [b]Sample data[/b] has questions with their "
        "answers, to teach by example (SFT); [b]Sample pairs[/b] a better and a worse answer to each question, "
        "to teach which is better (DPO, ORPO, SimPO).")
# What a demo preset sets beyond its own data: the settings its trials chose, its name and its objective.
PRESET_FIELDS = ("name", "objective", *REAL_DEMO_SETTINGS, *PREFERENCE_DEMO_SETTINGS)


@dataclass(frozen=True)
class Sample:
    """A bundled sample: its training file, its own held-out file (the pairs have one), its objective."""

    path: Path
    held_out: Path | None
    objective: str


def data_changes(config: RunConfig, path: Path, sample: Sample | None, *, demo: bool) -> dict[str, Any]:
    """RunConfig fields that come with the data just loaded, beside `dataset` itself.

    The sample pairs are validated on their held-out pairs (dates no training pair asks about), as the
    CLI's demo is. Any other data drops that file again (the wizard sets no validation file of its own):
    a run must never validate an SFT file on the demo's pairs. The same file read again keeps it. On the
    demo (`tuneui --demo`), a sample brings its demo's settings, so the wizard trains what the CLI's
    demo trains, as SFT or DPO."""
    changes: dict[str, Any] = {}
    if sample is not None and demo:
        preset = demo_config(sample.objective)
        changes.update({field: getattr(preset, field) for field in PRESET_FIELDS})
    if sample is not None and sample.held_out is not None:
        changes.update(val_dataset=str(sample.held_out), val_fraction=0.0)
    elif config.val_dataset and (sample is not None or str(path) != config.dataset):
        changes["val_dataset"] = None
        changes.setdefault("val_fraction", RunConfig.model_fields["val_fraction"].default)
    return changes
