"""Ship a finished run: the adapter or a merged model, a model card, and how to reproduce it.

`export_run` writes into a fresh temporary folder next to the destination and renames it into
place, so an interrupted export never leaves a half-written model behind. An existing destination
is replaced only with `overwrite` and only under tuneui.contract.outputs' rules (never a folder
holding the run itself or anything tuneui did not write, never a run in use). Optional extras: a GGUF
file (f16/bf16/q8_0/q4_k_m) with an Ollama Modelfile, and a push to the Hugging Face hub with the
login the user already has (tuneui never reads, asks for or stores the token itself).

GGUF comes from pip-installed parts: tuneui writes Llama-family models itself with `gguf` (llama.cpp's
own Python library, tuneui.export_gguf). Only models that writer does not handle need llama.cpp's
converter script; its f16 output is then re-encoded to the chosen quantisation.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tuneui.contract.errors import TuneuiError
from tuneui.contract.evaluation import read_report
from tuneui.contract.fsutil import atomic_dir, atomic_write_text
from tuneui.contract.loop import GGUF_QUANTS, ExportOptions, ExportResult
from tuneui.contract.outputs import EXPORT_MANIFEST, check_output_dir
from tuneui.merge import merged_dtype, save_merged
from tuneui.model_card import model_card

GGUF_SCRIPT = "convert_hf_to_gguf.py"
GGUF_HELP = ("for this model GGUF needs llama.cpp's converter: `git clone https://github.com/ggml-org/llama.cpp` "
             "and `pip install -r llama.cpp/requirements.txt`, then set LLAMA_CPP_DIR=/path/to/llama.cpp "
             "(or put convert_hf_to_gguf.py on PATH) and export again with --gguf")


def reproduce_command(run_toml: str = "run.toml") -> str:
    return f"tuneui train {shlex.quote(run_toml)} -o RUN_DIR"


def find_gguf_converter() -> Path | None:
    """llama.cpp's convert_hf_to_gguf.py, from LLAMA_CPP_DIR or PATH."""
    home = os.environ.get("LLAMA_CPP_DIR")
    if home and (Path(home) / GGUF_SCRIPT).is_file():
        return Path(home) / GGUF_SCRIPT
    found = shutil.which(GGUF_SCRIPT)
    return Path(found) if found else None


def _copy_adapter(art, tokenizer, dest: Path) -> None:
    for src in art.model_dir.iterdir():
        if src.is_file() and not src.name.endswith((".bin", ".pt", ".pth", ".pkl")):
            shutil.copy2(src, dest / src.name)
    if art.kind == "full" and not (dest / "generation_config.json").exists():
        from transformers import GenerationConfig

        GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
                         ).save_pretrained(dest)
    if not (dest / "tokenizer_config.json").exists():
        tokenizer.save_pretrained(dest)


def _convert_with_llama_cpp(model_dir: Path, target: Path, converter: Path, outtype: str) -> Path:
    proc = subprocess.run([sys.executable, str(converter), str(model_dir), "--outfile", str(target),
                           "--outtype", outtype], capture_output=True, text=True)
    if proc.returncode != 0 or not target.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TuneuiError(f"GGUF conversion failed ({converter}): {tail[0]}")
    return target


def _gguf(model_dir: Path, out: Path, quant: str, tokenizer, result: ExportResult, say) -> Path:
    """out/model-<quant>.gguf (+ out/Modelfile) from the merged model in model_dir."""
    from tuneui.export_gguf import GgufUnsupported, gguf_name, requantize, write_gguf
    from tuneui.ollama import write_modelfile

    say(f"writing GGUF ({quant})")
    try:
        path = write_gguf(model_dir, out, quant, name=out.name, notes=result.notes)
    except GgufUnsupported as exc:
        converter = find_gguf_converter()
        if converter is None:
            raise TuneuiError(f"--gguf: {exc}; {GGUF_HELP}") from None
        say(f"converting with llama.cpp's converter ({converter})")
        outtype = quant if quant in ("f16", "bf16") else "f16"
        if outtype == quant:
            path = _convert_with_llama_cpp(model_dir, out / gguf_name(quant), converter, outtype)
        else:
            with tempfile.TemporaryDirectory(prefix=".f16.", dir=out) as scratch:
                f16 = _convert_with_llama_cpp(model_dir, Path(scratch) / gguf_name("f16"), converter, "f16")
                path = requantize(f16, out, quant)
        result.notes.append(f"GGUF: {exc}, so llama.cpp's converter wrote it")
    try:
        write_modelfile(out, path.name, tokenizer)
    except TuneuiError as exc:  # the GGUF itself is fine; Ollama can still take it with a template by hand
        result.notes.append(f"no Ollama Modelfile: {exc}")
    return path


