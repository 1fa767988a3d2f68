"""What the wizard has gathered so far: one RunConfig plus the engine results each step showed.

Screens read and write this object instead of keeping values in widgets only, so going back and
forth between steps keeps everything the user entered. Every field holds a contract type: what the
engine returned, not a copy of it in other words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tuneui.contract.cleaning import CleanResult
from tuneui.contract.config import RunConfig
from tuneui.contract.datasets import Example, LoadResult, TokenInsight
from tuneui.contract.hardware import HardwareProfile
from tuneui.contract.modelinfo import ModelFiles, ModelInfo
from tuneui.contract.recommend import DatasetStats, Recommendation
from tuneui.contract.runs import RunHandle

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


@dataclass
class WizardState:
    config: RunConfig = field(default_factory=RunConfig)
    hardware: HardwareProfile | None = None  # in use: probed, or the what-if override
    probed_hardware: HardwareProfile | None = None
    hardware_spec: str = ""  # the what-if override text, "" = use the probed machine
    model_info: ModelInfo | None = None
    model_source: str = "demo"  # demo | local | hub
    model_files: ModelFiles = field(default_factory=ModelFiles)
    dataset_path: Path | None = None
    load_result: LoadResult | None = None
    clean_result: CleanResult | None = None
    token_insight: TokenInsight | None = None
    recommendation: Recommendation | None = None
    technique_overridden: bool = False
    run_dir: Path | None = None
    run_handle: RunHandle | None = None
    # What the Train step should do when it is shown next: ("start", None), ("resume", dir), ("attach", dir)
    pending_run: tuple[str, Path | None] | None = None

    def examples(self) -> list[Example]:
        """A preview of the examples the run will train on (the cleaned ones when cleaning ran): the
        first page; `example_count` is how many there are in all."""
        if self.clean_result is not None and self.config.clean:
            return list(self.clean_result.kept)
        if self.load_result is not None:
            return list(self.load_result.preview)
        return []

    def example_count(self) -> int:
        if self.clean_result is not None and self.config.clean:
            return self.clean_result.kept_count
        return self.load_result.examples if self.load_result is not None else 0

    def dataset_stats(self) -> DatasetStats:
        """What the recommender reads about the data the run will train on."""
        n = self.example_count()
        stats = DatasetStats(num_examples=n, assistant_turns=n,
                             format=self.load_result.format.name if self.load_result is not None else None)
        insight = self.token_insight
        if insight is not None and insight.stats.lengths.count:
            lengths = insight.stats.lengths
            tokens: dict[str, float] = {"mean": lengths.mean, "max": float(lengths.max),
                                        **{k: float(v) for k, v in lengths.percentiles.items()}}
            tokens["total"] = lengths.total * n / lengths.count
            stats.tokens = tokens
        return stats
