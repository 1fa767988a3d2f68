"""A preview of exactly what will be trained: one example rendered through the chat template by
the training engine's own encoder, as segments the UI can colour (trained = assistant tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuneui.data.schema import Conversation


@dataclass
class Preview:
    segments: list[dict] = field(default_factory=list)  # {"text": str, "trained": bool}
    tokens: int = 0
    trained_tokens: int = 0
    truncated: bool = False
    max_seq_length: int = 0

    def to_dict(self) -> dict:
        return {"segments": self.segments, "tokens": self.tokens, "trained_tokens": self.trained_tokens,
                "truncated": self.truncated, "max_seq_length": self.max_seq_length}


def preview_example(tokenizer, conversation: Conversation, max_seq_length: int = 1024) -> Preview:
    from tuneui.training.tokenize import encode_conversation, segments

    enc = encode_conversation(tokenizer, conversation, max_seq_length)
    return Preview(segments(enc), len(enc.input_ids), enc.trained_tokens, enc.truncated, max_seq_length)
