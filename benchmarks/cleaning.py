"""End-to-end cleaning throughput, memory and near-duplicate accuracy.

Generates a chat dataset (JSONL) with planted exact duplicates (case/whitespace variants), near
duplicates (one or two words changed in long examples: word 5-gram Jaccard ~0.85-0.95), PII and
junk (empty/placeholder answers, refusals, mojibake), then runs the whole pipeline as
`tuneui data clean` does: load + validate, clean, leak-free split, write Parquet + report.
Each size runs in its own process so peak RSS belongs to that size alone. Also times
datasketch's MinHash + MinHashLSH on the same documents, the reason tuneui computes signatures
itself.

  python benchmarks/cleaning.py            # 25k and 100k rows
  python benchmarks/cleaning.py --full     # also 1M rows

Ends with one JSON line: rows_per_s, peak_mem_bytes, near_dup_precision, near_dup_recall (100k run).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYLLABLES = "ka lo mi ne ru sa ti vo ze an el or us ib ex pra sto glu fen".split()
STOP = "the a of to and in is that it for with as on be this are or by from".split()


def _vocab(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def _text(rng: random.Random, vocab: list[str], n: int) -> str:
    words = [rng.choice(STOP) if rng.random() < 0.3 else rng.choice(vocab) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def generate(rows: int, seed: int = 0) -> tuple[list[dict], set[int]]:
    """(rows, indices of planted near duplicates). Shares: 5% exact dups, 5% near dups, 3% PII, 2% junk."""
    rng = random.Random(seed)
    vocab = _vocab(rng, 20000)
    out: list[dict] = []
    near: set[int] = set()
    base: list[int] = []
    pii = [lambda: f"mail {rng.choice(vocab)}{rng.randint(1, 99)}@example.com", lambda: f"call +1 415 555 {rng.randint(1000, 9999)}",
           lambda: "card 4539 1488 0343 6467", lambda: f"server 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.7",
           lambda: "key sk-" + "".join(rng.choice("abcdefghijkLMNOP0123456789") for _ in range(32))]
    junk = ["", "N/A", "As an AI language model, I cannot do that.", "I'm sorry, but I can't help with that.",
            "The cafÃ© menu is â€œgreatâ€\x9d today."]
    while len(out) < rows:
        r = rng.random()
        if base and r < 0.05:  # exact duplicate, differing only in case and spacing
            src = out[rng.choice(base)]["messages"]
            out.append({"messages": [{"role": m["role"], "content": "  " + m["content"].upper() + " "} for m in src]})
        elif base and r < 0.10:  # near duplicate of a long example
            src = out[rng.choice(base)]["messages"]
            words = src[1]["content"].split()
            if len(words) < 80:
                continue
            for _ in range(rng.randint(1, 2)):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            near.add(len(out))
            out.append({"messages": [src[0], {"role": "assistant", "content": " ".join(words)}]})
        elif r < 0.13:
            q = _text(rng, vocab, rng.randint(8, 25))
            out.append({"messages": [{"role": "user", "content": f"{q} {rng.choice(pii)()}"},
                                     {"role": "assistant", "content": _text(rng, vocab, rng.randint(40, 120))}]})
        elif r < 0.15:
            out.append({"messages": [{"role": "user", "content": _text(rng, vocab, rng.randint(8, 25))},
                                     {"role": "assistant", "content": rng.choice(junk)}]})
        else:
            base.append(len(out))
            out.append({"messages": [{"role": "user", "content": _text(rng, vocab, rng.randint(8, 25))},
                                     {"role": "assistant", "content": _text(rng, vocab, rng.randint(60, 140))}]})
    return out, near


def run_pipeline(path: Path, out_dir: Path):
    from tuneui.cleaning import clean, train_val_split
    from tuneui.cleaning.output import write_cleaned
    from tuneui.data import load_dataset

    times = {}
    t = time.perf_counter()
    loaded = load_dataset(path)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    result = clean(loaded.conversations, lines=loaded.lines)
    times["clean"] = time.perf_counter() - t
    t = time.perf_counter()
    split = train_val_split(result.kept, None, 42, deduplicated=True)
    times["split"] = time.perf_counter() - t
    t = time.perf_counter()
    write_cleaned(out_dir, split.train, split.val, {"cleaning": result.to_dict(), "split": split.to_dict()})
    times["write"] = time.perf_counter() - t
    return result, split, times


def write_dataset(rows: int, folder: Path) -> tuple[Path, Path]:
    data, near = generate(rows)
    path = folder / f"chat-{rows}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in data:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    truth = folder / f"near-{rows}.json"
    truth.write_text(json.dumps(sorted(near)))
    return path, truth


def worker(path: Path, truth: Path) -> dict:
    """The pipeline alone in a fresh process, so peak RSS is the pipeline's."""
    near = set(json.loads(truth.read_text()))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start, cpu_start = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        result, split, times = run_pipeline(path, Path(tmp) / "out")
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rows = result.report.before
    removed = set(result.removed_indices["near_duplicates"])
    tp = len(removed & near)
    return {
        "rows": rows, "seconds": round(total, 2), "rows_per_s": round(rows / total, 1),
        "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(rows / cpu, 1),
        "peak_mem_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_at_start": rss_before,
        "near_dup_precision": round(tp / len(removed), 4) if removed else 1.0,
        "near_dup_recall": round(tp / len(near), 4) if near else 1.0,
        "kept": len(result.kept), "removed": result.report.removed, "val": len(split.val),
        "leak_pairs": split.leakage["pairs_across_split"],
        "stage_seconds": {k: round(v, 2) for k, v in times.items()},
    }


