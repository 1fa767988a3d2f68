"""Exact loss masking for any chat template (see docs/masking.md).

Rules:

- Every assistant reply is trained in full, plus the end-of-turn/EOS token that closes it. Nothing
  from system, user or tool turns is trained, nor the role headers, nor the separator the template
  writes after the end-of-turn token.
- A reply starts where the model starts writing at inference: after the template's generation
  prompt. Function calls (assistant `tool_calls`, as the template renders them) are part of the
  reply and trained; tool results are not.
- A token that overlaps a reply span is trained (a token straddling the boundary, or whose offsets
  include a leading space, is never dropped).
- Spans come from ONE rendering of the whole conversation by the model's own template (plus, only
  for unusual templates, one rendering with placeholders), so the cost is linear in the number of
  turns and templates that rewrite earlier turns (Qwen3, DeepSeek-R1, Phi-3) need no special case.
- Reasoning (`<think>...</think>` in content, or a `reasoning_content`/`thinking`/`reasoning`
  field) is rendered the way the model is asked at inference; `RenderOptions.train_reasoning`
  decides whether the reasoning text is trained (the answer and its end token always are).
- Where a span cannot be determined the example is refused with `MaskingRefused`, whose `reason`
  callers count and name. There is never a silent fallback.

This package is engine level: stdlib, `tuneui.contract.errors`, a tokenizer passed in, and transformers'
Jinja environment imported inside functions.
"""

from tuneui.templates.encode import (
    IGNORE_INDEX,
    EncodedExample,
    encode_conversation,
    segments,
    trained_labels,
)
from tuneui.templates.refusals import REASONS, MaskingRefused
from tuneui.templates.spans import (
    RenderOptions,
    check_conversations,
    fold_system_prompt,
    reasoning_text,
    render_spans,
)

__all__ = [
    "IGNORE_INDEX",
    "REASONS",
    "EncodedExample",
    "MaskingRefused",
    "RenderOptions",
    "check_conversations",
    "encode_conversation",
    "fold_system_prompt",
    "reasoning_text",
    "render_spans",
    "segments",
    "trained_labels",
]
