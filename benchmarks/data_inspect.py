"""Time from `tuneui data inspect FILE` start to its answer, beside `datasets.load_dataset` of the same
file, on a 50k-row chat file; both as fresh processes (imports included), rounds interleaved.

datasets' time is a cold load: a fresh cache directory each round, so it parses the file (with
pyarrow's JSON reader) and writes its Arrow cache as a first-time user's would. tuneui's answer is
more than a load: the kind and format with evidence, every problem with its line, word statistics.

  python benchmarks/data_inspect.py             # 50k rows, 5 rounds
  python benchmarks/data_inspect.py --rows 200000 --rounds 3

Ends with one JSON line: medians, spreads and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

DATASETS = ("import sys, datasets; datasets.disable_progress_bars(); "
            "ds = datasets.load_dataset('json', data_files=sys.argv[1], split='train', cache_dir=sys.argv[2]); "
            "print(len(ds))")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{cmd[:4]} failed:\n{proc.stderr[-2000:]}")
    return seconds


def main() -> None:
    from cleaning import write_dataset

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tuneui-bench-data")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    path, _ = write_dataset(args.rows, args.data)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    tuneui_s: list[float] = []
    datasets_s: list[float] = []
    for _ in range(args.rounds):
        tuneui_s.append(timed([sys.executable, "-m", "tuneui", "data", "inspect", str(path), "--json"], env))
        with tempfile.TemporaryDirectory() as cache:
            datasets_s.append(timed([sys.executable, "-c", DATASETS, str(path), cache], env))
    tm, dm = statistics.median(tuneui_s), statistics.median(datasets_s)
    print(f"{args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB JSONL), {args.rounds} interleaved rounds")
    print(f"  tuneui data inspect      median {tm:6.2f} s  (min {min(tuneui_s):.2f}, max {max(tuneui_s):.2f})")
    print(f"  datasets.load_dataset    median {dm:6.2f} s  (min {min(datasets_s):.2f}, max {max(datasets_s):.2f})")
    print(f"  tuneui / datasets: {tm / dm:.2f}x the time")
    print(json.dumps({"rows": args.rows, "tuneui_inspect_s": round(tm, 3), "datasets_load_s": round(dm, 3),
                      "tuneui_spread_s": [round(min(tuneui_s), 3), round(max(tuneui_s), 3)],
                      "datasets_spread_s": [round(min(datasets_s), 3), round(max(datasets_s), 3)],
                      "ratio": round(tm / dm, 3)}))


if __name__ == "__main__":
    main()
