"""What a chat template does around a reply, learnt once per template from two tiny probe renderings.

- the generation prompt: what inference appends to a conversation before the model writes (the
  difference between a one-message conversation rendered with and without it);
- the reply header and trailer: what the template writes before and after a reply's content in a
  past turn, found by rendering a placeholder reply;
- whether the template reads a reasoning field, and whether its generation prompt opens a
  `<think>` block the model continues.

Every probe is also rendered by `tokenizer.apply_chat_template`; the instrumented copy must give the
same text, or the template is refused as unsupported rather than trained on a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

from tuneui.templates.refusals import (
    TEMPLATE_REJECTED,
    TEMPLATE_UNSUPPORTED,
    MaskingRefused,
)
from tuneui.templates.render import instrumented, prepare_messages, template_variables

# Private-use characters: never in real text, and not whitespace, so `trim` and `strip` keep them.
PLACEHOLDER = "\ue000tuneui reply\ue001"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_READS_REASONING = re.compile(r"reasoning_content|\.thinking\b|\[\s*['\"]thinking['\"]\s*\]|\.reasoning\b"
                              r"|\[\s*['\"]reasoning['\"]\s*\]")
_PROBES = ([{"role": "user", "content": "Hi"}],
           [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])


@dataclass(frozen=True)
class TemplateFacts:
    generation_prompt: str
    reply_header: str | None  # None: the probe's placeholder did not come out verbatim
    reply_trailer: str | None
    reads_reasoning: bool
    opens_reasoning: bool  # the generation prompt ends inside an open <think> block
    special_tokens: tuple[str, ...]  # the tokenizer's special tokens, longest first

    @cached_property
    def _by_length(self) -> tuple[tuple[int, frozenset[str]], ...]:
        lengths = sorted({len(t) for t in self.special_tokens})
        return tuple((n, frozenset(t for t in self.special_tokens if len(t) == n)) for n in lengths)

    def ends_with_special(self, text: str) -> bool:
        return any(text[-n:] in tokens for n, tokens in self._by_length if n <= len(text))


_CACHE: dict[tuple, TemplateFacts] = {}


def special_tokens(tokenizer) -> tuple[str, ...]:
    toks = set(tokenizer.all_special_tokens)
    toks.update(t.content for t in tokenizer.added_tokens_decoder.values() if t.special)
    return tuple(sorted((t for t in toks if t), key=len, reverse=True))


def template_facts(tokenizer, source: str, tools=None) -> TemplateFacts:
    """Facts for this template, special tokens and tool list (some templates require tools)."""
    variables = template_variables(tokenizer)
    specials = special_tokens(tokenizer)
    key = (source, tuple(sorted((k, str(v)) for k, v in variables.items())), specials,
           json.dumps(tools, sort_keys=True, default=str))
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = _learn(tokenizer, source, variables, specials, tools)
    return _CACHE[key]


def _learn(tokenizer, source: str, variables: dict, specials: tuple[str, ...], tools) -> TemplateFacts:
    tpl = instrumented(source)
    last_error = None
    for probe in _PROBES:
        try:
            without = _checked(tokenizer, tpl, source, probe, variables, tools, False)
            with_prompt = _checked(tokenizer, tpl, source, probe, variables, tools, True)
        except MaskingRefused as e:
            if e.reason == TEMPLATE_UNSUPPORTED:
                raise
            last_error = e
            continue
        prompt = with_prompt.text[_snap(with_prompt.text, _common_prefix(without.text, with_prompt.text), specials):]
        header, trailer = _reply_frame(tpl, probe, variables, tools)
        return TemplateFacts(prompt, header, trailer, bool(_READS_REASONING.search(source)),
                             prompt.rstrip().endswith(THINK_OPEN), specials)
    # A template that cannot render even "Hi" rejects every conversation (e.g. a tool_use template
    # given no tools): its own message says why.
    assert last_error is not None  # every probe failed, so one error was kept
    raise MaskingRefused(TEMPLATE_REJECTED, f"{last_error.message} (even a one-message conversation fails)")


def _checked(tokenizer, tpl, source, probe, variables, tools, add_generation_prompt):
    rendered = tpl.render(prepare_messages(probe), tools=tools, add_generation_prompt=add_generation_prompt,
                          variables=variables)
    expected = tokenizer.apply_chat_template(probe, chat_template=source, tools=tools, tokenize=False,
                                             add_generation_prompt=add_generation_prompt)
    if rendered.text != expected:
        raise MaskingRefused(TEMPLATE_UNSUPPORTED, "the instrumented chat template renders differently from "
                                                   "transformers; its reply spans cannot be trusted")
    return rendered


def _reply_frame(tpl, probe, variables, tools) -> tuple[str | None, str | None]:
    msgs = prepare_messages([*probe, {"role": "assistant", "content": PLACEHOLDER}])
    try:
        rendered = tpl.render(msgs, tools=tools, variables=variables)
    except MaskingRefused:
        return None, None
    block = rendered.blocks[-1]
    if block is None:
        return None, None
    text = rendered.text[block[0]:block[1]]
    at = text.find(PLACEHOLDER)
    if at < 0:
        return None, None
    return text[:at], text[at + len(PLACEHOLDER):]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _snap(text: str, i: int, specials: tuple[str, ...]) -> int:
    """Move a cut back to the start of a special token it falls inside: Phi-3's "<|endoftext|>" and
    "<|assistant|>" share "<|", which belongs to the generation prompt, not to the conversation."""
    for t in specials:
        lo = max(0, i - len(t) + 1)
        at = text.find(t, lo, i + len(t) - 1)
        if 0 <= at < i < at + len(t):
            return at
    return i
