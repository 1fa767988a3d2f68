"""Cleaning throughput, memory and near-duplicate accuracy, at 100k and 1M rows, side by side with
the previous (in-memory) pipeline.

Generates a chat dataset (JSONL) with planted exact duplicates (case/whitespace variants), near
duplicates (one or two words changed in long answers: word 5-gram Jaccard ~0.85-0.95), PII and junk
(empty/placeholder answers, refusals, mojibake), then runs what `tuneui data clean` runs: one
streaming pass of loading and cleaning (worker processes on every core), deduplication, the leak-free
split and the Parquet files. Each run is a fresh process; peak memory is the largest sum of the
resident memory of that process and its worker processes (sampled every 50 ms), so the workers count.
Rounds are interleaved (100k, 1M, 100k, ...), and the figures are medians with their spread.

  python benchmarks/cleaning.py                       # 100k rows, 5 rounds
  python benchmarks/cleaning.py --full                # 100k and 1M rows, 5 rounds each
  python benchmarks/cleaning.py --sizes 5000000 --rounds 1
  python benchmarks/cleaning.py --baseline main       # also the pipeline of git ref `main` (old API)

Ends with one JSON line: rows_per_s, peak_mem_bytes, near_dup_precision and near_dup_recall per size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYLLABLES = "ka lo mi ne ru sa ti vo ze an el or us ib ex pra sto glu fen".split()
STOP = "the a of to and in is that it for with as on be this are or by from".split()


def _vocab(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def _text(rng: random.Random, vocab: list[str], n: int) -> str:
    words = [rng.choice(STOP) if rng.random() < 0.3 else rng.choice(vocab) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def write_dataset(rows: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """(JSONL path, JSON list of planted near-duplicate row numbers). Shares: 5% exact dups, 5% near
    dups, 3% PII, 2% junk. Written as it is generated, so any size fits in memory."""
    path, truth = folder / f"chat-{rows}.jsonl", folder / f"near-{rows}.json"
    if path.exists() and truth.exists():
        return path, truth
    rng = random.Random(seed)
    vocab = _vocab(rng, 20000)
    near: list[int] = []
    base: list[tuple[str, str]] = []  # (prompt, answer) of a sample of earlier ordinary rows
    pii = [lambda: f"mail {rng.choice(vocab)}{rng.randint(1, 99)}@example.com",
           lambda: f"call +1 415 555 {rng.randint(1000, 9999)}", lambda: "card 4539 1488 0343 6467",
           lambda: f"server 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.7",
           lambda: "key sk-" + "".join(rng.choice("abcdefghijkLMNOP0123456789") for _ in range(32))]
    junk = ["", "N/A", "As an AI language model, I cannot do that.", "I'm sorry, but I can't help with that.",
            "The cafÃ© menu is â€œgreatâ€\x9d today."]
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        while n < rows:
            r = rng.random()
            if base and r < 0.05:  # exact duplicate, differing only in case and spacing
                q, a = rng.choice(base)
                msgs = [{"role": "user", "content": "  " + q.upper() + " "}, {"role": "assistant", "content": a.upper()}]
            elif base and r < 0.10:  # near duplicate of a long example
                q, a = rng.choice(base)
                words = a.split()
                if len(words) < 80:
                    continue
                for _ in range(rng.randint(1, 2)):
                    words[rng.randrange(len(words))] = rng.choice(vocab)
                near.append(n)
                msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": " ".join(words)}]
            elif r < 0.13:
                msgs = [{"role": "user", "content": f"{_text(rng, vocab, rng.randint(8, 25))} {rng.choice(pii)()}"},
                        {"role": "assistant", "content": _text(rng, vocab, rng.randint(40, 120))}]
            elif r < 0.15:
                msgs = [{"role": "user", "content": _text(rng, vocab, rng.randint(8, 25))},
                        {"role": "assistant", "content": rng.choice(junk)}]
            else:
                q, a = _text(rng, vocab, rng.randint(8, 25)), _text(rng, vocab, rng.randint(60, 140))
                if len(base) < 50_000:
                    base.append((q, a))
                elif rng.random() < 0.02:
                    base[rng.randrange(len(base))] = (q, a)
                msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
            n += 1
    truth.write_text(json.dumps(near))
    return path, truth


class Meter:
    """Peak of (this process + its descendants)' resident memory, and their CPU time."""

    def __init__(self):
        import psutil

        self.me = psutil.Process()
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
                t = p.cpu_times()
                self.cpu[p.pid] = t.user + t.system
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> Meter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


