"""FakeEngine: the real engine facade with only the slow calls replaced, for the wizard's tests.

`FakeEngine` subclasses `tuneui.engine.LocalEngine`, so it satisfies the `Engine` protocol the app
is typed against (mypy checks it) and every cheap call is the real one: the model inspection of the
demo model, loading a small dataset, the cleaning pipeline, the recommendation, the what-if parser,
the event follower. Only what is slow or machine-dependent is replaced (the hardware probe, the
token measurement that needs a tokenizer, training processes, generation, evaluation, export), and
those fakes return the contract's own types, so they cannot drift from the engine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneui.contract import events as ev
from tuneui.contract.config import RunConfig
from tuneui.contract.datasets import Example, Preview, TokenInsight, TokenStats
from tuneui.contract.events import EXIT_CODES, EventWriter, read_events
from tuneui.contract.facade import Engine
from tuneui.contract.hardware import GPUInfo, HardwareProfile
from tuneui.contract.modelinfo import ModelFiles, ModelInfo
from tuneui.contract.runs import RunSummary
from tuneui.engine import LocalEngine
from tuneui.screens.app import TuneApp

GiB = 1024**3
CLOCK = 1_790_000_000.0  # a fixed "now" for every snapshot


def fixed_hardware(gpu_gib: float | None = None) -> HardwareProfile:
    hw = HardwareProfile(accelerator="cpu", cpu_cores=8, ram_total_bytes=32 * GiB, ram_available_bytes=24 * GiB,
                         disk_free_bytes=200 * GiB, disk_path="/data", source="nvidia-smi")
    if gpu_gib:
        hw.accelerator = "cuda"
        hw.gpus = [GPUInfo(index=0, name="NVIDIA GeForce RTX 4090", total_bytes=int(gpu_gib * GiB),
                           free_bytes=int(gpu_gib * GiB) - GiB, compute_capability="8.9", bf16=True, tflops=165.0)]
    return hw


def write_dataset(path: Path, n: int = 24, bad_line: bool = True) -> Path:
    lines = []
    for i in range(n):
        a, b = i % 7 + 1, i % 5 + 2
        lines.append(json.dumps({"messages": [{"role": "user", "content": f"What is {a} plus {b}?"},
                                              {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}]}))
    if bad_line:
        lines.insert(3, '{"messages": [broken json')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fake_token_insight(examples: list[Example], max_seq_length: int) -> TokenInsight:
    """Token lengths as if a tokenizer had measured them (the real one needs the demo model built)."""
    from tuneui.data.stats import length_stats

    lengths = [20 + (i * 7) % 40 for i in range(len(examples))]
    over = sum(1 for n in lengths if n > max_seq_length)
    stats = TokenStats(lengths=length_stats(lengths, "tokens"), max_seq_length=max_seq_length, over_max=over,
                       answer_cut=over, measured=len(lengths), total=len(examples))
    preview = Preview(segments=[{"text": "### user:\nWhat is 1 plus 2?\n\n### assistant:\n", "trained": False},
                                {"text": "1 plus 2 is 3.</s>", "trained": True}], tokens=24, trained_tokens=8,
                      max_seq_length=max_seq_length)
    return TokenInsight(stats=stats, preview=preview, max_seq_length=max_seq_length)


class FakeHandle:
    """A run 'process' whose events the test writes; stop() writes the stopped event like the engine."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.pid = 4242
        self.code: int | None = None
        self.stopped = threading.Event()

    def poll(self) -> int | None:
        return self.code

    def stop(self) -> bool:
        EventWriter(self.run_dir).emit(ev.Stopped(step=3, reason="stopped by the user",
                                                  checkpoint=str(self.run_dir / "checkpoints" / "step-3")))
        self.code = 130
        self.stopped.set()
        return True


@dataclass
class FakeRunner:
    root: Path
    started: list[tuple[RunConfig, Path, bool]] = field(default_factory=list)
    handles: list[FakeHandle] = field(default_factory=list)
    script: list[dict[str, Any]] = field(default_factory=list)  # events written right after start

    def start_run(self, config: RunConfig, run_dir: Path | None = None, *, resume: bool = False) -> FakeHandle:
        run_dir = Path(run_dir or self.root / config.name)
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / "run.toml")
        self.started.append((config, run_dir, resume))
        writer = EventWriter(run_dir)
        for raw in self.script:
            event = ev.parse_event(raw)
            assert event is not None, raw
            writer.emit(event)
        handle = FakeHandle(run_dir)
        last = self.script[-1]["type"] if self.script else None
        handle.code = EXIT_CODES.get(last or "")  # the "process" has exited
        self.handles.append(handle)
        return handle

    def attach(self, run_dir: Path) -> FakeHandle:
        handle = FakeHandle(run_dir)
        events = read_events(run_dir)
        handle.code = EXIT_CODES.get(events[-1].type) if events else None
        return handle


