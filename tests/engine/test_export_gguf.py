"""GGUF export without llama.cpp: written by tuneui, read back by transformers' own GGUF loader.

Each file is loaded with `from_pretrained(dir, gguf_file=...)` (which dequantises through gguf-py)
and its logits are compared with the merged model's on a few prompts. Tolerances are relative L2
errors of the logits, ||gguf - hf|| / ||hf||, on randomly initialised weights (Gaussian weights with
no outliers, which is the hard case for block quantisation):
  f16 2e-3 (measured 7e-4), bf16 1e-2 (5e-3), q8_0 4e-2 (1.7e-2), q4_k_m 0.35 (0.22).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from tuneui.contract.errors import TuneuiError
from tuneui.export_gguf import gguf_name, pre_tokenizer_name, tensor_types, write_gguf

PROMPTS = ["Hello there, how are you today?", "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n",
           "The quick brown fox jumps over the lazy dog."]
TOLERANCE = {"f16": 2e-3, "bf16": 1e-2, "q8_0": 4e-2, "q4_k_m": 0.35}


@pytest.fixture(scope="module")
def llama256(tmp_path_factory):
    """An untied Llama whose rows are multiples of 256, so every k-quant applies without fallback."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneui.demo import build_tokenizer

    out = tmp_path_factory.mktemp("llama256")
    tok = build_tokenizer()
    cfg = LlamaConfig(vocab_size=1024, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=False, eos_token_id=2, pad_token_id=3, bos_token_id=None)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _logits(model_dir, tokenizer, gguf_file=None):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=gguf_file, dtype=torch.float32).eval()
    with torch.no_grad():
        return [model(torch.tensor([tokenizer(p)["input_ids"]])).logits[0] for p in PROMPTS]


def _rel_error(got, ref) -> float:
    return max(((g - r).norm() / r.norm()).item() for g, r in zip(got, ref))


@pytest.mark.parametrize("quant", ["f16", "bf16", "q8_0", "q4_k_m"])
def test_gguf_loads_in_transformers_with_logits_close_to_the_merged_model(llama256, quant):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(llama256)
    path = write_gguf(llama256, llama256, quant)
    assert path.name == gguf_name(quant) == f"model-{quant}.gguf"
    err = _rel_error(_logits(llama256, tok, path.name), _logits(llama256, tok))
    assert err < TOLERANCE[quant], f"{quant}: relative logit error {err:.4f}"
    if quant != "f16":  # each step down in precision really changes the weights
        f16 = write_gguf(llama256, llama256, "f16")
        assert path.stat().st_size < f16.stat().st_size or quant == "bf16"


def test_q4_k_m_follows_llama_cpp_mix(llama256):
    types = tensor_types(write_gguf(llama256, llama256, "q4_k_m"))
    # 4 layers: llama.cpp's use_more_bits picks layers 2 and 3 for attn_v / ffn_down
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert [types[f"blk.{i}.attn_v.weight"] for i in range(4)] == ["Q4_K", "Q4_K", "Q6_K", "Q6_K"]
    assert [types[f"blk.{i}.ffn_down.weight"] for i in range(4)] == ["Q4_K", "Q4_K", "Q6_K", "Q6_K"]
    assert types["blk.0.attn_q.weight"] == "Q4_K" and types["blk.0.attn_norm.weight"] == "F32"


def test_demo_model_with_tied_embeddings_and_192_wide_rows(demo_model_dir, demo_tokenizer, tmp_path):
    """192 is not a multiple of 256: llama.cpp falls back to Q5_0 (for Q4_K) and Q8_0 (for Q6_K)."""
    path = write_gguf(demo_model_dir, tmp_path, "q4_k_m")
    types = tensor_types(path)
    assert "output.weight" not in types  # tied: the reader reuses token_embd
    assert types["token_embd.weight"] == "Q8_0"
    assert types["blk.0.attn_q.weight"] == "Q5_0" and types["blk.3.attn_v.weight"] == "Q8_0"
    assert types["blk.0.ffn_down.weight"] == "Q4_K"  # its rows are 512 wide
    err = _rel_error(_logits(tmp_path, demo_tokenizer, path.name), _logits(demo_model_dir, demo_tokenizer))
    assert err < TOLERANCE["q4_k_m"]


def test_tokenizer_round_trips_through_the_gguf(llama256):
    from transformers import AutoTokenizer

    write_gguf(llama256, llama256, "q8_0")
    hf = AutoTokenizer.from_pretrained(llama256)
    back = AutoTokenizer.from_pretrained(llama256, gguf_file="model-q8_0.gguf")
    for text in PROMPTS:
        assert back(text)["input_ids"] == hf(text)["input_ids"]
    assert back.convert_tokens_to_ids("<|im_end|>") == hf.eos_token_id


