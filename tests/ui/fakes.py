"""Fakes for the wizard's Services: fixed hardware, canned cleaning/recommendation, a fake runner.

Real engine pieces that are cheap and deterministic (inspect_model("demo"), load_dataset on a small
file, HardwareProfile/GPUInfo dataclasses) are used as they are, so a change of their shape shows up
here as well.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneui.hardware import GPUInfo, HardwareProfile
from tuneui.training.events import EventWriter

from screens.services import Services

GiB = 1024**3
CLOCK = 1_790_000_000.0  # a fixed "now" for every snapshot


def fixed_hardware(gpu_gib: float | None = None) -> HardwareProfile:
    hw = HardwareProfile(accelerator="cpu", cpu_cores=8, ram_total_bytes=32 * GiB, ram_available_bytes=24 * GiB,
                         disk_free_bytes=200 * GiB, disk_path="/data", source="nvidia-smi")
    if gpu_gib:
        hw.accelerator = "cuda"
        hw.gpus = [GPUInfo(index=0, name="NVIDIA GeForce RTX 4090", total_bytes=int(gpu_gib * GiB),
                           free_bytes=int(gpu_gib * GiB) - GiB, compute_capability="8.9", bf16=True)]
    return hw


def fake_parse_gpus(spec: str) -> HardwareProfile:
    from tuneui.hardware import parse_gpus

    hw = parse_gpus(spec)  # the real parser, with this machine's RAM replaced by fixed numbers
    hw.cpu_cores, hw.ram_total_bytes, hw.ram_available_bytes = 8, 32 * GiB, 24 * GiB
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


@dataclass
class FakeCleanReport:
    before: int
    after: int
    filters: list[dict]

    def to_dict(self) -> dict:
        return {"before": self.before, "after": self.after, "filters": self.filters}


@dataclass
class FakeCleanResult:
    kept: list
    report: FakeCleanReport


def fake_clean(conversations: list, options: dict) -> FakeCleanResult:
    seen, kept, dups = set(), [], []
    for conv in conversations:
        key = json.dumps(conv, sort_keys=True)
        if options.get("exact_dedup", True) and key in seen:
            dups.append({"index": len(kept) + len(dups), "conversation": conv, "reason": "exact duplicate"})
            continue
        seen.add(key)
        kept.append(conv)
    filters = [{"name": "exact_duplicates", "description": "the same example again", "enabled": True,
                "removed": len(dups), "modified": 0, "examples": dups[:3]},
               {"name": "too_long", "description": "examples longer than max_length", "enabled": False,
                "removed": 0, "modified": 0, "examples": []},
               {"name": "pii", "description": "personal data and secrets", "enabled": True, "removed": 0,
                "modified": 1, "examples": [{"index": 2, "action": "masked", "text": "user: mail <EMAIL>"}]}]
    return FakeCleanResult(kept, FakeCleanReport(len(conversations), len(kept), filters))


def fake_clean_defaults() -> dict:
    return {"exact_dedup": True, "near_dedup": True, "drop_pii": False, "min_chars": 1}


def fake_token_insight(conversations: list, config: Any) -> dict:
    from tuneui.data.stats import length_stats

    lengths = [20 + (i * 7) % 40 for i in range(len(conversations))]
    over = sum(1 for n in lengths if n > config.max_seq_length)
    stats = {"lengths": length_stats(lengths, "tokens").to_dict(), "max_seq_length": config.max_seq_length,
             "over_max": over, "answer_cut": over, "answer_lost": 0, "measured": len(lengths),
             "total": len(conversations)}
    preview = [{"text": "### user:\nWhat is 1 plus 2?\n\n### assistant:\n", "trained": False},
               {"text": "1 plus 2 is 3.</s>", "trained": True}]
    return {"stats": stats, "preview": preview, "max_seq_length": config.max_seq_length}


@dataclass
class FakeRecommendation:
    technique: str
    reasons: list[str]
    alternatives: list[dict]
    rag_advice: str | None = None

    def run_config_updates(self) -> dict:
        return {"technique": self.technique, "micro_batch_size": 4, "gradient_accumulation_steps": 1,
                "gradient_checkpointing": False}

    def to_dict(self) -> dict:
        return {"technique": self.technique, "fits": True, "label": self.technique.upper(), "reasons": self.reasons,
                "alternatives": self.alternatives, "rag_advice": self.rag_advice,
                "time": {"text": "about 5 min per epoch (an estimate)"}}


def fake_recommend(model_info: Any, hardware: Any, seq_len: int | None, stats: Any) -> FakeRecommendation:
    gpus = getattr(hardware, "gpus", [])
    mem = gpus[0].total_bytes if gpus else hardware.ram_available_bytes
    where = f"one {mem / GiB:.0f} GiB GPU" if gpus else "the CPU"
    rows = [("full", 30 * GiB, 600), ("lora", 9 * GiB, 300), ("qlora", 5 * GiB, 420), ("freeze", 12 * GiB, 280)]
    alts = [{"label": t.upper() if t != "freeze" else "freeze top 2 layers", "technique": t, "optimizer": "adamw",
             "gradient_checkpointing": False, "micro_batch_size": 4, "peak_bytes": peak, "fits": peak <= mem,
             "available": True, "recommended": t == ("lora" if gpus else "full"), "est_seconds": s,
             "breakdown": {"weights": peak // 2, "activations": peak // 2}} for t, peak, s in rows]
    choice = "lora" if gpus else "full"
    return FakeRecommendation(choice, [f"planned for {where}", f"LoRA needs 9.0 GiB of {mem / GiB:.0f} GiB"
                                       if gpus else "the demo model is tiny: a full fine-tune fits in RAM"],
                              alts, rag_advice="Your examples look like look-ups of facts; retrieval (RAG) "
                              "may answer them better than training." if stats and stats.get("rag") else None)


class FakeHandle:
    """A run 'process' whose events the test writes; stop() writes the stopped event like the engine."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.pid = 4242
        self.code: int | None = None
        self.stopped = threading.Event()

    def poll(self) -> int | None:
        return self.code

    def stop(self) -> None:
        EventWriter(self.run_dir).emit("stopped", 3, reason="stopped by the user",
                                       checkpoint=str(self.run_dir / "checkpoints" / "step-3"))
        self.code = 130
        self.stopped.set()

    def kill(self) -> None:
        self.code = -9


