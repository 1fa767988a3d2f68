"""From one rendering of a conversation to the character spans that are trained.

For each assistant message, its loop iteration's output (its block) is cut into header, reply and
tail:

- the reply starts where the generation prompt ends when the block begins with it (the text the
  model writes after being prompted), else after the template's usual reply header (learnt from a
  probe), else after the header found by rendering this conversation again with the reply replaced
  by a placeholder. If none fits, the example is refused (`reply_not_found`).
- the reply ends after its closing token: the block, trailing whitespace aside, ending with a
  special token or with what the template writes after every reply (learnt from the probe). A block
  with no closing token (a final reply some inference templates leave open, a tool call Command-R
  ends with a code fence) ends at the block's end, less the template's usual trailer.

Reasoning: a reasoning field is passed through for templates that read one; otherwise it is folded
into the content as `<think>\\n...\\n</think>\\n\\n` + content, the form reasoning models write. When the
generation prompt opens a `<think>` block (DeepSeek-R1 distills) but the template renders past
replies without it, the final reply is written the way the model produces it at inference:
generation prompt, reasoning, `\\n</think>\\n\\n`, answer, end-of-turn token (checked by rendering
the history with the generation prompt: one more rendering, for those templates only). With
`train_reasoning=False` the reasoning block (up to `</think>` and the line breaks after it) is masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuneui.templates.facts import (
    PLACEHOLDER,
    THINK_CLOSE,
    THINK_OPEN,
    TemplateFacts,
    template_facts,
)
from tuneui.templates.refusals import NO_REPLY, REPLY_NOT_FOUND, MaskingRefused
from tuneui.templates.render import (
    REASONING_FIELDS,
    instrumented,
    prepare_messages,
    template_source,
    template_variables,
)


@dataclass(frozen=True)
class RenderOptions:
    train_reasoning: bool = True  # reasoning in replies is what a reasoning model must learn to write
    fold_system: bool = False  # system prompt -> head of the first user turn (templates with no system role)


DEFAULT_OPTIONS = RenderOptions()


@dataclass
class SpanPlan:
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    reasoning_dropped: int = 0  # replies whose reasoning the template does not render (e.g. past Qwen3 turns)


def render_spans(tokenizer, messages, *, tools=None, options: RenderOptions = DEFAULT_OPTIONS):
    """(rendered text, [start, end) character spans to train), from one rendering of the conversation."""
    plan = plan_spans(tokenizer, messages, tools=tools, options=options)
    return plan.text, plan.spans


def check_conversations(tokenizer, conversations, *, tools_per_row=None,
                        options: RenderOptions = DEFAULT_OPTIONS) -> list[tuple[int, str, str]]:
    """(row index, reason, message) for every conversation that would be refused; renders each once."""
    out = []
    for i, conv in enumerate(conversations):
        tools = tools_per_row[i] if tools_per_row is not None else None
        try:
            plan_spans(tokenizer, conv, tools=tools, options=options)
        except MaskingRefused as e:
            out.append((i, e.reason, e.message))
    return out


def plan_spans(tokenizer, messages, *, tools=None, options: RenderOptions = DEFAULT_OPTIONS) -> SpanPlan:
    source = template_source(tokenizer, tools)
    facts = template_facts(tokenizer, source, tools)
    msgs, reasoning = _shape(messages, facts, options)
    replies = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    if not replies:
        raise MaskingRefused(NO_REPLY, "the conversation has no assistant reply to train")
    variables = template_variables(tokenizer)
    tpl = instrumented(source)
    rendered = tpl.render(msgs, tools=tools, variables=variables)
    text = rendered.text
    headers = {i: _header(text, rendered.blocks[i], facts) for i in replies}
    # A reply whose block starts with the generation prompt continues it, exactly as at inference.
    prompted = {i: (b := rendered.blocks[i]) is not None and text.startswith(facts.generation_prompt, b[0], b[1])
                for i in replies}
    unknown = [i for i in replies if headers[i] is None]
    if unknown:
        _find_headers(tpl, msgs, unknown, headers, text, rendered.blocks, tools, variables)

    plan = SpanPlan(text)
    for i in replies:
        span, found = rendered.blocks[i], headers[i]
        assert span is not None and found is not None  # _find_headers refuses the example otherwise
        start, end = span
        head: int = found
        block = text[start:end]
        stop = _reply_end(block, head, facts)
        in_think = facts.opens_reasoning and prompted[i]
        if i == len(msgs) - 1 and facts.opens_reasoning and not in_think and _asked_to_think(
                tpl, msgs, text[:start] + facts.generation_prompt, tools, variables):
            # The final reply, as the model writes it after the generation prompt that opens <think>.
            answer = block[head:stop].lstrip("\n")
            reply = facts.generation_prompt + reasoning[i].strip("\n") + "\n" + THINK_CLOSE + "\n\n" + answer
            plan.text = text = text[:start] + reply + block[stop:] + text[end:]
            head, stop, in_think = len(facts.generation_prompt), len(reply), True
            block = reply
        reply_text = block[head:stop]
        if reasoning[i].strip() and reasoning[i].strip()[:64] not in reply_text:
            plan.reasoning_dropped += 1
        if not options.train_reasoning and (in_think or reply_text.lstrip().startswith(THINK_OPEN)):
            head = _after_reasoning(block, head, stop)
        if stop > head and msgs[i].get("train") is not False:  # `train: False`: the file asks not to train it
            plan.spans.append((start + head, start + stop))
    if not plan.spans:
        raise MaskingRefused(NO_REPLY, "nothing to train: every assistant reply renders empty")
    return plan


def _shape(messages, facts: TemplateFacts, options: RenderOptions) -> tuple[list[dict], list[str]]:
    """The messages as the template will see them, and each one's reasoning text ("" if none)."""
    msgs = prepare_messages(messages)
    if options.fold_system:
        msgs = _fold_system(msgs)
    reasoning = [reasoning_text(m) if m["role"] == "assistant" else "" for m in msgs]
    if not facts.reads_reasoning and any(k in m for m in msgs for k in REASONING_FIELDS):
        for m in msgs:
            field_text = next((m[k] for k in REASONING_FIELDS if isinstance(m.get(k), str)), None)
            for k in REASONING_FIELDS:
                m.pop(k, None)
            if field_text is not None and m["role"] == "assistant":
                m["content"] = (THINK_OPEN + "\n" + field_text.strip("\n") + "\n" + THINK_CLOSE + "\n\n"
                                + (m.get("content") or ""))
    return msgs, reasoning


