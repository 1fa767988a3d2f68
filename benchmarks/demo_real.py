"""`tuneui train --demo` end to end, as a user runs it: the real model (SmolLM2-135M-Instruct), LoRA,
the ISO-date task, both evaluations.

Each round runs the CLI in a subprocess and reads what it wrote: time to the first training step,
total wall time, the CPU seconds it used, held-out exact match base -> tuned (goal: near 0 ->
>= 0.8), stop rates, and the general-text perplexity ratio (goal <= 1.3), with the load average
at the start and end of the round beside the times (this machine is shared: wall time there is
the load, CPU seconds what an idle core gives). The goal for the whole run is <= 5 minutes on 2
quiet cores.

Every round gets its own empty tuneui cache (the model folder linked in), so the base model is
evaluated as on a first run; `--second-run` adds, in the same cache, the run a user makes next,
where the base's figures come from the cache. `--threads` sets OMP_NUM_THREADS for the run
(default: torch's own choice, one thread per core); several values are interleaved round by round.

    python benchmarks/demo_real.py --rounds 3
    python benchmarks/demo_real.py --rounds 3 --threads 1 2
    python benchmarks/demo_real.py --rounds 1 --set max_steps=10 --set micro_batch_size=8
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _load() -> float:
    return os.getloadavg()[0]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one_run(cache: Path, out: Path, threads: int | None, sets: list[str]) -> dict:
    env = {**os.environ, "TUNEUI_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    args = [a for kv in sets for a in ("--set", kv)]
    load0, cpu0, t0 = _load(), _children_cpu(), time.time()
    proc = subprocess.run([sys.executable, "-m", "tuneui", "train", "--demo", "-o", str(out), *args],
                          env=env, capture_output=True, text=True)
    wall, cpu, load1 = time.time() - t0, _children_cpu() - cpu0, _load()
    if proc.returncode != 0:
        raise SystemExit(f"tuneui train --demo failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    started = next(e for e in events if e["type"] == "started")
    steps = [e for e in events if e["type"] == "step"]
    finished = next(e for e in events if e["type"] == "finished")
    report = json.loads((out / "report.json").read_text())
    return {
        "threads": threads, "wall_s": wall, "cpu_s": cpu, "load": (load0, load1),
        # From the command's start: setup (load model, clean and split data) and the base evaluation.
        "first_step_s": steps[0]["time"] - t0 if steps else None,
        "setup_s": started["time"] - t0, "train_s": finished["time"] - started["time"],
        "em": (report["task_metric"]["base"], report["task_metric"]["tuned"]),
        "em_ci": (report["exact_match_ci"]["base"], report["exact_match_ci"]["tuned"]),
        "stop": (report["stop_rate"]["base"], report["stop_rate"]["tuned"]),
        "ppl": (report["forgetting"]["base_perplexity"], report["forgetting"]["tuned_perplexity"]),
        "ratio": report["forgetting"]["ratio"], "verdict": report["forgetting"]["verdict"],
        "base_cached": report.get("base_eval_cached"), "n": report["task_metric"]["n"], "steps": report["steps"],
    }


def row(name: str, r: dict) -> str:
    return (f"{name:<18} {r['threads'] or 'auto':>7} {r['setup_s']:7.1f} {r['first_step_s'] or float('nan'):8.1f} "
            f"{r['wall_s']:7.1f} {r['cpu_s']:7.1f} {r['load'][0]:4.1f}-{r['load'][1]:<4.1f} "
            f"{r['em'][0]:.3f} -> {r['em'][1]:.3f}  {r['stop'][0]:.2f} -> {r['stop'][1]:.2f}  {r['ratio']:.3f}"
            f"  {'yes' if r['base_cached'] else 'no'}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[0], help="OMP_NUM_THREADS values (0: torch's choice)")
    p.add_argument("--second-run", action="store_true", help="also time a second run with the base figures cached")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to tuneui train --set (a reduced recipe, say)")
    args = p.parse_args()
    from tuneui.demo_model_real import converted_dir, ensure_real_demo_model

    t = time.time()
    model = ensure_real_demo_model(hub=False, say=lambda m: print(f"  {m}", flush=True))
    print(f"model: {model} ({time.time() - t:.1f} s to obtain)")
    results: list[dict] = []
    print(f"{'round':<18} {'threads':>7} {'setup':>7} {'1st step':>8} {'wall':>7} {'CPU':>7} {'load':>9} "
          f"{'exact match':>14}  {'stop rate':>12}  ratio  base cached")
    for rnd in range(args.rounds):
        for threads in args.threads:
            with tempfile.TemporaryDirectory(prefix="tuneui-demo-bench-") as tmp:
                cache = Path(tmp) / "cache"
                link = cache / converted_dir().name
                link.parent.mkdir(parents=True)
                link.symlink_to(model.resolve(), target_is_directory=True)
                r = one_run(cache, Path(tmp) / "run", threads or None, args.sets)
                results.append(r)
                print(row(f"{rnd} first run", r), flush=True)
                if args.second_run:
                    r2 = one_run(cache, Path(tmp) / "run2", threads or None, args.sets)
                    r2["second"] = True
                    results.append(r2)
                    print(row(f"{rnd} second run", r2), flush=True)
    print(f"verdict (last run): {results[-1]['verdict']}")

    def med(xs: list[float]) -> list[float]:
        return [round(statistics.median(xs), 3), round(min(xs), 3), round(max(xs), 3)]

    print("\n(median, min, max) over rounds")
    for threads in args.threads:
        for second in (False, True):
            rs = [r for r in results if r["threads"] == (threads or None) and r.get("second", False) == second]
            if not rs:
                continue
            print(json.dumps({"threads": threads or "auto", "second_run": second, "rounds": len(rs),
                              "wall_s": med([r["wall_s"] for r in rs]), "cpu_s": med([r["cpu_s"] for r in rs]),
                              "first_step_s": med([r["first_step_s"] for r in rs]),
                              "em_tuned": med([r["em"][1] for r in rs]), "em_base": med([r["em"][0] for r in rs]),
                              "stop_tuned": med([r["stop"][1] for r in rs]), "stop_base": med([r["stop"][0] for r in rs]),
                              "ppl_ratio": med([r["ratio"] for r in rs]),
                              "load": med([x for r in rs for x in r["load"]])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