class FakeEngine(LocalEngine):
    def __init__(self, tmp_path: Path, *, gpu_gib: float | None = 24, runs: list[RunSummary] | None = None,
                 runner: FakeRunner | None = None, relative: bool = False,
                 inspect_model: Callable[[str], ModelInfo] | None = None,
                 probe_hardware: Callable[[], HardwareProfile] | None = None) -> None:
        self.gpu_gib = gpu_gib
        self.runs = runs  # None: the real runs folder
        self.runner = runner or FakeRunner(Path("runs") if relative else tmp_path / "runs")
        sample = write_dataset(tmp_path / "sample.jsonl", bad_line=False)
        # Snapshots run in tmp_path, and paths on screen must not name it.
        self.sample = Path("sample.jsonl") if relative else sample
        self._pairs_dir, self._relative = tmp_path / "demo-preference", relative
        self._inspect, self._probe = inspect_model, probe_hardware

    def probe_hardware(self) -> HardwareProfile:
        return self._probe() if self._probe else fixed_hardware(self.gpu_gib)

    def parse_gpus(self, spec: str) -> HardwareProfile:
        hw = super().parse_gpus(spec)  # the real parser, with this machine's RAM replaced by fixed numbers
        hw.cpu_cores, hw.ram_total_bytes, hw.ram_available_bytes = 8, 32 * GiB, 24 * GiB
        return hw

    def inspect_model(self, model: str) -> ModelInfo:
        return self._inspect(model) if self._inspect else super().inspect_model(model)

    def model_files(self, model: str) -> ModelFiles:
        # Pictures as on a fresh machine: whether this one has the demo model cached depends on
        # which tests ran before (real_demo_model_dir links it into the session's cache).
        return ModelFiles() if model == "demo" else super().model_files(model)

    def sample_dataset_path(self) -> Path:
        return self.sample

    def sample_pairs_paths(self) -> tuple[Path, Path]:
        """The real pairs, written in the test's folder (named relative to it for snapshots)."""
        from tuneui.demo_preference import ensure_files

        train, held_out = ensure_files(self._pairs_dir)
        if self._relative:
            return Path(self._pairs_dir.name, train.name), Path(self._pairs_dir.name, held_out.name)
        return train, held_out

    def token_insight(self, examples: list[Example], config: RunConfig) -> TokenInsight:
        return fake_token_insight(examples, config.max_seq_length)

    def start_run(self, config: RunConfig, run_dir: Path | None = None, *, resume: bool = False) -> FakeHandle:
        return self.runner.start_run(config, run_dir, resume=resume)

    def attach(self, run_dir: Path) -> FakeHandle:
        return self.runner.attach(run_dir)

    def list_runs(self) -> list[RunSummary]:
        return super().list_runs() if self.runs is None else list(self.runs)

    def installed_trackers(self) -> list[str]:
        return ["tensorboard"]  # the same picture whichever extras this environment has


_: type[Engine] = FakeEngine  # mypy: the fake keeps to the facade the app is typed against


def llama_7b(model: str) -> ModelInfo:
    """Llama-2-7B's shape (a published config): big enough that the technique choice matters."""
    from tuneui.models import info_from_config
    from tuneui.recommend.shapes import REFERENCE_CONFIGS

    return info_from_config(REFERENCE_CONFIGS["7B"], name="llama-2-7b")


def make_engine(tmp_path: Path, **kwargs: Any) -> FakeEngine:
    return FakeEngine(tmp_path, **kwargs)


def wizard(engine: Engine, **kwargs: Any) -> TuneApp:
    """The real app on `engine`, with a fixed clock and a quick event poll."""
    return TuneApp(engine, clock=lambda: CLOCK, poll_interval=0.02, **kwargs)


