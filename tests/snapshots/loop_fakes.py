"""(Not a test module.) Fakes for the Chat/Evaluate/Export screens: a scripted chat session whose
stream can be held mid-reply (to snapshot the streaming state), canned reports and runs."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "ui"))  # fakes.py (make_services, settle)

from fakes import CLOCK, make_services  # noqa: E402

REPORT = {
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
}


@dataclass
class FakeReply:
    text: str = ""
    tokens: int = 0
    stopped: bool = False
    finished: bool = False


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
        reply = reply if reply is not None else FakeReply()
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


def loop_services(tmp_path: Path, chat: FakeChat | None = None, report: dict | None = REPORT, runs=None,
                  **extras):
    from tuneui.compare import RunRow

    saved: list = []
    exports: list = []
    rows = runs if runs is not None else [
        RunRow(name="demo-lora", run_dir=str(tmp_path / "runs/demo-lora"), status="finished", technique="lora",
               learning_rate=2e-4, lora_r=16, steps=300, train_loss=0.91, val_loss=0.84, metric_name="exact_match",
               metric_base=0.0, metric_tuned=0.62, forgetting_ratio=1.10, forgetting_level="mild", seconds=512,
               started=CLOCK - 100, curve=[(s, 7.0 / (1 + s / 20)) for s in range(0, 301, 10)]),
        RunRow(name="demo-full", run_dir=str(tmp_path / "runs/demo-full"), status="finished", technique="full",
               learning_rate=2e-3, steps=300, train_loss=0.55, val_loss=0.61, metric_name="exact_match",
               metric_base=0.0, metric_tuned=0.81, forgetting_ratio=2.4, forgetting_level="noticeable",
               seconds=845, started=CLOCK - 200, curve=[(s, 7.0 / (1 + s / 8)) for s in range(0, 301, 10)]),
    ]
    services = make_services(tmp_path)
    services.clock = lambda: CLOCK
    services.extras.update({
        "open_chat": lambda path: chat or FakeChat(run_dir=Path(path)),
        "validation_prompts": lambda run_dir, limit=50: [
            {"messages": [{"role": "user", "content": "Translate to Zorbish: bread blue"}], "reference": "mib mur"},
            {"messages": [{"role": "user", "content": "What is 3 plus 4?"}], "reference": "7"}],
        "save_example": lambda run_dir, conv: saved.append((run_dir, conv)) or Path(run_dir) / "chat_examples.jsonl",
        "read_report": lambda run_dir: report,
        "evaluate_run": lambda run_dir: report,
        "compare_runs": lambda extra: rows,
        "gguf_converter": lambda: None,
        "export_run": lambda run, out, **kw: exports.append((run, out, kw)) or {
            "out_dir": str(out), "kind": "merged" if kw.get("merge") else "adapter",
            "files": ["README.md", "adapter_config.json", "adapter_model.safetensors", "reproduce.sh", "run.toml",
                      "tokenizer.json", "tokenizer_config.json"],
            "notes": ["GGUF not written: llama.cpp's converter is not installed"], "gguf": None, "hub_url": None},
        **extras,
    })
    services.extras["_saved"] = saved
    services.extras["_exports"] = exports
    return services


RUN = Path("/runs/demo-run")
SIZE = (100, 30)


def loop_app(tmp_path: Path, *, quiet: bool = True, **kwargs):
    """The wizard with these fakes and RUN as the current run; `quiet` drops toasts (they carry
    per-run ids, which would make pictures flaky; what they say is also on screen)."""
    from screens.app import TuneApp
    from screens.state import WizardState

    app = TuneApp(loop_services(tmp_path, **kwargs), first_run=False, state=WizardState(run_dir=RUN))
    if quiet:
        app.notify = lambda *args, **kw: None
    return app
