"""Write a merged Llama-family model as GGUF (f16, bf16, q8_0, q4_k_m) from pip-installable parts only.

llama.cpp's converter (`convert_hf_to_gguf.py`) is not published on PyPI by its authors; its library
half is (`gguf`, gguf-py). So tuneui writes the file itself with `gguf.GGUFWriter`, doing for the
Llama architecture what the converter's `LlamaModel` does: tensor names from `gguf.TensorNameMap`, the
q/k rows permuted from Hugging Face's rotary layout to GGML's, the tokenizer as a byte-level BPE vocab
plus merges and special ids (`gguf.SpecialVocab`, which also carries the chat template). Q8_0/BF16 are
gguf-py's own encoders; Q4_K_M uses tuneui.gguf_quants (gguf-py has no k-quant encoder).

Architectures other than llama/mistral go through llama.cpp's converter when the user has one
(`export.find_gguf_converter`); `requantize` then re-encodes its f16 output as q8_0 or q4_k_m.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tuneui.contract.errors import TuneuiError
from tuneui.contract.loop import GGUF_QUANTS

QUANTS = GGUF_QUANTS
# model_type -> gguf architecture whose tensors the Llama recipe below writes
_ARCH = {"llama": "llama", "mistral": "llama"}
_FILE_TYPE = {"f32": 0, "f16": 1, "q8_0": 7, "q4_k_m": 15, "bf16": 32}  # gguf.LlamaFileType values


class GgufUnsupported(TuneuiError):
    """A model tuneui's own writer does not handle; llama.cpp's converter may (tuneui.export falls back to it)."""


def gguf_name(quant: str) -> str:
    return f"model-{quant}.gguf"


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF stores each head's rotary pairs as two halves; GGML interleaves them (as the converter does)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tensor_sources(model_dir: Path) -> dict[str, tuple[Path, tuple[int, ...]]]:
    """{name: (safetensors file, shape)} without loading any weights."""
    from safetensors import safe_open

    index = model_dir / "model.safetensors.index.json"
    files = (sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists()
             else ["model.safetensors"])
    out: dict[str, tuple[Path, tuple[int, ...]]] = {}
    for name in files:
        path = model_dir / name
        if not path.exists():
            raise TuneuiError(f"{path}: missing; GGUF export needs the merged model's safetensors")
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not iterable
                out[key] = (path, tuple(f.get_slice(key).get_shape()))
    return out


def _load(path: Path, key: str) -> np.ndarray:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:  # "pt": numpy has no bfloat16
        return f.get_tensor(key).float().numpy()


def _stream(writer, items: list) -> None:
    """Write header and tensor infos first, then one tensor at a time, so the peak RAM is one tensor
    (a whole 7B model in fp32 would need 28 GB). items: (gguf name, shape, qtype, load())."""
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    for name, shape, qtype, _ in items:
        if qtype in (T.F32, T.F16):
            dtype = np.float32 if qtype == T.F32 else np.float16
            writer.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
        else:
            byte_shape = quants.quant_shape_to_byte_shape(shape, qtype)
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, shape, qtype, load in items:
        data = load()
        assert data.shape == tuple(shape)
        writer.write_tensor_data(_encode(data, qtype))


def _rope_theta(cfg) -> float:
    params = getattr(cfg, "rope_parameters", None) or {}
    rope_type = params.get("rope_type", "default")
    if rope_type not in (None, "default"):
        raise GgufUnsupported(f"rope scaling '{rope_type}' is not written by tuneui's GGUF writer")
    return float(params.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))


def pre_tokenizer_name(tokenizer_json: dict) -> str:
    """llama.cpp's name for how the text is split before BPE (`tokenizer.ggml.pre`).

    Regex splits are matched against transformers' own table of llama.cpp names, so nothing here is
    per model family; the plain GPT-2 byte-level split, with or without single digits in front, has
    its own llama.cpp names ('gpt-2', 'smollm')."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        GGUF_PRE_TOKENIZER_SPLITS,
    )

    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    for step in steps:
        if step.get("type") == "Split":
            pattern = (step.get("pattern") or {}).get("Regex")
            for name, regex in GGUF_PRE_TOKENIZER_SPLITS.items():
                if regex == pattern:
                    return name
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    return "default"