def run_new(path: Path, out: Path) -> dict:
    from tuneui.cleaning.flow import load_and_clean, split_cleaned
    from tuneui.cleaning.output import write_report

    times = {}
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tuneui-bench-") as work:
        load, cleaned = load_and_clean(path, "auto", None, None, workdir=work)
        times["load+clean"] = time.perf_counter() - t
        t = time.perf_counter()
        split, _ = split_cleaned(cleaned, None, 42, out, load.kind)
        write_report(out, {"cleaning": cleaned.report.to_dict(), "split": split})
        times["split+write"] = time.perf_counter() - t
    return {"rows": load.records, "kept": cleaned.count, "removed": cleaned.report.removed,
            "near_removed": cleaned.removed["near_duplicates"], "leak_pairs": split["leakage"]["pairs_across_split"],
            "stages": times}


def run_old(path: Path, out: Path) -> dict:
    """The pipeline as it was before streaming: every conversation in memory (git ref's API)."""
    from tuneui.cleaning import clean, train_val_split
    from tuneui.cleaning.output import write_cleaned
    from tuneui.data import load_dataset

    times = {}
    t = time.perf_counter()
    loaded = load_dataset(path)
    result = clean(loaded.conversations, lines=loaded.lines)
    times["load+clean"] = time.perf_counter() - t
    t = time.perf_counter()
    split = train_val_split(result.kept, None, 42, deduplicated=True)
    write_cleaned(out, split.train, split.val, {"cleaning": result.to_dict(), "split": split.to_dict()})
    times["split+write"] = time.perf_counter() - t
    return {"rows": result.report.before, "kept": len(result.kept), "removed": result.report.removed,
            "near_removed": result.removed_indices["near_duplicates"],
            "leak_pairs": split.leakage["pairs_across_split"], "stages": times}


def worker(path: Path, truth: Path, old: bool) -> dict:
    near = set(json.loads(truth.read_text()))
    with tempfile.TemporaryDirectory() as tmp, Meter() as meter:
        start = time.perf_counter()
        r = (run_old if old else run_new)(path, Path(tmp) / "out")
        seconds = time.perf_counter() - start
    removed = set(r.pop("near_removed"))
    tp = len(removed & near)
    cpu = sum(meter.cpu.values())
    return r | {"seconds": round(seconds, 2), "rows_per_s": round(r["rows"] / seconds, 1),
                "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(r["rows"] / cpu, 1) if cpu else None,
                "peak_mem_bytes": meter.peak,
                "near_dup_precision": round(tp / len(removed), 4) if removed else 1.0,
                "near_dup_recall": round(tp / len(near), 4) if near else 1.0}