def datasketch_vs_tuneui(docs: int = 3000) -> dict:
    """Signatures + LSH index for the same documents: datasketch objects vs tuneui's numpy batches."""
    from datasketch import MinHash, MinHashLSH

    from tuneui.cleaning.minhash import near_duplicate_pairs

    data, _ = generate(docs, seed=1)
    texts = ["\n".join(m["content"] for m in r["messages"]) for r in data]
    t = time.perf_counter()
    proto = MinHash(num_perm=128)
    perm, scheme = proto.permutations, proto.scheme
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, text in enumerate(texts):
        words = text.lower().split()
        shingles = {" ".join(words[k:k + 5]).encode() for k in range(max(1, len(words) - 4))}
        m = MinHash(num_perm=128, permutations=perm, scheme=scheme)
        m.update_batch(shingles)
        lsh.query(m)
        lsh.insert(i, m)
    ds = docs / (time.perf_counter() - t)
    t = time.perf_counter()
    near_duplicate_pairs(texts)
    ours = docs / (time.perf_counter() - t)
    return {"datasketch_docs_per_s": round(ds, 1), "tuneui_docs_per_s": round(ours, 1),
            "tuneui_vs_datasketch": round(ours / ds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also run 1M rows")
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    sizes = [25_000, 100_000] + ([1_000_000] if args.full else [])
    results = []
    print(f"{'rows':>9} {'seconds':>8} {'rows/s':>8} {'rows/cpu-s':>10} {'peak MiB':>9} {'MiB/1k rows':>11} "
          f"{'precision':>9} {'recall':>7}  stages (s)")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path, truth = write_dataset(n, Path(tmp))
            proc = subprocess.run([sys.executable, __file__, "--worker", str(path), str(truth)], capture_output=True,
                                  text=True, check=True)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            mib = r["peak_mem_bytes"] / 2**20
            print(f"{n:>9} {r['seconds']:>8} {r['rows_per_s']:>8} {r['rows_per_cpu_s']:>10} {mib:>9.0f} "
                  f"{mib / (n / 1000):>11.2f} {r['near_dup_precision']:>9} {r['near_dup_recall']:>7}  "
                  f"{r['stage_seconds']}")
    main_run = next(r for r in results if r["rows"] == 100_000)
    print(f"removed at 100k: {main_run['removed']}; leaked pairs across split: {main_run['leak_pairs']}")
    cmp = datasketch_vs_tuneui()
    print(f"near-dup signatures+LSH, same 3k docs: datasketch {cmp['datasketch_docs_per_s']} docs/s, "
          f"tuneui {cmp['tuneui_docs_per_s']} docs/s ({cmp['tuneui_vs_datasketch']}x)")
    print(json.dumps({
        "rows_per_s": main_run["rows_per_s"], "peak_mem_bytes": main_run["peak_mem_bytes"],
        "near_dup_precision": main_run["near_dup_precision"], "near_dup_recall": main_run["near_dup_recall"],
        "rows": main_run["rows"], "rows_per_cpu_s": main_run["rows_per_cpu_s"],
        "tuneui_vs_datasketch": cmp["tuneui_vs_datasketch"],
    }))


if __name__ == "__main__":
    main()