def _add_vocab(writer, model_dir: Path, n_vocab: int, notes: list[str]) -> None:
    import gguf

    path = model_dir / "tokenizer.json"
    if not path.exists():
        raise TuneuiError(f"{model_dir}: no tokenizer.json; GGUF export needs the fast tokenizer")
    tj = json.loads(path.read_text(encoding="utf-8"))
    model = tj.get("model", {})
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise GgufUnsupported("tuneui's GGUF writer handles byte-level BPE vocabularies (Llama 3, SmolLM); this "
                              "tokenizer is SentencePiece-style")
    vocab: dict[str, int] = dict(model["vocab"])
    added = {t["id"]: t for t in tj.get("added_tokens", [])}
    for tid, tok in added.items():
        vocab[tok["content"]] = tid
    if max(vocab.values()) >= n_vocab:
        raise TuneuiError(f"GGUF export: tokenizer has ids past the model's vocab_size {n_vocab}")
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in by_id:  # embedding rows the tokenizer never produces
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    pre = pre_tokenizer_name(tj)
    if pre == "default":
        notes.append("the tokenizer's pre-split is not one llama.cpp names; GGUF readers will use the "
                     "default GPT-2 split, so rare texts may tokenise differently from training")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=n_vocab)
    special.add_to_gguf(writer, quiet=True)


def _tensor_type(quant: str, name: str, shape, n_layers: int, tied: bool):
    from tuneui import gguf_quants

    if quant == "q4_k_m":
        return gguf_quants.q4_k_m_type(name, tuple(shape), n_layers, tied)
    return gguf_quants.simple_type(quant, tuple(shape))


