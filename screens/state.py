"""What the wizard has gathered so far: one RunConfig plus the engine results each step showed.

Screens read and write this object instead of keeping values in widgets only, so going back and
forth between steps keeps everything the user entered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STEPS: list[tuple[str, str]] = [
    ("welcome", "Welcome"),
    ("model", "Model"),
    ("dataset", "Dataset"),
    ("clean", "Clean"),
    ("technique", "Technique"),
    ("settings", "Settings"),
    ("train", "Train"),
    ("chat", "Chat"),
    ("export", "Export"),
]
STEP_NAMES = [name for name, _ in STEPS]
STEP_TITLES = dict(STEPS)


def _default_config() -> Any:
    from tuneui.training.config import RunConfig  # pydantic only: cheap, no torch

    return RunConfig()


@dataclass
class WizardState:
    config: Any = field(default_factory=_default_config)
    hardware: Any = None  # HardwareProfile in use (probed, or the what-if override)
    probed_hardware: Any = None
    hardware_spec: str = ""  # the what-if override text, "" = use the probed machine
    model_info: Any = None
    model_source: str = "demo"  # demo | local | hub
    model_files: dict = field(default_factory=dict)
    dataset_path: Path | None = None
    load_result: Any = None
    clean_options: dict = field(default_factory=dict)
    clean_result: Any = None
    token_insight: dict | None = None
    recommendation: Any = None
    technique_overridden: bool = False
    run_dir: Path | None = None
    run_handle: Any = None
    # What the Train step should do when it is shown next: ("start", None), ("resume", dir), ("attach", dir)
    pending_run: tuple[str, Path | None] | None = None

    def conversations(self) -> list:
        """The conversations the run will train on: the cleaned ones when cleaning ran."""
        if self.clean_result is not None and self.config.clean:
            return list(getattr(self.clean_result, "kept", []) or [])
        if self.load_result is not None:
            return list(getattr(self.load_result, "conversations", []) or [])
        return []


def apply_config_updates(state: WizardState, updates: dict) -> list[str]:
    """Set RunConfig fields from an engine suggestion; fields RunConfig lacks are returned, not set."""
    from tuneui.training.config import RunConfig

    known = {k: v for k, v in updates.items() if k in RunConfig.model_fields}
    unknown = [k for k in updates if k not in RunConfig.model_fields]
    state.config = RunConfig.from_dict({**state.config.model_dump(), **known}, source="recommendation")
    return unknown
