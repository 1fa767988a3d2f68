"""`tuneui demo-model [DIR] [--force]`: build the offline demo model (tokenizer + tiny Llama)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo-model", help="build the offline demo model",
                       description="Build the offline demo model: a byte-level BPE tokenizer trained with the "
                                   "tokenizers library on the bundled texts and a tiny randomly initialised "
                                   "Llama model (seeded, deterministic). Default location: the tuneui cache.")
    p.add_argument("dir", nargs="?", help="where to write it (default: the platformdirs cache)")
    p.add_argument("--force", action="store_true", help="rebuild even when a complete build is there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tuneui.demo import build_demo_model, default_demo_dir, ensure_demo_model

    out = Path(args.dir).expanduser() if args.dir else default_demo_dir()
    if out.exists() and not out.is_dir():
        print(f"tuneui: error: {out}: exists and is not a directory", file=sys.stderr)
        return 2
    if out.is_dir() and any(out.iterdir()) and not (out / "config.json").exists():
        print(f"tuneui: error: {out}: not empty and not a demo model; choose another directory", file=sys.stderr)
        return 2
    t = time.perf_counter()
    path = build_demo_model(out) if args.force else ensure_demo_model(out)
    print(f"demo model ready in {path} ({time.perf_counter() - t:.1f} s)")
    return 0