def test_pre_tokenizer_names_come_from_transformers_table():
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        GGUF_PRE_TOKENIZER_SPLITS,
    )

    llama3 = {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": GGUF_PRE_TOKENIZER_SPLITS["llama-bpe"]}, "behavior": "Isolated"},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]}}
    assert pre_tokenizer_name(llama3) in ("llama3", "llama-v3", "llama-bpe")
    smollm = {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, {"type": "ByteLevel", "use_regex": True}]}}
    assert pre_tokenizer_name(smollm) == "smollm"
    assert pre_tokenizer_name({"pre_tokenizer": {"type": "ByteLevel"}}) == "gpt-2"
    assert pre_tokenizer_name({"pre_tokenizer": {"type": "Whitespace"}}) == "default"


def test_other_architectures_and_bad_quant_are_one_line_errors(tmp_path, llama256):
    from transformers import Qwen2Config

    Qwen2Config(num_hidden_layers=1, hidden_size=64, intermediate_size=64, num_attention_heads=2,
                num_key_value_heads=1, vocab_size=128).save_pretrained(tmp_path)
    with pytest.raises(TuneuiError, match="handles llama/mistral models, not qwen2"):
        write_gguf(tmp_path, tmp_path / "out", "f16")
    with pytest.raises(TuneuiError, match="--quant q3: choose one of"):
        write_gguf(llama256, tmp_path / "out", "q3")


@pytest.mark.parametrize("qtype, bound", [("Q4_K", 0.075), ("Q6_K", 0.025)])  # measured 0.072, 0.019
def test_k_quant_encoders_round_trip_through_gguf_py(qtype, bound):
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    from tuneui.gguf_quants import quantize

    t = T[qtype]
    x = np.random.default_rng(1).normal(0, 0.02, (32, 512)).astype(np.float32)
    x[0, :256] = 0.0  # an all-zero block must stay exactly zero (no division by a zero scale)
    x[1, :256] = 0.5  # a constant block
    back = quants.dequantize(quantize(x, t), t)
    assert back.shape == x.shape
    assert np.all(back[0, :256] == 0)
    assert np.allclose(back[1, :256], 0.5, rtol=0.02)
    rows = x[2:]
    rel = np.sqrt(((back[2:] - rows) ** 2).mean()) / rows.std()
    assert rel < bound, f"{qtype}: relative RMS error {rel:.4f}"


def test_requantize_keeps_metadata_and_matches_direct_q4_k_m(llama256, tmp_path):
    """The path for architectures tuneui does not write itself: re-encode an f16 GGUF (as llama.cpp's
    converter would produce) into q4_k_m."""
    from gguf import GGUFReader
    from transformers import AutoTokenizer

    from tuneui.export_gguf import requantize

    f16 = write_gguf(llama256, tmp_path / "f16", "f16")
    out = requantize(f16, tmp_path, "q4_k_m")
    direct = write_gguf(llama256, tmp_path / "direct", "q4_k_m")
    assert tensor_types(out) == tensor_types(direct)
    a, b = GGUFReader(str(out)), GGUFReader(str(f16))
    assert a.get_field("general.file_type").contents() == 15
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.chat_template", "llama.block_count"):
        assert a.get_field(key).contents() == b.get_field(key).contents()
    (tmp_path / "config.json").write_text((llama256 / "config.json").read_text())
    tok = AutoTokenizer.from_pretrained(llama256)
    err = _rel_error(_logits(tmp_path, tok, out.name), _logits(llama256, tok))
    assert err < TOLERANCE["q4_k_m"]
    with pytest.raises(TuneuiError, match="output.weight is already Q6_K"):
        requantize(out, tmp_path / "again", "q8_0")
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_llama_cpp_reads_the_files_and_quantises_to_the_same_mix(llama256, tmp_path):
    """llama.cpp (the engine behind Ollama and LM Studio) loads tuneui's GGUFs, tokenises like the HF tokenizer
    and gives the HF logits; its own Q4_K_M of tuneui's f16 file has the same per-tensor types."""
    import llama_cpp
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(llama256)
    text = PROMPTS[0] + " 12345"
    ids = tok(text)["input_ids"]
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(llama256, dtype=torch.float32).eval()
    with torch.no_grad():
        ref = hf(torch.tensor([ids])).logits[0].numpy()
    ours = write_gguf(llama256, tmp_path / "numpy", "q4_k_m", engine="numpy")
    notes: list[str] = []
    theirs = write_gguf(llama256, tmp_path / "llama", "q4_k_m", engine="llama.cpp", notes=notes)
    assert "llama.cpp" in notes[-1]
    assert tensor_types(ours) == tensor_types(theirs)
    for quant, path in (("f16", write_gguf(llama256, tmp_path, "f16")), ("q4_k_m", ours)):
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, logits_all=True, verbose=False)
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids
        llm.eval(ids)
        got = np.array(llm.scores[: len(ids)])
        err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        assert err < TOLERANCE[quant], f"{quant} in llama.cpp: {err:.4f}"