def _encode(data: np.ndarray, qtype) -> np.ndarray:
    from gguf import GGMLQuantizationType as T

    from tuneui import gguf_quants

    if qtype == T.F32:
        return data.astype(np.float32)
    if qtype == T.F16:
        return data.astype(np.float16)
    return gguf_quants.quantize(data, qtype)


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def _llama_cpp_q4_k_m(f16: Path, target: Path) -> Path:
    """llama.cpp's own quantiser through llama-cpp-python (C, multi-threaded: ~3.5x faster than numpy here)."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = os.cpu_count() or 1
    tmp = target.with_name(f".{target.name}.tmp")
    if llama_cpp.llama_model_quantize(str(f16).encode(), str(tmp).encode(), ctypes.byref(params)) != 0:
        tmp.unlink(missing_ok=True)
        raise TuneuiError(f"GGUF export: llama.cpp could not quantise {f16}")
    os.replace(tmp, target)
    return target


def write_gguf(model_dir: str | Path, out_dir: str | Path, quant: str = "q8_0", *, name: str | None = None,
               notes: list[str] | None = None, engine: str = "auto") -> Path:
    """model_dir (a merged HF model: config.json, safetensors, tokenizer.json) -> out_dir/model-<quant>.gguf.

    engine (q4_k_m only): "numpy" (tuneui's encoders), "llama.cpp" (llama-cpp-python's quantiser, from an f16
    file tuneui writes first), "auto" = llama.cpp when llama-cpp-python is installed."""
    import gguf
    from transformers import AutoConfig

    if quant not in QUANTS:
        raise TuneuiError(f"--quant {quant}: choose one of {', '.join(QUANTS)}")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    notes = notes if notes is not None else []
    use_llama_cpp = quant == "q4_k_m" and (engine == "llama.cpp" or (engine == "auto" and llama_cpp_available()))
    if use_llama_cpp:
        import tempfile

        with tempfile.TemporaryDirectory(prefix=".f16.", dir=out_dir if out_dir.exists() else None) as tmp:
            f16 = write_gguf(model_dir, tmp, "f16", name=name, notes=notes, engine="numpy")
            notes.append("q4_k_m quantised by llama.cpp (llama-cpp-python)")
            out_dir.mkdir(parents=True, exist_ok=True)
            return _llama_cpp_q4_k_m(f16, out_dir / gguf_name(quant))
    cfg = AutoConfig.from_pretrained(model_dir)
    arch = _ARCH.get(cfg.model_type)
    if arch is None:
        raise GgufUnsupported(f"tuneui's GGUF writer handles llama/mistral models, not {cfg.model_type}")
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        raise GgufUnsupported("biased Llama projections are not written by tuneui's GGUF writer")
    n_layers, n_head = cfg.num_hidden_layers, cfg.num_attention_heads
    n_kv = cfg.num_key_value_heads or n_head
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    sources = _tensor_sources(model_dir)
    tied = bool(cfg.tie_word_embeddings) or "lm_head.weight" not in sources

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / gguf_name(quant)
    partial = out_dir / f".{target.name}.tmp"
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_name(name or model_dir.name)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_freq_base(_rope_theta(cfg))
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type(_FILE_TYPE[quant])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_vocab(writer, model_dir, cfg.vocab_size, notes)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    items = []
    for hf_name, (path, shape) in sources.items():
        if (hf_name == "lm_head.weight" and tied) or hf_name.endswith("rotary_emb.inv_freq"):
            continue
        new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise GgufUnsupported(f"tuneui's GGUF writer has no GGUF name for tensor {hf_name}")
        heads = n_head if hf_name.endswith("q_proj.weight") else n_kv if hf_name.endswith("k_proj.weight") else 0

        def load(path=path, hf_name=hf_name, heads=heads):
            data = _load(path, hf_name)
            return _permute(data, heads) if heads else data

        items.append((new, shape, _tensor_type(quant, new, shape, n_layers, tied), load))
    try:
        _stream(writer, items)
    finally:
        writer.close()
    os.replace(partial, target)
    return target


def requantize(src: str | Path, out_dir: str | Path, quant: str) -> Path:
    """Re-encode an f32/f16/bf16 GGUF (any architecture, e.g. llama.cpp's converter output) as
    out_dir/model-<quant>.gguf, keeping every metadata key; tensor types follow the same rules."""
    import gguf

    if quant not in QUANTS:
        raise TuneuiError(f"--quant {quant}: choose one of {', '.join(QUANTS)}")
    reader = gguf.GGUFReader(str(src))

    def meta(key: str):
        found = reader.get_field(key)
        if found is None:
            raise TuneuiError(f"{src}: no {key} in the GGUF metadata")
        return found.contents()

    arch = meta(gguf.Keys.General.ARCHITECTURE)
    n_layers = meta(f"{arch}.block_count")
    names = {t.name for t in reader.tensors}
    tied = "output.weight" not in names
    plain = (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16)
    for t in reader.tensors:
        if t.tensor_type not in plain:  # re-encoding a quantised tensor would stack two rounding errors
            raise TuneuiError(f"{src}: tensor {t.name} is already {t.tensor_type.name}; requantise from f16/bf16/f32")
    target = Path(out_dir) / gguf_name(quant)
    tmp = target.with_name(f".{target.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        if field.name == gguf.Keys.General.FILE_TYPE:
            writer.add_file_type(_FILE_TYPE[quant])
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    items = []
    for t in reader.tensors:
        shape = tuple(reversed(t.shape.tolist()))  # GGUF lists dimensions innermost first

        def load(t=t, shape=shape):
            return gguf.dequantize(t.data, t.tensor_type).reshape(shape)

        items.append((t.name, shape, _tensor_type(quant, t.name, shape, n_layers, tied), load))
    try:
        _stream(writer, items)
    finally:
        writer.close()
    os.replace(tmp, target)
    return target


def tensor_types(path: str | Path) -> dict[str, str]:
    """{tensor name: GGML type name} of a GGUF file, for checks and the export summary."""
    from gguf import GGUFReader

    return {t.name: t.tensor_type.name for t in GGUFReader(str(path)).tensors}
