"""Every trained token, for every real template, against an independent reference.

The reference is transformers' own `apply_chat_template(..., return_assistant_tokens_mask=True)` run
on a copy of each template marked with `{% generation %}` ... `{% endgeneration %}` around what the
rules train: the reply as the template renders it (reasoning, content, tool calls) and the
end-of-turn token that closes it. The copies sit next to the originals in tests/data/chat_templates
as NAME.generation.jinja (and NAME.generation-no-reasoning.jinja where reasoning is rendered by the
template, for train_reasoning=False); mark_generation.py made them with explicit, one-match edits
and says why each edit is what it is. transformers marks every token overlapping a marked span, the
same rule the masking states, so the comparison is token for token: the test fails if any trained
token differs, or if the two renderings differ by a single character.

What the reference cannot express is asserted directly in test_masking_rules.py:
- masking reasoning written inside the content (templates with no reasoning field) when
  train_reasoning=False: a `{% generation %}` block cannot start in the middle of a string;
- the reasoning fold itself (a reasoning field becoming `<think>...</think>` content for templates
  that ignore the field): the reference is given the folded conversation.
"""

from __future__ import annotations

import pytest

from tests.engine.chat_template_cases import (
    REASONING_CASES,
    SOURCES,
    TEMPLATES,
    cases_for,
    fold_reasoning,
    template_text,
    tokenizer_for,
)
from tuneui.templates import IGNORE_INDEX, RenderOptions, encode_conversation

READS_REASONING = {"qwen3"}  # the templates among these that read a reasoning field themselves


def _params():
    for name in SOURCES:
        no_reasoning_copy = (TEMPLATES / f"{name}.generation-no-reasoning.jinja").exists()
        for case, _conv, _tools in cases_for(name):
            for kind in ("bytelevel", "metaspace"):
                yield pytest.param(name, case, kind, True, id=f"{name}-{case}-{kind}")
                # train_reasoning=False changes nothing unless the template renders reasoning itself.
                if no_reasoning_copy:
                    yield pytest.param(name, case, kind, False, id=f"{name}-{case}-{kind}-no-reasoning")


@pytest.mark.parametrize("name,case,kind,train_reasoning", list(_params()))
def test_trained_tokens_match_the_generation_marked_reference(name, case, kind, train_reasoning):
    tok = tokenizer_for(name, kind)
    conv, tools = next((c, t) for k, c, t in cases_for(name) if k == case)
    enc = encode_conversation(tok, conv, 1 << 20, tools=tools, options=RenderOptions(train_reasoning=train_reasoning))

    ref_conv = conv if name in READS_REASONING else fold_reasoning(conv)
    marked = template_text(name, "generation" if train_reasoning else "generation-no-reasoning")
    ref_text = tok.apply_chat_template(ref_conv, chat_template=marked, tools=tools, tokenize=False)
    assert enc.text == ref_text
    if name != "deepseek-r1-distill-qwen":  # the one template whose final reply is re-rendered on purpose
        assert enc.text == tok.apply_chat_template(ref_conv, tools=tools, tokenize=False)
    ref = tok.apply_chat_template(ref_conv, chat_template=marked, tools=tools, tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True)
    assert enc.input_ids == list(ref["input_ids"])
    ours = [t for t, label in enumerate(enc.labels) if label != IGNORE_INDEX]
    theirs = [t for t, m in enumerate(ref["assistant_masks"]) if m]
    if ours != theirs:
        show = lambda ts: [tok.decode([enc.input_ids[t]]) for t in ts]
        pytest.fail(f"trained tokens differ\n only ours: {show(sorted(set(ours) - set(theirs)))}\n"
                    f" only reference: {show(sorted(set(theirs) - set(ours)))}")
    assert all(enc.labels[t] == enc.input_ids[t] for t in ours)
    if case in REASONING_CASES or train_reasoning is False:
        assert ours, "a reasoning conversation must still train its answer"
