"""LocalEngine: the engine facade (`tuneui.contract.facade.Engine`) backed by this process's engine.

Each method imports its engine module when called, so a front end that only holds a LocalEngine
imports no torch/transformers until it asks for something that needs them (the wizard's first
screen stays instant; the heavy imports happen in its worker threads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.cleaning import CleanOptions, CleanResult
from tuneui.contract.config import RunConfig
from tuneui.contract.datasets import Conversation, Example, LoadResult, TokenInsight
from tuneui.contract.environment import Check
from tuneui.contract.evaluation import EvaluationReport
from tuneui.contract.facade import DataProgress
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

# transformers' lazy module is not safe to import from two worker threads at once ("cannot import
# name 'AutoTokenizer'"), and building the demo model must happen once: both go under this lock.
_HEAVY_LOCK = threading.Lock()


class _Spools:
    """The dataset copies this engine wrote: the newest is kept for cleaning and paging, older ones are
    deleted, and all of them go when the process ends."""

    def __init__(self) -> None:
        import atexit
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="tuneui-spool-"))
        self.current: str | None = None
        self._n = 0
        atexit.register(self.close)

    def new(self) -> Path:
        self._n += 1
        return self.root / f"dataset-{self._n}.arrow"

    def keep(self, path: str | None) -> None:
        if self.current and self.current != path:
            self.discard(Path(self.current))
        self.current = path

    def discard(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def workdir(self) -> Path:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="clean-", dir=self.root))

    def discard_dir(self, path: Path) -> None:
        import shutil

        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)


class LocalEngine:
    # The normalised copy of the loaded dataset lives in a cache file this engine owns.
    @property
    def _spools(self) -> _Spools:
        spools = self.__dict__.get("_spool_files")
        if spools is None:
            spools = self.__dict__["_spool_files"] = _Spools()
        return spools

    # Hardware and model -----------------------------------------------------------------------------
    def check_environment(self) -> list[Check]:
        from tuneui.envcheck import check_environment

        return check_environment()

    def probe_hardware(self) -> HardwareProfile:
        from tuneui.hardware import probe

        return probe()

    def parse_gpus(self, spec: str) -> HardwareProfile:
        from tuneui.hardware import parse_gpus

        return parse_gpus(spec)

    def inspect_model(self, model: str) -> ModelInfo:
        from tuneui.models import inspect_model

        return inspect_model(model)

    def model_files(self, model: str) -> ModelFiles:
        from tuneui.models import model_files

        return model_files(model)

    # Data -------------------------------------------------------------------------------------------
    def sample_dataset_path(self) -> Path:
        from tuneui.demo_task import dataset_path

        return Path(dataset_path())

    def sample_pairs_paths(self) -> tuple[Path, Path]:
        from tuneui.demo_preference import ensure_files

        return ensure_files()

    def load_dataset(self, path: Path, fmt: str = "auto", columns: dict[str, str] | None = None,
                     progress: DataProgress | None = None) -> LoadResult:
        from tuneui.data import load_dataset

        spool = self._spools.new()
        try:
            result = load_dataset(path, fmt=fmt, columns=columns or None, spool=spool, progress=progress)
        except BaseException:
            self._spools.discard(spool)
            raise
        self._spools.keep(result.spool)
        return result

    def dataset_page(self, result: LoadResult, start: int, count: int) -> tuple[list[Example], list[int]]:
        if start + count <= len(result.preview):
            return result.preview[start:start + count], result.preview_lines[start:start + count]
        if result.spool is None or not Path(result.spool).exists():
            return result.preview[start:start + count], result.preview_lines[start:start + count]
        from tuneui.data.spool import Spool

        with Spool(result.spool) as spool:
            return spool.page(start, count)

    def clean(self, load: LoadResult, options: CleanOptions, progress: DataProgress | None = None) -> CleanResult:
        from tuneui.cleaning.flow import clean_loaded
        from tuneui.contract.datasets import PREVIEW_ROWS

        workdir = self._spools.workdir()
        try:
            cleaned = clean_loaded(load, options, workdir=workdir, progress=progress)
            result = CleanResult(cleaned.report, cleaned.preview(PREVIEW_ROWS), cleaned.count)
            cleaned.stage.remove()
        finally:
            self._spools.discard_dir(workdir)
        return result

    def token_insight(self, examples: list[Example], config: RunConfig) -> TokenInsight:
        from tuneui.data.insight import token_insight
        from tuneui.data.preview import TRIES
        from tuneui.data.sequences import trained_conversations
        from tuneui.data.template_check import render_options
        from tuneui.modelload import load_tokenizer

        with _HEAVY_LOCK:
            tokenizer = load_tokenizer(config)
        convs, tools = trained_conversations(examples)
        # the preview looks at the first few only: the chosen sides of those, not of every pair again
        shown = (trained_conversations(examples[:TRIES], side="chosen")[0]
                 if examples and examples[0].chosen else None)
        return token_insight(convs, tokenizer, config.max_seq_length, options=render_options(config), tools=tools,
                             shown=shown)

    # Technique --------------------------------------------------------------------------------------
    def recommend(self, model: ModelInfo, hardware: HardwareProfile,
                  dataset: DatasetStats | None = None, objective: str = "sft") -> Recommendation:
        from tuneui.recommend import recommend

        return recommend(model, hardware, dataset_stats=dataset.to_dict() if dataset else None, objective=objective)

    # Runs -------------------------------------------------------------------------------------------
    def start_run(self, config: RunConfig, run_dir: Path | None = None, *, resume: bool = False) -> RunHandle:
        from tuneui.training.launch import start_run

        return start_run(config, run_dir, resume=resume)

    def attach(self, run_dir: Path) -> RunHandle:
        from tuneui.training.launch import attach

        return attach(run_dir)

    def follow(self, run_dir: Path) -> EventSource:
        from tuneui.contract.events import EventFollower

        return EventFollower(run_dir)

    def load_run_config(self, run_dir: Path) -> RunConfig:
        return RunConfig.load(run_dir)

    def list_runs(self) -> list[RunSummary]:
        from tuneui.runs import list_runs

        return list_runs()

    def compare_runs(self, extra: list[Path]) -> list[RunRow]:
        from tuneui.runs import compare_runs

        rows = compare_runs(None)
        known = {Path(r.run_dir).resolve() for r in rows}
        more = [p for p in extra if p.exists() and p.resolve() not in known]
        return rows + (compare_runs(more) if more else [])

    # Closing the loop -------------------------------------------------------------------------------
    def open_chat(self, path: Path) -> ChatSession:
        from tuneui.chat import ChatSession as Session

        with _HEAVY_LOCK:
            return Session.load(path)

    def generation_settings(self, temperature: float, top_p: float, max_new_tokens: int) -> GenerationSettings:
        return GenerationSettings(temperature, top_p, max_new_tokens).validate()

    def validation_prompts(self, run_dir: Path | None, limit: int = 50) -> list[ValidationPrompt]:
        from tuneui.chat import validation_prompts

        return validation_prompts(run_dir, limit)

    def save_example(self, run_dir: Path, messages: Conversation) -> Path:
        from tuneui.chat import save_example

        return save_example(run_dir, messages)

    def read_report(self, run_dir: Path) -> EvaluationReport | None:
        from tuneui.contract.evaluation import read_report

        return read_report(run_dir)

    def evaluate_run(self, run_dir: Path) -> EvaluationReport:
        from tuneui.evaluate_run import evaluate_run

        return evaluate_run(run_dir)

    def installed_trackers(self) -> list[str]:
        from tuneui.trackers import installed

        return installed()

    def gguf_converter(self) -> Path | None:
        from tuneui.export import find_gguf_converter

        return find_gguf_converter()

    def export_run(self, path: Path, out_dir: Path, options: ExportOptions,
                   progress: Callable[[str], None] | None = None) -> ExportResult:
        from tuneui.export import export_run

        return export_run(path, out_dir, options, progress=progress)

    def plan_sweep(self, config: RunConfig, grid: dict[str, list[float | int]], max_trials: int = 12) -> list[Trial]:
        from tuneui.sweep import plan_trials

        return plan_trials(config, grid, max_trials=max_trials)

    def default_sweep_grid(self, config: RunConfig) -> dict[str, list[float | int]]:
        from tuneui.sweep import default_grid

        return default_grid(config)

    def sweep_dir(self, config: RunConfig) -> Path:
        from tuneui.contract.settings import runs_root

        return runs_root() / f"{config.name}-sweep"

    def run_sweep(self, config: RunConfig, out_dir: Path, *, trials: list[Trial], steps: int, max_train: int,
                  on_update: Callable[[SweepResult], None] | None = None,
                  stop: threading.Event | None = None) -> SweepResult:
        from tuneui.sweep import run_sweep

        return run_sweep(config, out_dir, trials=trials, steps=steps, max_train=max_train, on_update=on_update,
                         stop=stop)
