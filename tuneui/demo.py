"""The offline demo: a tiny Llama-architecture model and its tokenizer, built locally.

Nothing can be downloaded, so tuneui builds its own base model: a byte-level BPE tokenizer trained
with the `tokenizers` library on the bundled texts, a ChatML chat template, and a randomly
initialised Llama model with a fixed seed. The build is deterministic and takes seconds. It is
cached under the platformdirs cache dir, in a folder named for the build spec, so a changed spec
never reuses a stale build.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tuneui.contract import paths
from tuneui.contract.fsutil import atomic_dir, atomic_write_text

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
VOCAB_SIZE = 1024  # the tokenizer's own vocab is smaller; the model's embedding is fixed so the
# config is known before the tokenizer is trained (recommend/inspect use it without a build).
MODEL_SPEC = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 192,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}
SEED = 0


def sample_dataset_path() -> Path:
    return paths.package_assets() / "sample_dataset.jsonl"


def general_text_path() -> Path:
    """Plain text of the project's own writing: tokenizer corpus and forgetting probe."""
    return paths.package_assets() / "general_text.txt"


def _spec_hash() -> str:
    # The tokenizer is trained on the bundled texts, so they are part of the build spec too.
    corpus = hashlib.sha256(sample_dataset_path().read_bytes() + general_text_path().read_bytes()).hexdigest()
    blob = json.dumps({"model": MODEL_SPEC, "tokens": SPECIAL_TOKENS, "template": CHAT_TEMPLATE,
                       "seed": SEED, "corpus": corpus, "v": 1}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def default_demo_dir() -> Path:
    return paths.cache_dir() / f"demo-model-{_spec_hash()}"


def demo_model_config() -> dict:
    """The demo model's config.json as a dict, available without building anything."""
    from tuneui import __version__

    return {**MODEL_SPEC, "bos_token_id": None, "eos_token_id": 2, "pad_token_id": 3,
            "tuneui_demo": True, "tuneui_version": __version__}


def _tokenizer_corpus() -> list[str]:
    lines = general_text_path().read_text(encoding="utf-8").split("\n")
    for raw in sample_dataset_path().read_text(encoding="utf-8").splitlines():
        lines += [m["content"] for m in json.loads(raw)["messages"]]
    lines += ["system", "user", "assistant"]
    return lines


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Digits one by one so numbers compose; byte-level so any text round-trips.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_tokenizer_corpus(), trainer=trainer)
    assert tok.get_vocab_size() <= VOCAB_SIZE
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>", unk_token=None,
        bos_token=None, additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = MODEL_SPEC["max_position_embeddings"]
    return fast


def build_demo_model(out_dir: str | Path) -> Path:
    """Write tokenizer + random-init weights (safetensors) + config to out_dir, atomically."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = build_tokenizer()
    cfg = demo_model_config()
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") == cfg["eos_token_id"]
    assert tokenizer.convert_tokens_to_ids("<|pad|>") == cfg["pad_token_id"]
    config = LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "torch_dtype")})
    state = torch.random.get_rng_state()
    torch.manual_seed(SEED)
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(state)
    model.generation_config = GenerationConfig(
        eos_token_id=cfg["eos_token_id"], pad_token_id=cfg["pad_token_id"], do_sample=False
    )
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_text(tmp / "README.md", "# tuneui demo model\n\nA tiny randomly initialised Llama-architecture "
                          "model built offline by `tuneui demo-model`, for trying tuneui without downloads.\n")
    return out_dir


def ensure_demo_model(out_dir: str | Path | None = None) -> Path:
    """The demo model directory, built on first use."""
    out = Path(out_dir) if out_dir else default_demo_dir()
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    return build_demo_model(out)
