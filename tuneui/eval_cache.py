"""The base model's evaluation figures, cached across runs.

The base does not change between runs on the same model and validation set, yet evaluating it
(generation above all) costs as much as evaluating the tuned model. Its figures are kept in the
cache under a key that covers everything they depend on: the base weights and tokenizer (by
content), how the base is loaded for the technique (dtype, 4/8-bit quantization), the exact
validation conversations and sequence length, the probe text and the evaluation settings, and a
version number bumped when the evaluation code changes what it measures. Anything else, and the
base is evaluated again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tuneui.contract import paths
from tuneui.contract.fsutil import atomic_write_text

VERSION = 1  # bump when an evaluation function changes what it returns for the same inputs
# Files whose bytes decide what the base computes; large weight files are fingerprinted by name,
# size and modification time (hashing a 15 GB checkpoint on every run would cost minutes).
_CONTENT_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json", "chat_template.jinja", "tuneui_source.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")


def cache_dir() -> Path:
    return paths.cache_dir() / "base-eval"


def _local_folder(model: str | Path, revision: str | None) -> Path | None:
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:  # a hub id: its snapshot folder in the local Hugging Face cache, if there
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(str(model), "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - malformed ids and the like: nothing local to fingerprint
        return None
    return Path(hit).parent if isinstance(hit, str) else None


def model_fingerprint(model: str | Path, revision: str | None = None) -> dict:
    """What identifies a model's weights and tokenizer, without reading the weights: a local
    folder or a hub id's cached snapshot (whose folder name is the commit)."""
    root = _local_folder(model, revision)
    if root is None:
        return {"id": str(model), "revision": revision}
    files: dict[str, str] = {}
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        if path.name in _CONTENT_FILES:
            files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.name.endswith(_WEIGHT_SUFFIXES):
            st = path.stat()
            files[path.name] = f"{st.st_size}:{st.st_mtime_ns}"
    return {"path": str(root.resolve()), "files": files}


def conversations_digest(convs: list) -> str:
    blob = json.dumps(convs, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def base_eval_key(*, model: str | Path, load: dict, val_convs: list, max_seq_length: int,
                  settings: dict, probe_text: str | None, revision: str | None = None) -> str:
    """The cache key. `load`: how the base is put in memory (dtype, quantization, adapter-off or
    reloaded); `settings`: the evaluation's own knobs (examples, new-token cap, probe window)."""
    parts = {
        "v": VERSION,
        "model": model_fingerprint(model, revision),
        "load": load,
        "val": conversations_digest(val_convs),
        "max_seq_length": max_seq_length,
        "settings": settings,
        "probe": hashlib.sha256((probe_text or "").encode("utf-8")).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def load_base_eval(key: str) -> dict | None:
    """The cached figures, or None when absent or unreadable (then the base is simply re-evaluated)."""
    try:
        data = json.loads((cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("figures"), dict):
        return None
    return data["figures"]


def store_base_eval(key: str, figures: dict) -> Path:
    return atomic_write_text(cache_dir() / f"{key}.json",
                             json.dumps({"key": key, "figures": figures}, default=str))
