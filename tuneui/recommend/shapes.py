"""Reference model shapes (copied from the published config.json files) for what-if planning, tests and
the memory benchmark: the 0.5B..70B ladder a first-time fine-tuner meets."""

from __future__ import annotations

REFERENCE_CONFIGS: dict[str, dict] = {
    "0.5B": dict(model_type="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
                 max_position_embeddings=32768),  # Qwen2.5-0.5B
    "1.5B": dict(model_type="qwen2", hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                 num_attention_heads=12, num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
                 max_position_embeddings=32768),  # Qwen2.5-1.5B
    "3B": dict(model_type="llama", hidden_size=3072, intermediate_size=8192, num_hidden_layers=28,
               num_attention_heads=24, num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True,
               max_position_embeddings=131072),  # Llama-3.2-3B
    "7B": dict(model_type="llama", hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=32, vocab_size=32000, tie_word_embeddings=False,
               max_position_embeddings=4096),  # Llama-2-7B
    "13B": dict(model_type="llama", hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                num_attention_heads=40, num_key_value_heads=40, vocab_size=32000, tie_word_embeddings=False,
                max_position_embeddings=4096),  # Llama-2-13B
    "70B": dict(model_type="llama", hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                num_attention_heads=64, num_key_value_heads=8, vocab_size=32000, tie_word_embeddings=False,
                max_position_embeddings=4096),  # Llama-2-70B
}
