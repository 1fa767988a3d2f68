"""`tuneui demo-model [--tiny [DIR] [--force]]`: get the offline demo's model ready ahead of the demo.

Without --tiny: SmolLM2-135M-Instruct, fetched and converted into the tuneui cache once (what
'demo' trains). With --tiny: the tiny random model ('demo-tiny', built locally in seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo-model", help="fetch the offline demo's model now (or build the tiny test model)",
                       description="Fetch the demo model, SmolLM2-135M-Instruct, into the tuneui cache now rather "
                                   "than on the first demo run (a 93 MB download, about a minute to convert, "
                                   "once). --tiny builds the tiny random model of the tests instead: a byte-level "
                                   "BPE tokenizer trained on the bundled texts and a seeded, randomly initialised "
                                   "Llama model.")
    p.add_argument("--tiny", action="store_true", help="build the tiny random model ('demo-tiny') instead")
    p.add_argument("dir", nargs="?", help="with --tiny: where to write it (default: the tuneui cache)")
    p.add_argument("--force", action="store_true", help="with --tiny: rebuild even when a complete build is there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.tiny:
        if args.dir or args.force:
            print("tuneui: error: DIR and --force go with --tiny; the demo model lives in the tuneui cache",
                  file=sys.stderr)
            return 2
        return _real()
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


def _real() -> int:
    from tuneui.contract.errors import TuneuiError
    from tuneui.demo_model_real import ensure_real_demo_model

    t = time.perf_counter()
    try:
        path = ensure_real_demo_model(say=lambda m: print(f"tuneui: {m}", file=sys.stderr, flush=True))
    except TuneuiError as exc:
        print(f"tuneui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"demo model ready in {path} ({time.perf_counter() - t:.1f} s)")
    return 0
