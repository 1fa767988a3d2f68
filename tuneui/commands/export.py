"""`tuneui export RUN_DIR [--merge] -o DIR`: adapter or merged model, model card, run.toml.

`--json` prints a stable object: {"schema": 1, "out_dir": str, "kind": "adapter"|"merged"|"full",
"files": [str], "notes": [str], "gguf": str|null, "quant": str|null, "hub_url": str|null}.
"""

from __future__ import annotations

import argparse
import json
import sys

from tuneui.contract.loop import GGUF_QUANTS


def register(sub) -> None:
    p = sub.add_parser("export", help="export a run: adapter or merged model, model card, reproducible config",
                       description="Write the run's adapter (or, with --merge, the merged model) to DIR with a "
                                   "model card, run.toml and the command that reproduces the run.")
    p.add_argument("path", metavar="RUN_DIR", help="a finished run directory (or its adapter/)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="where to write the export (new folder)")
    p.add_argument("--merge", action="store_true", help="merge the LoRA adapter into the base (a standalone model)")
    p.add_argument("--dtype", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                   help="with --merge: the merged weights' dtype (default: the base model's own)")
    p.add_argument("--gguf", action="store_true",
                   help="also write model-QUANT.gguf and an Ollama Modelfile (for llama.cpp, Ollama, LM Studio)")
    p.add_argument("--quant", choices=GGUF_QUANTS, help="GGUF encoding (default q8_0): q8_0 is near-lossless at half "
                   "the f16 size, q4_k_m about 30%% of f16, f16/bf16 unquantised")
    p.add_argument("--push-to-hub", metavar="REPO_ID", help="upload with your existing `hf auth login`")
    p.add_argument("--public", action="store_true", help="with --push-to-hub: make the repo public (default private)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    p.add_argument("--json", action="store_true", help="print the stable JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tuneui.contract.errors import ConfigError
    from tuneui.contract.loop import ExportOptions
    from tuneui.export import export_run

    if args.quant and not args.gguf:
        raise ConfigError("--quant chooses the GGUF encoding; add --gguf")
    def progress(msg: str) -> None:
        if not args.json:
            print(f"tuneui: {msg}…", file=sys.stderr)

    options = ExportOptions(merge=args.merge, gguf=args.gguf, quant=args.quant or "q8_0", push_to_hub=args.push_to_hub,
                            private=not args.public, overwrite=args.overwrite, dtype=args.dtype)
    result = export_run(args.path, args.output, options, progress=progress)
    if args.json:
        print(json.dumps({"schema": 1, **result.to_dict()}))
        return 0
    print(f"exported {result.kind} to {result.out_dir}")
    for name in result.files:
        print(f"  {name}")
    for note in result.notes:
        print(f"note: {note}")
    if not args.gguf:  # a tip, not a note: nothing that was asked for is missing
        print("tip: add --gguf (and --quant q8_0|q4_k_m|f16|bf16) for a file llama.cpp, Ollama and LM Studio load")
    if result.gguf is not None and (result.out_dir / "Modelfile").exists():
        print(f"ollama: cd {result.out_dir} && ollama create NAME -f Modelfile")
    if result.hub_url:
        print(f"pushed: {result.hub_url}")
    return 0