def datasketch_vs_tuneui(docs: int = 3000) -> dict:
    """Signatures + LSH index for the same documents: datasketch objects vs tuneui's numpy batches."""
    from datasketch import MinHash, MinHashLSH

    from tuneui.cleaning.minhash import near_duplicate_pairs

    rng = random.Random(1)
    vocab = _vocab(rng, 20000)
    texts = [_text(rng, vocab, rng.randint(60, 140)) for _ in range(docs)]
    t = time.perf_counter()
    proto = MinHash(num_perm=64)
    lsh = MinHashLSH(threshold=0.8, num_perm=64)
    for i, text in enumerate(texts):
        words = text.lower().split()
        # datasketch 2.0 wants the permutations' scheme named when they are passed in
        m = MinHash(num_perm=64, permutations=proto.permutations, **({"scheme": proto.scheme} if hasattr(proto, "scheme") else {}))
        m.update_batch({" ".join(words[k:k + 5]).encode() for k in range(max(1, len(words) - 4))})
        lsh.query(m)
        lsh.insert(i, m)
    ds = docs / (time.perf_counter() - t)
    t = time.perf_counter()
    near_duplicate_pairs(texts, num_perm=64)
    ours = docs / (time.perf_counter() - t)
    return {"datasketch_docs_per_s": round(ds, 1), "tuneui_docs_per_s": round(ours, 1),
            "tuneui_vs_datasketch": round(ours / ds, 2)}


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def baseline_tree(ref: str, folder: Path) -> Path:
    """The tuneui package of git `ref`, extracted to `folder` (to run the old pipeline beside the new)."""
    import io
    import tarfile

    blob = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "tuneui"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also 1M rows")
    ap.add_argument("--sizes", type=int, nargs="*", help="row counts (default 100000, with --full also 1000000)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", metavar="GITREF", help="also run the pipeline of this git ref (100k rows only)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tuneui-bench-data")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), Path(args.worker[1]), args.worker[2] == "old")))
        return
    sizes = args.sizes or ([100_000, 1_000_000] if args.full else [100_000])
    args.data.mkdir(parents=True, exist_ok=True)
    files = {n: write_dataset(n, args.data) for n in sizes}
    runs: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        variants = [("tuneui", None)]
        if args.baseline:
            variants.append((args.baseline, baseline_tree(args.baseline, Path(tmp))))
        for _ in range(args.rounds):
            for n in sizes:
                for name, tree in variants:
                    if tree is not None and n > 100_000:
                        continue
                    env_path = str(tree) if tree is not None else str(ROOT)
                    path, truth = files[n]
                    proc = subprocess.run(
                        [sys.executable, __file__, "--worker", str(path), str(truth), "old" if tree else "new"],
                        capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin",
                                                             "HOME": str(Path.home())}, check=False)
                    if proc.returncode:
                        sys.exit(f"{name} at {n} rows failed:\n{proc.stderr[-2000:]}")
                    runs.setdefault((name, n), []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'pipeline':>10} {'rows':>9} {'rows/s (median, min-max)':>28} {'rows/CPU-s':>11} {'peak MiB':>17} "
          f"{'precision':>9} {'recall':>7}")
    headline = {}
    for (name, n), rs in runs.items():
        mib = [r["peak_mem_bytes"] / 2**20 for r in rs]
        print(f"{name:>10} {n:>9,} {spread([r['rows_per_s'] for r in rs]):>28} "
              f"{statistics.median([r['rows_per_cpu_s'] or 0 for r in rs]):>11,.0f} {spread(mib):>17} "
              f"{rs[0]['near_dup_precision']:>9} {rs[0]['near_dup_recall']:>7}")
        headline[f"{name}_{n}"] = {"rows_per_s": statistics.median([r["rows_per_s"] for r in rs]),
                                   "peak_mem_bytes": statistics.median([r["peak_mem_bytes"] for r in rs]),
                                   "near_dup_precision": rs[0]["near_dup_precision"],
                                   "near_dup_recall": rs[0]["near_dup_recall"], "rounds": len(rs),
                                   "stages": rs[0]["stages"], "removed": rs[0]["removed"]}
    cmp = datasketch_vs_tuneui()
    print(f"near-dup signatures+LSH, same 3k docs: datasketch {cmp['datasketch_docs_per_s']:,} docs/s, tuneui "
          f"{cmp['tuneui_docs_per_s']:,} docs/s ({cmp['tuneui_vs_datasketch']}x)")
    headline["tuneui_vs_datasketch"] = cmp["tuneui_vs_datasketch"]
    if args.baseline and ("tuneui", 100_000) in runs and (args.baseline, 100_000) in runs:
        new = statistics.median([r["rows_per_s"] for r in runs[("tuneui", 100_000)]])
        old = statistics.median([r["rows_per_s"] for r in runs[(args.baseline, 100_000)]])
        print(f"at 100k rows: tuneui {new / old:.2f}x the rows/s of {args.baseline}")
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