def canned_events(n_steps: int = 30, *, end: str | None = "finished", t0: float = CLOCK - 120) -> list[dict]:
    """A plausible run: falling loss, two evals, a checkpoint, then the terminal event."""
    events: list[dict[str, Any]] = [
        {"type": "started", "time": t0, "step": 0, "run_dir": "/runs/demo", "technique": "lora",
         "model": "demo", "total_steps": n_steps, "train_examples": 180, "val_examples": 20,
         "dropped_examples": 0, "resumed_from": None}]
    for s in range(1, n_steps + 1):
        loss = 3.2 * (0.9 ** s) + 0.4
        events.append({"type": "step", "time": t0 + 2 * s, "step": s, "loss": round(loss, 4),
                       "lr": 2e-4 * (1 - s / (n_steps + 1)), "grad_norm": 1.1, "tokens_per_s": 1520.0,
                       "mem_bytes": 812 * 1024**2, "epoch": round(s / n_steps, 3)})
        if s % 10 == 0:
            events.append({"type": "eval", "time": t0 + 2 * s + 1, "step": s, "eval_loss": round(loss + 0.15, 4)})
    if end == "finished":
        events.append({"type": "finished", "time": t0 + 2 * n_steps + 2, "step": n_steps, "train_loss": 0.53,
                       "eval_loss": 0.71, "report": {}, "adapter_path": "/runs/demo/adapter"})
    elif end == "failed":
        events.append({"type": "failed", "time": t0 + 2 * n_steps + 2, "step": n_steps,
                       "reason": "loss became NaN at step 30", "advice": "lower the learning rate (try 5e-5)"})
    return events


def preference_events(n_steps: int = 30) -> list[dict]:
    """A DPO run's stream, shaped like the measured demo-tiny runs (tests/engine/test_preference_watch.py): the
    margin grows, the rejected reward falls faster than the chosen one, which starts to fall too; a validation
    every 10 steps, and the warning the chosen replies' fall raises."""
    events = canned_events(n_steps, end=None)[:1]
    t0 = events[0]["time"]
    for s in range(1, n_steps + 1):
        chosen = 0.25 * s ** 0.5 - 0.03 * s
        rejected = -0.2 * s ** 0.8
        events.append({"type": "step", "time": t0 + 2 * s, "step": s, "loss": round(0.69 * 0.93 ** s + 0.05, 4),
                       "lr": 5e-6, "grad_norm": 3.2, "tokens_per_s": 910.0, "mem_bytes": 1.4 * 1024**3,
                       "epoch": round(s / n_steps, 3), "total_steps": n_steps,
                       "rewards_chosen": round(chosen, 4), "rewards_rejected": round(rejected, 4),
                       "reward_margin": round(chosen - rejected, 4), "reward_accuracy": min(1.0, 0.5 + s / 40)})
        if s % 10 == 0:
            events.append({"type": "eval", "time": t0 + 2 * s + 1, "step": s, "pref_accuracy": 0.6 + s / 300,
                           "pref_margin": round(0.04 * s, 3), "logp_chosen": -48.0 - 0.1 * s,
                           "logp_rejected": -52.0 - 0.25 * s, "logp_drift": round(-0.06 * s, 3), "pref_pairs": 20})
    events.append({"type": "warning", "time": t0 + 2 * n_steps + 1, "step": n_steps,
                   "reason": "the chosen replies are becoming less likely: their log-probability fell 3 evaluations "
                             "in a row (-48.0 -> -51.0), 1.8 nats below the reference model",
                   "advice": "lower the learning rate or raise pref_beta"})
    return events


def typed(events: list[dict[str, Any]]) -> list[ev.Event]:
    out = [ev.parse_event(e) for e in events]
    assert all(out), "a canned event that the contract does not accept"
    return out  # type: ignore[return-value]


async def settle(pilot, timeout: float = 60.0) -> None:
    """Wait until every worker except the run follower is done, then let the UI process messages."""
    import asyncio
    import time

    from textual.worker import WorkerState

    app = pilot.app
    deadline = time.monotonic() + timeout

    def busy() -> bool:
        return any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) and w.group != "follow" for w in app.workers)

    # A worker's result message may start the next worker (sample path found -> load it): settled
    # means no worker running after the UI has processed what the last one posted.
    while True:
        while busy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"workers still running: {[w.name for w in app.workers]}")
            await asyncio.sleep(0.02)
        await pilot.pause()
        if not busy():
            break


async def wait_for(pilot, predicate, timeout: float = 60.0) -> None:
    """Wait (polling the UI) until predicate() is true."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)
    await pilot.pause()
