"""Time from `tuneui train --demo` starting to its first optimizer step, two source trees side by side.

    python benchmarks/first_step.py --before /path/to/main --after . --rounds 5

Each round runs both trees (order alternating), each in a fresh cache folder that links the already
converted demo model but holds no cached base figures: the first-timer's case, where the base model has
never been measured on this data. The run is killed at its first `step` event (nothing after it is timed).
Times are wall-clock from just before the process is started to the `time` of the events, so the
interpreter start and every import are included. The machine's load average is printed per round:
on a shared machine it says how far the figures can be trusted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tuneui.contract import paths

LINKED = ("demo-model-", "smollm2-135m-instruct-", "demo-preference")  # converted once, reused by every round


def fresh_cache(root: Path) -> Path:
    cache = root / "cache"
    cache.mkdir(parents=True)
    for entry in paths.cache_dir().iterdir():
        if entry.name.startswith(LINKED):
            (cache / entry.name).symlink_to(entry)
    return cache


def first_step(tree: Path, work: Path, timeout: float, threads: int | None) -> dict:
    run_dir = work / "run"
    env = {**os.environ, "PYTHONPATH": str(tree), "TUNEUI_CACHE_DIR": str(fresh_cache(work)),
           "PYTHONUNBUFFERED": "1"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.time()
    # cwd: `python -m` puts the working directory before PYTHONPATH; started in a source tree, it would run that one
    proc = subprocess.Popen([sys.executable, "-m", "tuneui", "train", "--demo", "-o", str(run_dir)], env=env,
                            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    found: dict = {}
    try:
        while time.time() - t0 < timeout and "step" not in found:
            if proc.poll() is not None:
                raise RuntimeError(f"{tree}: the run ended ({proc.returncode}) before its first step")
            try:
                lines = (run_dir / "events.jsonl").read_text().splitlines()
            except OSError:
                lines = []
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line being written
                found.setdefault(event["type"], event["time"])
                if event["type"] == "preparing" and event.get("message", "").startswith("training: step"):
                    found.setdefault("step_began", event["time"])  # trees from 2026-12-02 on say it
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if "step" not in found:
        raise RuntimeError(f"{tree}: no step within {timeout:.0f} s")
    # which code ran, told by what it did: a cold cache makes main measure the base (its step-0 point) first
    base_first = "eval" in found and found["eval"] < found["step"]
    began = found.get("step_began")
    return {"started": found["started"] - t0, "first_step": found["step"] - t0, "base_first": base_first,
            "began": began - t0 if began is not None else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="source tree of the baseline (e.g. main)")
    parser.add_argument("--after", type=Path, required=True, help="source tree with the change")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one run may take to its first step")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both (on a crowded machine 1 thread "
                        "spares torch's spinning threads; default: torch's own choice)")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    work = Path(tempfile.mkdtemp(prefix="tuneui-first-step-"))
    try:
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                load = os.getloadavg()[0]
                got = first_step(trees[name], work / f"{name}-{r}", args.timeout, args.threads) | {"load": load}
                results[name].append(got)
                began = f"{got['began']:6.1f} s" if got["began"] is not None else "     –  "
                print(f"round {r + 1} {name:<6} started {got['started']:6.1f} s  step 1 began {began}  first step "
                      f"done {got['first_step']:6.1f} s  (load {load:.1f}; base measured first: {got['base_first']})",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'tree':<8}{'first step: median':>20}{'min':>8}{'max':>8}{'started: median':>18}{'load':>12}")
    medians = {}
    for name, rows in results.items():
        firsts = [x["first_step"] for x in rows]
        medians[name] = statistics.median(firsts)
        loads = [x["load"] for x in rows]
        print(f"{name:<8}{medians[name]:>19.1f}s{min(firsts):>7.1f}s{max(firsts):>7.1f}s"
              f"{statistics.median(x['started'] for x in rows):>17.1f}s{min(loads):>6.1f}-{max(loads):.1f}")
    print(f"threads: {args.threads or 'torch default'}")
    print(json.dumps({"first_step_before_s": round(medians["before"], 1), "first_step_after_s":
                      round(medians["after"], 1), "after_vs_before": round(medians["after"] / medians["before"], 3),
                      "rounds": args.rounds}))


if __name__ == "__main__":
    main()
