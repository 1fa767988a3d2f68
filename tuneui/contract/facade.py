"""The one engine facade: everything a front end (the wizard) may ask of the engine, typed.

`tuneui.engine.LocalEngine` implements it by calling the engine packages (lazily, so importing a
front end stays light); the UI tests' fakes implement it with the same contract types, and mypy
checks both against this Protocol, so neither can drift from the other.

Every method is synchronous and may be slow (it can load a model or read a large file): front ends
call it from a worker thread, never from the UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tuneui.contract.cleaning import CleanOptions, CleanResult
from tuneui.contract.config import RunConfig
from tuneui.contract.datasets import Conversation, Example, LoadProgress, LoadResult, TokenInsight
from tuneui.contract.environment import Check
from tuneui.contract.evaluation import EvaluationReport
from tuneui.contract.hardware import HardwareProfile
from tuneui.contract.loop import (
    ChatSession,
    ExportOptions,
    ExportResult,
    GenerationSettings,
    SweepResult,
    Trial,
    ValidationPrompt,
)
from tuneui.contract.modelinfo import ModelFiles, ModelInfo
from tuneui.contract.recommend import DatasetStats, Recommendation
from tuneui.contract.runs import EventSource, RunHandle, RunRow, RunSummary

Progress = Callable[[str], None]
DataProgress = Callable[[LoadProgress], None]


class Engine(Protocol):
    # Hardware and model -----------------------------------------------------------------------------
    def check_environment(self) -> list[Check]:
        """What tuneui needs (PyTorch, a GPU, bitsandbytes, disk), in plain words with the fix commands."""

    def probe_hardware(self) -> HardwareProfile:
        """This machine (never raises: an odd machine gives a CPU profile with a warning)."""

    def parse_gpus(self, spec: str) -> HardwareProfile:
        """What-if hardware from a spec such as `1x24GiB`, `2xH100`, `cpu` (ConfigError if bad)."""

    def inspect_model(self, model: str) -> ModelInfo:
        """A model's shape from its config, without loading weights ('demo', a directory, a hub id)."""

    def model_files(self, model: str) -> ModelFiles:
        """Weights on disk and license file of a local model directory (empty for hub ids)."""

    # Data -------------------------------------------------------------------------------------------
    def sample_dataset_path(self) -> Path:
        """The bundled sample dataset of the offline demo."""

    def sample_pairs_paths(self) -> tuple[Path, Path]:
        """The offline demo's preference pairs, (training, held-out): what `tuneui train --demo --objective
        dpo` trains, written on first use."""

    def load_dataset(self, path: Path, fmt: str = "auto", columns: dict[str, str] | None = None,
                     progress: DataProgress | None = None) -> LoadResult:
        """Read, detect the kind and format, normalise and validate a dataset file, streaming (DataError
        when nothing can be read): counts, problems and a preview page; the engine keeps the examples."""

    def dataset_page(self, result: LoadResult, start: int, count: int) -> tuple[list[Example], list[int]]:
        """Examples `start`..`start+count` of a loaded dataset, with their lines (beyond the preview)."""

    def clean(self, load: LoadResult, options: CleanOptions, progress: DataProgress | None = None) -> CleanResult:
        """Clean a loaded dataset (the input file is never modified): the report and a preview of the kept."""

    def token_insight(self, examples: list[Example], config: RunConfig) -> TokenInsight:
        """Token lengths with the run's tokenizer and one example exactly as it will be trained (with its
        tools rendered by the chat template)."""

    # Technique --------------------------------------------------------------------------------------
    def recommend(self, model: ModelInfo, hardware: HardwareProfile,
                  dataset: DatasetStats | None = None, objective: str = "sft") -> Recommendation:
        """The best technique that fits, every alternative with its memory and time, and why (`objective`:
        RunConfig.objective, whose pairs and reference model change the memory)."""

    # Runs -------------------------------------------------------------------------------------------
    def start_run(self, config: RunConfig, run_dir: Path | None = None, *, resume: bool = False) -> RunHandle:
        """Save run.toml and start training in its own process (which outlives the caller)."""

    def attach(self, run_dir: Path) -> RunHandle:
        """A handle on a run started elsewhere (it may be finished already)."""

    def follow(self, run_dir: Path) -> EventSource:
        """The run's events as they arrive."""

    def load_run_config(self, run_dir: Path) -> RunConfig:
        """The run.toml of a run directory."""

    def list_runs(self) -> list[RunSummary]:
        """Runs in the user's runs folder, newest first."""

    def compare_runs(self, extra: list[Path]) -> list[RunRow]:
        """Every run of the runs folder plus `extra` run directories, one row each, newest first."""

    # Closing the loop -------------------------------------------------------------------------------
    def open_chat(self, path: Path) -> ChatSession:
        """Load a run, an adapter or a model directory for chatting (slow: loads weights)."""

    def generation_settings(self, temperature: float, top_p: float, max_new_tokens: int) -> GenerationSettings:
        """Validated generation settings (ConfigError naming the bad one)."""

    def validation_prompts(self, run_dir: Path | None, limit: int = 50) -> list[ValidationPrompt]:
        """Held-out prompts of a run, with the replies the data expects."""

    def save_example(self, run_dir: Path, messages: Conversation) -> Path:
        """Append a conversation to the run's chat_examples.jsonl for the next iteration."""

    def read_report(self, run_dir: Path) -> EvaluationReport | None:
        """The run's report.json, or None."""

    def evaluate_run(self, run_dir: Path) -> EvaluationReport:
        """Recompute base vs tuned for a finished run (slow) and write report.json."""

    def installed_trackers(self) -> list[str]:
        """Experiment trackers (RunConfig.report_to) whose library is installed here."""

    def gguf_converter(self) -> Path | None:
        """llama.cpp's converter when one is installed (GGUF of models tuneui's own writer does not handle)."""

    def export_run(self, path: Path, out_dir: Path, options: ExportOptions,
                   progress: Progress | None = None) -> ExportResult:
        """Write the adapter or merged model, model card and reproduce command to `out_dir`."""

    def plan_sweep(self, config: RunConfig, grid: dict[str, list[float | int]], max_trials: int = 12) -> list[Trial]:
        """The trials a sweep of `config` over `grid` would run (cheap; ConfigError for a bad grid)."""

    def default_sweep_grid(self, config: RunConfig) -> dict[str, list[float | int]]:
        """Learning rate around the configured one, and LoRA rank around it for adapters."""

    def sweep_dir(self, config: RunConfig) -> Path:
        """Where a sweep of `config` goes by default (beside the runs)."""

    def run_sweep(self, config: RunConfig, out_dir: Path, *, trials: list[Trial], steps: int, max_train: int,
                  on_update: Callable[[SweepResult], None] | None = None,
                  stop: threading.Event | None = None) -> SweepResult:
        """Run short trials one after another in their own processes, ranked by validation loss."""
