"""How fast a training process honours SIGINT/SIGTERM, phase by phase.

Each measurement starts a real `python -m tuneui.training` run (LoRA on the demo model), waits
until it is in the phase under test, sends the signal and times until the process has exited.
The phase is read from the run's lock (`run.lock` says what its holder is doing); a checkpoint
save is caught by its scratch folder appearing. Phases and what a stop means there:

  setup           importing, reading the config, loading the tokenizer   -> stops at once
  tokenising      encoding the training set (the sample data x8)         -> stops at once
  base evaluation generating the base model's replies, after training   -> stops at once
                  (the adapter is saved first)
  training        between optimizer steps                                -> finishes the step,
                                                                            checkpoints, stops
  saving          while a checkpoint is being written                    -> finishes the save, stops

Two figures per signal: until the run *acknowledged* it (its first event after the signal: the
`stopped` event, or in training the "finishing the current step" warning) and until the process
had *exited*. Rounds are interleaved (every phase once per round), >= 5 rounds; the table shows the
median and the spread, and the ratio to the 2 s the issue allows.

  python benchmarks/signal_latency.py              # 5 rounds
  python benchmarks/signal_latency.py --rounds 9

Ends with one JSON line: the median seconds to exit and to acknowledge per phase, and the worst.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuneui.contract import runlock  # noqa: E402
from tuneui.contract.config import RunConfig  # noqa: E402
from tuneui.contract.events import read_events  # noqa: E402
from tuneui.demo import sample_dataset_path  # noqa: E402

PHASES = ("setup", "tokenising", "base evaluation", "training", "saving")
BUDGET_S = 2.0


def config(root: Path, phase: str) -> RunConfig:
    lines = sample_dataset_path().read_text().splitlines()
    train, val = root / "train.jsonl", root / "val.jsonl"
    # tokenising needs a set big enough to still be encoding when the signal comes
    train.write_text("\n".join(lines[:3900] * (8 if phase == "tokenising" else 1)) + "\n")
    val.write_text("\n".join(lines[3900:3940]) + "\n")
    return RunConfig(name="latency", model="demo-tiny", dataset=str(train), val_dataset=str(val), clean=False,
                     technique="lora", lora_r=8, micro_batch_size=4, logging_steps=1, eval_steps=0,
                     # the base is measured after training (tuneui/training/base_eval.py): a short run reaches it
                     max_steps=2 if phase == "base evaluation" else 400,
                     save_steps=1 if phase == "saving" else 0, eval_max_examples=8 if phase == "base evaluation" else 0,
                     eval_max_new_tokens=400, warmup_ratio=0.0, seed=7)


def in_phase(run: Path, phase: str) -> bool:
    if phase == "saving":
        return any((run / "trainer").glob("checkpoint-*"))
    if phase == "training":
        return any(e.type == "step" and e.step >= 2 for e in read_events(run))
    owner = runlock.holder(run)
    return owner is not None and owner.phase.startswith(phase)  # "base evaluation: 8/8 prompts answered"


def measure(phase: str, sig: int, root: Path) -> tuple[float, float] | None:
    run = root / "run"
    toml = config(root, phase).save(root / "run.toml")
    proc = subprocess.Popen([sys.executable, "-m", "tuneui.training", str(toml), "-o", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 600
        while not in_phase(run, phase):
            if proc.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        if phase in ("tokenising", "base evaluation"):
            time.sleep(0.3)  # inside the phase, not at its first instruction
        seen = len(read_events(run))
        sent, sent_wall = time.monotonic(), time.time()
        proc.send_signal(sig)
        proc.wait(timeout=300)
        took = time.monotonic() - sent
        events = read_events(run)
        last = events[-1] if events else None
        if proc.returncode != 130 or last is None or last.type != "stopped":
            print(f"  {phase}: unexpected end (exit {proc.returncode}, last event {last and last.type})")
            return None
        ack = min(e.time for e in events[seen:]) - sent_wall  # event times have millisecond resolution
        return max(ack, 0.0), took
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[str, list[float]] = {p: [] for p in PHASES}
    acks: dict[str, list[float]] = {p: [] for p in PHASES}
    sigs = (signal.SIGINT, signal.SIGTERM)
    with tempfile.TemporaryDirectory(prefix="tuneui-latency-") as tmp:
        os.environ.setdefault("TUNEUI_HOME", str(Path(tmp) / "home"))
        for r in range(args.rounds):
            for i, phase in enumerate(PHASES):
                root = Path(tmp) / f"r{r}-{i}"
                root.mkdir()
                sig = sigs[(r + i) % 2]
                got = measure(phase, sig, root)
                if got is not None:
                    acks[phase].append(got[0])
                    results[phase].append(got[1])
                print(f"round {r + 1}: {signal.Signals(sig).name:7} during {phase:15} "
                      + (f"acknowledged after {got[0]:.2f} s, exited after {got[1]:.2f} s" if got else "missed"),
                      flush=True)
    print()
    print(f"| phase | n | acknowledged, median s | exited, median s | exited, min-max s | exit / {BUDGET_S:g} s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    summary, summary_ack = {}, {}
    for phase, xs in results.items():
        if not xs:
            print(f"| {phase} | 0 | - | - | - | - |")
            continue
        med, ack = statistics.median(xs), statistics.median(acks[phase])
        summary[phase], summary_ack[phase] = round(med, 3), round(ack, 3)
        print(f"| {phase} | {len(xs)} | {ack:.2f} | {med:.2f} | {min(xs):.2f}-{max(xs):.2f} | {med / BUDGET_S:.2f} |")
    worst = max((max(xs) for xs in results.values() if xs), default=None)
    print(json.dumps({"exit_median_s": summary, "ack_median_s": summary_ack,
                      "worst_exit_s": round(worst, 3) if worst is not None else None, "budget_s": BUDGET_S}))


if __name__ == "__main__":
    main()