def fold_system_prompt(messages) -> list[dict]:
    """The conversation with its system prompt written at the head of the first user turn, separated
    by a blank line (what Gemma-3's template does, and Google documents for Gemma): for templates
    with no system role. Prompts at inference must be folded the same way. Copies; never changes
    the caller's messages."""
    return _fold_system([dict(m) if isinstance(m, dict) else m for m in messages])


def _fold_system(msgs: list) -> list:
    if msgs and isinstance(msgs[0], dict) and msgs[0].get("role") == "system":
        first_user = next((m for m in msgs[1:] if isinstance(m, dict) and m.get("role") == "user"), None)
        if first_user is not None and isinstance(msgs[0].get("content"), str):
            first_user["content"] = msgs[0]["content"] + "\n\n" + (first_user.get("content") or "")
            return msgs[1:]
    return msgs


def reasoning_text(message) -> str:
    """A reply's reasoning: its reasoning field, else the `<think>` block in its content; "" if none."""
    for k in REASONING_FIELDS:
        if isinstance(message.get(k), str):
            return message[k]
    content = message.get("content")
    if isinstance(content, str) and THINK_CLOSE in content:
        return content.split(THINK_CLOSE)[0].split(THINK_OPEN)[-1]
    return ""


def _header(text: str, block, facts: TemplateFacts) -> int | None:
    """Length of the text before the reply in its block: the generation prompt, else the
    template's usual reply header; None when neither begins the block."""
    if block is None:
        return None
    for header in (facts.generation_prompt, facts.reply_header):
        if header is not None and text.startswith(header, block[0], block[1]):
            return len(header)
    return None


def _find_headers(tpl, msgs, unknown, headers, text, blocks, tools, variables) -> None:
    """Headers the probes cannot explain (e.g. DeepSeek's reply right after tool results) come from
    rendering the conversation once more with those replies replaced by a placeholder."""
    swapped = [dict(m) for m in msgs]
    for i in unknown:
        if isinstance(msgs[i].get("content"), str) and msgs[i]["content"]:
            swapped[i]["content"] = PLACEHOLDER
    try:
        again = tpl.render(swapped, tools=tools, variables=variables)
    except MaskingRefused as e:
        raise MaskingRefused(REPLY_NOT_FOUND, f"cannot locate an assistant reply: the template rejects a "
                             f"placeholder in its place ({e.message})") from None
    for i in unknown:
        b = again.blocks[i]
        at = again.text.find(PLACEHOLDER, b[0], b[1]) if b else -1
        head = again.text[b[0]:at] if at >= 0 else None
        if head is None or blocks[i] is None or not text.startswith(head, blocks[i][0], blocks[i][1]):
            raise MaskingRefused(REPLY_NOT_FOUND, f"cannot locate message {i + 1} (assistant) in the rendered "
                                 "conversation: the template rewrites it or renders it outside its turn")
        headers[i] = len(head)


def _asked_to_think(tpl, msgs, expected: str, tools, variables) -> bool:
    """Whether inference, given this reply's history, prompts with exactly the rendered history plus
    the generation prompt (DeepSeek-R1 does, except right after tool results, where it prompts
    with no <think>)."""
    return tpl.render(msgs[:-1], tools=tools, add_generation_prompt=True, variables=variables).text == expected


def _reply_end(block: str, head: int, facts: TemplateFacts) -> int:
    body = block.rstrip()
    # The closing token: a special token ending the block, or what the template writes after every
    # reply (its trailer, whitespace aside) even where the tokenizer does not mark it special.
    closer = (facts.reply_trailer or "").strip()
    if len(body) > head and (facts.ends_with_special(body) or (closer and body.endswith(closer))):
        return len(body)
    trailer = facts.reply_trailer
    if trailer and block.endswith(trailer) and len(block) - len(trailer) >= head:
        return len(block) - len(trailer)
    return len(block)


def _after_reasoning(block: str, head: int, stop: int) -> int:
    at = block.find(THINK_CLOSE, head, stop)
    if at < 0:
        return head
    at += len(THINK_CLOSE)
    while at < stop and block[at] in "\r\n":  # the line breaks templates write after </think>
        at += 1
    return at
