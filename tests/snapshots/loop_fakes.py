"""(Not a test module.) Fakes for the Chat/Evaluate/Export screens: a scripted chat session whose
stream can be held mid-reply (to snapshot the streaming state), canned reports and runs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "ui"))  # fakes.py (FakeEngine, settle)

from fakes import CLOCK, FakeEngine, wizard  # noqa: E402

from tuneui.contract.evaluation import EvaluationReport  # noqa: E402
from tuneui.contract.loop import (  # noqa: E402
    ChatSession,
    ExportOptions,
    ExportResult,
    Reply,
    SweepResult,
    Trial,
    ValidationPrompt,
)
from tuneui.contract.runs import RunRow  # noqa: E402

REPORT = EvaluationReport.from_dict({
    "task_metric": {"name": "exact_match", "base": 0.0, "tuned": 0.62, "n": 200},
    "exact_match": {"base": 0.0, "tuned": 0.62},
    "token_f1": {"base": 0.03, "tuned": 0.71},
    "rouge_l": {"base": 0.02, "tuned": 0.70},
    "eval_loss": {"base": 6.911, "tuned": 0.842},
    "perplexity": {"base": 1003.4, "tuned": 2.321},
    "forgetting": {"base_perplexity": 1028.5, "tuned_perplexity": 1133.9, "ratio": 1.102, "level": "mild",
                   "verdict": "mild forgetting: general text got somewhat harder for the model; usually "
                              "acceptable (general-text perplexity 1028.5 -> 1133.9 (1.10x))"},
    "examples": [{"prompt": "Translate to Zorbish: bread blue", "reference": "mib mur", "base": "load load load",
                  "tuned": "mib mur"},
                 {"prompt": "What is 3 plus 4?", "reference": "7", "base": "makes makes", "tuned": "7"}],
})


@dataclass
class FakeChat:
    run_dir: Path | None = None
    kind: str = "peft"
    has_base: bool = True
    name: str = "demo-run"
    replies: dict = field(default_factory=lambda: {"tuned": "mib mur, and the river is blue.",
                                                   "base": "load load load load load load"})
    hold_after: int | None = None  # words streamed before the stream waits for `release`
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    calls: list = field(default_factory=list)

    def stream(self, messages, *, base=False, settings=None, stop=None, reply=None):
        self.calls.append(("base" if base else "tuned", [dict(m) for m in messages], settings))
        reply = reply if reply is not None else Reply()
        words = self.replies["base" if base else "tuned"].split(" ")
        for i, word in enumerate(words):
            if self.hold_after is not None and i == self.hold_after:
                self.holding.set()
                self.release.wait(30)
            if stop is not None and stop.is_set():
                reply.stopped = True
                return
            piece = word if i == 0 else " " + word
            reply.text += piece
            reply.tokens += 1
            yield piece
        reply.finished = True


_: type[ChatSession] = FakeChat  # mypy: the scripted session keeps to the contract's ChatSession


def default_rows(tmp_path: Path) -> list[RunRow]:
    return [
        RunRow(name="demo-lora", run_dir=str(tmp_path / "runs/demo-lora"), status="finished", technique="lora",
               learning_rate=2e-4, lora_r=16, steps=300, train_loss=0.91, val_loss=0.84, metric_name="exact_match",
               metric_base=0.0, metric_tuned=0.62, forgetting_ratio=1.10, forgetting_level="mild", seconds=512,
               started=CLOCK - 100, curve=[(s, 7.0 / (1 + s / 20)) for s in range(0, 301, 10)]),
        RunRow(name="demo-full", run_dir=str(tmp_path / "runs/demo-full"), status="finished", technique="full",
               learning_rate=2e-3, steps=300, train_loss=0.55, val_loss=0.61, metric_name="exact_match",
               metric_base=0.0, metric_tuned=0.81, forgetting_ratio=2.4, forgetting_level="noticeable",
               seconds=845, started=CLOCK - 200, curve=[(s, 7.0 / (1 + s / 8)) for s in range(0, 301, 10)]),
    ]


class LoopEngine(FakeEngine):
    """FakeEngine plus scripted Chat, Evaluate, Export and Sweep calls (generation and training are slow)."""

    def __init__(self, tmp_path: Path, chat: FakeChat | None = None, report: EvaluationReport | None = REPORT,
                 runs: list[RunRow] | None = None, open_chat: Callable[[Path], ChatSession] | None = None,
                 run_sweep: Callable[..., SweepResult] | None = None,
                 export_run: Callable[..., ExportResult] | None = None,
                 evaluate_run: Callable[[Path], EvaluationReport] | None = None) -> None:
        super().__init__(tmp_path)
        self.chat, self.report = chat, report
        self.rows = runs if runs is not None else default_rows(tmp_path)
        self._open_chat, self._run_sweep, self._export_run = open_chat, run_sweep, export_run
        self._evaluate_run = evaluate_run
        self.saved: list[tuple[Path, list]] = []
        self.exports: list[tuple[Path, Path, ExportOptions]] = []

    def open_chat(self, path: Path) -> ChatSession:
        if self._open_chat is not None:
            return self._open_chat(path)
        return self.chat or FakeChat(run_dir=Path(path))

    def validation_prompts(self, run_dir: Path | None, limit: int = 50) -> list[ValidationPrompt]:
        return [ValidationPrompt([{"role": "user", "content": "Translate to Zorbish: bread blue"}], "mib mur"),
                ValidationPrompt([{"role": "user", "content": "What is 3 plus 4?"}], "7")]

    def save_example(self, run_dir: Path, messages: list) -> Path:
        self.saved.append((run_dir, messages))
        return Path(run_dir) / "chat_examples.jsonl"

    def read_report(self, run_dir: Path) -> EvaluationReport | None:
        return self.report

    def evaluate_run(self, run_dir: Path) -> EvaluationReport:
        if self._evaluate_run is not None:
            return self._evaluate_run(run_dir)
        assert self.report is not None
        return self.report

    def compare_runs(self, extra: list[Path]) -> list[RunRow]:
        return self.rows

    def gguf_converter(self) -> Path | None:
        return None

    def export_run(self, path: Path, out_dir: Path, options: ExportOptions,
                   progress: Callable[[str], None] | None = None) -> ExportResult:
        self.exports.append((path, out_dir, options))
        if self._export_run is not None:
            return self._export_run(path, out_dir, options)
        return ExportResult(out_dir=out_dir, kind="merged" if options.merge else "adapter",
                            files=["README.md", "adapter_config.json", "adapter_model.safetensors", "reproduce.sh",
                                   "run.toml", "tokenizer.json", "tokenizer_config.json"])

    def run_sweep(self, config, out_dir: Path, *, trials: list[Trial], steps: int, max_train: int,
                  on_update: Callable[[SweepResult], None] | None = None,
                  stop: threading.Event | None = None) -> SweepResult:
        assert self._run_sweep is not None, "this test runs no sweep"
        return self._run_sweep(config, out_dir, trials=trials, steps=steps, max_train=max_train, on_update=on_update,
                               stop=stop)


RUN = Path("/runs/demo-run")
SIZE = (100, 30)


def loop_app(tmp_path: Path, *, quiet: bool = True, **kwargs):
    """The wizard with these fakes and RUN as the current run; `quiet` drops toasts (they carry
    per-run ids, which would make pictures flaky; what they say is also on screen)."""
    from tuneui.screens.state import WizardState

    app = wizard(LoopEngine(tmp_path, **kwargs), first_run=False, state=WizardState(run_dir=RUN))
    if quiet:
        app.notify = lambda *args, **kw: None  # type: ignore[method-assign]
    return app
