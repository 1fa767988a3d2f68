"""Model introspection from config.json only: parameter counts checked against the real models' sizes."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tuneui.contract.errors import ModelError
from tuneui.models import info_from_config, inspect_model

# Shapes copied from the models' published config.json files; totals are the parameter counts the
# model cards (and `sum(p.numel())` of the real checkpoints) report.
LLAMA2_7B = dict(model_type="llama", hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096,
                 tie_word_embeddings=False, torch_dtype="float16")
QWEN25_05B = dict(model_type="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768,
                  tie_word_embeddings=True, torch_dtype="bfloat16")
LLAMA2_70B = dict(model_type="llama", hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                  num_attention_heads=64, num_key_value_heads=8, vocab_size=32000, tie_word_embeddings=False)
GPT2 = dict(model_type="gpt2", n_embd=768, n_layer=12, n_head=12, vocab_size=50257, n_positions=1024)
MIXTRAL = dict(model_type="mixtral", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8, vocab_size=32000, num_local_experts=8,
               num_experts_per_tok=2)


@pytest.mark.parametrize("cfg, total", [
    (LLAMA2_7B, 6_738_415_616), (QWEN25_05B, 494_032_768), (LLAMA2_70B, 68_976_648_192), (GPT2, 124_439_808),
    (MIXTRAL, 46_702_792_704),
])
def test_parameter_counts_match_the_real_models(cfg, total):
    assert info_from_config(cfg, name="x").total_params == total


def test_breakdown_of_a_llama_and_a_tied_qwen():
    m = info_from_config(LLAMA2_7B, name="llama")
    assert m.embed_params == m.lm_head_params == 32000 * 4096 and not m.tie_word_embeddings
    assert m.embed_params + m.layers_params + m.lm_head_params + m.other_params == m.total_params
    assert (m.num_heads, m.num_kv_heads, m.head_dim, m.max_position_embeddings, m.dtype) == (32, 32, 128, 4096,
                                                                                              "float16")
    q = info_from_config(QWEN25_05B, name="qwen")
    assert q.tie_word_embeddings and q.lm_head_params == 0 and q.num_kv_heads == 2 and q.head_dim == 64
    # LoRA r=16 on all linears of Llama-2-7B: the 39,976,960 trainable parameters peft reports
    assert m.lora_params(16) == 39_976_960
    assert m.lora_params(16, ["q_proj", "v_proj"]) == 32 * 16 * (4096 + 4096) * 2


def test_moe_active_parameters():
    m = info_from_config(MIXTRAL, name="mixtral")
    assert m.num_experts == 8 and m.active_params == 12_879_925_248
    assert any("mixture of experts" in w for w in m.warnings)


def test_multimodal_wrapper_reads_text_config():
    cfg = {"model_type": "gemma3", "text_config": {**LLAMA2_7B, "model_type": "gemma3_text"},
           "vision_config": {"hidden_size": 1152}}
    m = info_from_config(cfg, name="vlm")
    assert m.hidden_size == 4096 and any("vision" in w for w in m.warnings)


def test_local_dir_config_file_and_config_only_dir(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(LLAMA2_7B))
    (d / "model.safetensors").write_bytes(b"")  # never read
    assert inspect_model(str(d)).total_params == 6_738_415_616
    assert inspect_model(str(d / "config.json")).source == "local"
    only = tmp_path / "only-config"
    only.mkdir()
    (only / "config.json").write_text(json.dumps(QWEN25_05B))
    assert inspect_model(str(only)).total_params == 494_032_768


def test_bad_inputs_are_clear_model_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        inspect_model(str(empty))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{\n  "hidden_size": 4096,\n  oops\n}')
    with pytest.raises(ModelError) as err:
        inspect_model(str(broken))
    assert "config.json:3:" in str(err.value)
    (broken / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    with pytest.raises(ModelError, match="num_hidden_layers"):
        inspect_model(str(broken))
    with pytest.raises(ModelError, match="no such directory"):
        inspect_model(str(tmp_path / "missing"))
    with pytest.raises(ModelError):
        inspect_model("")


def test_hub_ids_come_from_the_local_cache_only(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    with pytest.raises(ModelError, match="not in the Hugging Face cache"):
        inspect_model("someorg/some-model")
    snap = cache / "models--someorg--some-model" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(QWEN25_05B))
    (cache / "models--someorg--some-model" / "refs").mkdir()
    (cache / "models--someorg--some-model" / "refs" / "main").write_text("a" * 40)
    m = inspect_model("someorg/some-model")
    assert m.source == "hub-cache" and m.total_params == 494_032_768


def test_demo_tiny_uses_the_tiny_config_lazily(monkeypatch):
    fake = types.ModuleType("tuneui.demo")
    fake.demo_model_config = lambda: {**LLAMA2_7B, "hidden_size": 64, "intermediate_size": 128,
                                      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
                                      "vocab_size": 512}
    monkeypatch.setitem(sys.modules, "tuneui.demo", fake)
    m = inspect_model("demo-tiny")
    assert m.source == "demo-tiny" and m.hidden_size == 64 and m.num_layers == 2


def test_the_demo_configs_need_no_build_or_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path))
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache"))
    m = inspect_model("demo")
    # SmolLM2-135M-Instruct's published parameter count (tied embeddings), from its shape alone.
    assert (m.source, m.num_layers, m.hidden_size, m.total_params, m.dtype) == ("demo", 30, 576, 134_515_008,
                                                                                "bfloat16")
    assert any("fetched once" in w for w in m.warnings)
    tiny = inspect_model("demo-tiny")
    assert tiny.source == "demo-tiny" and tiny.total_params < 2_000_000
    assert not any(tmp_path.iterdir())  # nothing was built or fetched to answer


def test_the_demo_model_once_fetched_is_described_from_its_folder(tmp_path, monkeypatch):
    """The Model step said "weights not on disk here" even after the demo model had been converted into
    the cache."""
    from tuneui import demo_model_real as real
    from tuneui.models import model_files

    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path))
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(real, "hub_cached", lambda: None)
    assert model_files("demo").weights_bytes is None
    folder = real.converted_dir()
    folder.mkdir(parents=True)
    for name, size in (("config.json", 10), ("model.safetensors", 4096), ("tokenizer.json", 10),
                       (real.SOURCE_FILE, 10)):
        (folder / name).write_bytes(b"x" * size)
    files = model_files("demo")
    assert files.weights_bytes == 4096 and files.directory == str(folder)