def export_run(path: str | Path, out_dir: str | Path, options: ExportOptions | None = None, *,
               progress=None) -> ExportResult:
    """Export RUN_DIR (or an adapter directory) to out_dir."""
    from tuneui.runload import load_tokenizer_for, locate

    opts = (options or ExportOptions()).validate()
    merge, gguf, push_to_hub, private, overwrite = (opts.merge, opts.gguf, opts.push_to_hub, opts.private,
                                                    opts.overwrite)
    if opts.quant not in GGUF_QUANTS:
        raise TuneuiError(f"--quant {opts.quant}: choose one of {', '.join(GGUF_QUANTS)}")
    say = progress or (lambda msg: None)
    art = locate(path)
    out_dir = Path(out_dir).expanduser()
    sources = [Path(path), art.model_dir] + ([art.run_dir] if art.run_dir else [])
    replacing = check_output_dir(out_dir, overwrite=overwrite, sources=sources, what="export")
    kind = "merged" if merge and art.kind == "peft" else ("adapter" if art.kind == "peft" else "full")
    result = ExportResult(out_dir=out_dir, kind=kind)
    if merge and art.kind == "full":
        result.notes.append("this run trained the full model, so the export already is a complete model "
                            "(nothing to merge)")
    tokenizer = load_tokenizer_for(art)
    with _guard(out_dir, replacing), atomic_dir(out_dir) as tmp:
        dtype = merged_dtype(art, opts.dtype)  # for a merge, here or on the way to GGUF
        if kind == "merged":
            say(f"merging the adapter into the base model ({dtype})")
            save_merged(art, tokenizer, tmp, dtype)
            result.notes.append(f"merged weights stored in {dtype}" + (
                " (the base model's own dtype; --dtype fp32 keeps more precision)" if opts.dtype == "auto" else ""))
        else:
            say("copying the adapter" if kind == "adapter" else "copying the model")
            _copy_adapter(art, tokenizer, tmp)
        report = read_report(art.run_dir) if art.run_dir else None
        data_report = _data_report(art.run_dir)
        if art.config is not None:
            art.config.save(tmp / "run.toml")
            atomic_write_text(tmp / "reproduce.sh", "#!/bin/sh\n# Re-run this fine-tune headless "
                              "(needs the same dataset path and base model).\n" + reproduce_command() + "\n")
            (tmp / "reproduce.sh").chmod(0o755)
        if report is not None:
            atomic_write_text(tmp / "eval_report.json", report.to_json())
        atomic_write_text(tmp / "README.md", model_card(art, kind, report, data_report))
        if gguf:
            result.quant = opts.quant
            if kind == "adapter":
                say("merging the adapter into the base model for GGUF")
                merged = Path(tempfile.mkdtemp(prefix=".merged.", dir=out_dir.parent))
                try:
                    save_merged(art, tokenizer, merged, dtype)
                    result.gguf = _gguf(merged, tmp, opts.quant, tokenizer, result, say)
                finally:
                    shutil.rmtree(merged, ignore_errors=True)
            else:
                result.gguf = _gguf(tmp, tmp, opts.quant, tokenizer, result, say)
        names = sorted(p.name for p in tmp.iterdir())
        atomic_write_text(tmp / EXPORT_MANIFEST, json.dumps({"tuneui_export": 1, "files": names}, indent=1))
    if result.gguf is not None:
        result.gguf = out_dir / result.gguf.name
    result.files = sorted(p.name for p in out_dir.iterdir())
    if push_to_hub:
        say(f"pushing to the hub as {push_to_hub}")
        result.hub_url = push(out_dir, push_to_hub, private=private)
    return result


def _guard(out_dir: Path, replacing: bool):
    """Hold the destination's run lock while a run directory there is being replaced, so no trainer
    can start in it halfway (and one that already runs there was refused by check_output_dir)."""
    import contextlib

    if replacing and (out_dir / "run.toml").exists():
        from tuneui.contract.runlock import locked

        return locked(out_dir, "export")
    return contextlib.nullcontext()


def _data_report(run_dir: Path | None) -> dict | None:
    if run_dir is None:
        return None
    try:
        return json.loads((run_dir / "data" / "data_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def push(folder: Path, repo_id: str, *, private: bool = True) -> str:
    """Upload with the user's existing `hf auth login`; the token stays where huggingface_hub keeps it."""
    try:
        from huggingface_hub import HfApi, get_token
    except ImportError:
        raise TuneuiError("pushing needs huggingface_hub: pip install huggingface_hub") from None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise TuneuiError("cannot push: offline mode is on (HF_HUB_OFFLINE=1); the export is saved locally at "
                          f"{folder}")
    if not get_token():
        raise TuneuiError("cannot push: not logged in to the Hugging Face hub; run `hf auth login` once "
                          f"(tuneui never stores the token), then push again. The export is at {folder}")
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                                 commit_message="Upload fine-tune exported by tuneui")
    except Exception as exc:  # noqa: BLE001 - network/auth failures all become one clear line
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        offline = any(w in text.lower() for w in ("connect", "resolve", "network", "timed out", "offline"))
        hint = "the hub is not reachable (offline?)" if offline else text
        raise TuneuiError(f"cannot push to {repo_id}: {hint}. The export is saved locally at {folder}") from None
    return getattr(info, "repo_url", None) or f"https://huggingface.co/{repo_id}"