@dataclass
class FakeRunner:
    root: Path
    started: list = field(default_factory=list)
    handles: list = field(default_factory=list)
    script: list[dict] = field(default_factory=list)  # events written right after start

    def start_run(self, config: Any, run_dir: Path | None = None, *, resume: bool = False) -> FakeHandle:
        run_dir = Path(run_dir or self.root / config.name)
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / "run.toml")
        self.started.append((config, run_dir, resume))
        writer = EventWriter(run_dir)
        for ev in self.script:
            ev = dict(ev)
            writer.emit(ev.pop("type"), ev.pop("step", 0), **ev)
        handle = FakeHandle(run_dir)
        last = self.script[-1]["type"] if self.script else None
        handle.code = {"finished": 0, "failed": 1, "stopped": 130}.get(last)  # the "process" has exited
        self.handles.append(handle)
        return handle

    def attach(self, run_dir: Path) -> FakeHandle:
        from tuneui.training.events import read_events

        handle = FakeHandle(run_dir)
        events = read_events(run_dir)
        last = events[-1]["type"] if events else None
        handle.code = {"finished": 0, "failed": 1, "stopped": 130}.get(last)
        return handle


def make_services(tmp_path: Path, *, gpu_gib: float | None = 24, runs: list | None = None,
                  runner: FakeRunner | None = None, relative: bool = False, **overrides) -> Services:
    from tuneui.data import load_dataset
    from tuneui.models import inspect_model

    runner = runner or FakeRunner(Path("runs") if relative else tmp_path / "runs")
    sample = write_dataset(tmp_path / "sample.jsonl", bad_line=False)
    if relative:  # snapshots: the test runs in tmp_path, and paths on screen must not name it
        sample = Path("sample.jsonl")
    services = Services(
        probe_hardware=lambda: fixed_hardware(gpu_gib),
        parse_gpus=fake_parse_gpus,
        inspect_model=inspect_model,
        ensure_demo_model=lambda: tmp_path / "demo-model",
        sample_dataset_path=lambda: sample,
        load_dataset=lambda path, fmt="auto", columns=None: load_dataset(path, fmt=fmt, columns=columns or None),
        clean=fake_clean,
        clean_defaults=fake_clean_defaults,
        token_insight=fake_token_insight,
        recommend=fake_recommend,
        alternative_seconds=lambda rec, stats: [],
        start_run=runner.start_run,
        attach=runner.attach,
        list_runs=lambda: list(runs or []),
        clock=lambda: CLOCK,
        poll_interval=0.02,
    )
    services.extras["runner"] = runner
    for key, value in overrides.items():
        setattr(services, key, value)
    return services


def canned_events(n_steps: int = 30, *, end: str | None = "finished", t0: float = CLOCK - 120) -> list[dict]:
    """A plausible run: falling loss, two evals, a checkpoint, then the terminal event."""
    events = [{"type": "started", "time": t0, "step": 0, "run_dir": "/runs/demo", "technique": "lora",
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


async def settle(pilot, timeout: float = 60.0) -> None:
    """Wait until every worker except the run follower is done, then let the UI process messages."""
    import asyncio
    import time

    from textual.worker import WorkerState

    app = pilot.app
    deadline = time.monotonic() + timeout
    while any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) and w.group != "follow" for w in app.workers):
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers still running: {[w.name for w in app.workers]}")
        await asyncio.sleep(0.02)
    await pilot.pause()


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
