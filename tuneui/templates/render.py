"""One rendering of a whole conversation, with the character range each message's output occupies.

A copy of the chat template is instrumented at the syntax-tree level: every `{% for %}` loop body
starts with a statement that outputs nothing and calls back with the loop variable, and every loop
is followed by one that calls back when the loop is done. When the variable is one of the
conversation's messages, the callbacks record how much text has been rendered so far: a message's
output runs from the start of its iteration to the start of the next one (or the loop's end). Jinja
renders into a generator, so when a statement runs every earlier piece of output has already been
handed over: the recorded length is the exact position in the final text (transformers' own
`{% generation %}` tracker relies on the same property). The rendered text is unchanged;
`template_facts` checks that against transformers' own rendering.

The template sees exactly what `tokenizer.apply_chat_template` gives it (same Jinja environment,
same variables, messages prepared the same way), so the text is the one inference will use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tuneui.templates.refusals import (
    BAD_MESSAGE,
    NO_CHAT_TEMPLATE,
    TEMPLATE_REJECTED,
    TEMPLATE_UNSUPPORTED,
    MaskingRefused,
)

REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")  # the names transformers aliases
_ENTER, _DONE = "tuneui_iteration_", "tuneui_loop_done_"


@dataclass
class Rendered:
    text: str
    # Per message: [start, end) of the output of the loop iteration that rendered it; None if no
    # loop iteration had it as its variable (e.g. a system prompt rendered before the loop).
    blocks: list[tuple[int, int] | None]


def template_source(tokenizer, tools=None) -> str:
    """The template apply_chat_template would use (a named `tool_use` one when tools are given)."""
    if not getattr(tokenizer, "chat_template", None):
        raise MaskingRefused(NO_CHAT_TEMPLATE, "the tokenizer has no chat template; choose a chat/instruct model "
                                               "or set one on the tokenizer")
    try:
        return tokenizer.get_chat_template(None, tools)
    except ValueError as e:
        raise MaskingRefused(NO_CHAT_TEMPLATE, f"no usable chat template: {e}") from None


def template_variables(tokenizer) -> dict:
    """The special-token variables apply_chat_template passes (bos_token, eos_token, ...)."""
    return dict(tokenizer.special_tokens_map)


def prepare_messages(messages) -> list[dict]:
    """Fresh copies shaped the way transformers hands messages to a template: keys whose value is
    None dropped, and a reasoning text given under any accepted name copied under all of them."""
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise MaskingRefused(BAD_MESSAGE, f"message {i + 1} is not a {{'role': ..., 'content': ...}} mapping")
        m = {k: v if type(v) is str else _plain(v) for k, v in m.items() if v is not None}
        reasoning = next((m[k] for k in REASONING_FIELDS if m.get(k) is not None), None)
        if reasoning is not None:
            m = {"thinking": reasoning, **m, "reasoning_content": reasoning}
        out.append(m)
    return out


def _plain(value):
    # A copy of JSON-like data (templates may not change the caller's messages); cheaper than deepcopy.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


class InstrumentedTemplate:
    """A chat template compiled in transformers' Jinja environment, with loop-position callbacks."""

    def __init__(self, source: str):
        from jinja2 import TemplateError, nodes
        from transformers.utils.chat_template_utils import _compile_jinja_template

        try:
            env = _compile_jinja_template(source).environment
            tree = env.parse(source)
        except TemplateError as e:
            raise MaskingRefused(TEMPLATE_UNSUPPORTED, f"the chat template does not parse: {e}") from None
        loops = [loop for loop in tree.find_all(nodes.For) if isinstance(loop.target, nodes.Name)]
        ids = {id(loop): k for k, loop in enumerate(loops)}  # `for key, value in ...` is never a message loop
        for loop in loops:
            call = nodes.ExprStmt(nodes.Call(nodes.Name(_ENTER, "load"),
                                             [nodes.Name(loop.target.name, "load"), nodes.Const(ids[id(loop)])],
                                             [], None, None))
            loop.body.insert(0, call.set_lineno(loop.lineno, override=True))
        for node in [tree, *tree.find_all(nodes.Node)]:
            for name in node.fields:
                body = getattr(node, name)
                if isinstance(body, list) and any(id(n) in ids for n in body):
                    setattr(node, name, [x for n in body for x in (n, *self._done(nodes, n, ids))])
        self.template = env.from_string(tree)

    @staticmethod
    def _done(nodes, node, ids):
        if id(node) not in ids:
            return ()
        call = nodes.ExprStmt(nodes.Call(nodes.Name(_DONE, "load"), [nodes.Const(ids[id(node)])], [], None, None))
        return (call.set_lineno(node.lineno, override=True),)

    def render(self, messages: list[dict], *, tools=None, add_generation_prompt: bool = False,
               variables: dict | None = None) -> Rendered:
        from jinja2 import TemplateError

        index = {id(m): i for i, m in enumerate(messages)}
        visits: list[list] = []  # [message index, start, end], in rendering order
        open_visit: dict[int, list] = {}  # loop id -> its current message visit
        pos = 0

        def enter(obj, loop):
            done(loop)
            i = index.get(id(obj))
            if i is not None:
                open_visit[loop] = visit = [i, pos, pos]
                visits.append(visit)

        def done(loop):
            visit = open_visit.pop(loop, None)
            if visit is not None:
                visit[2] = pos

        context = {**(variables or {}), "messages": messages, "tools": _plain(tools), "documents": None,
                   "add_generation_prompt": add_generation_prompt, _ENTER: enter, _DONE: done}
        chunks = []
        try:
            for chunk in self.template.generate(**context):
                chunks.append(chunk)
                pos += len(chunk)
        except TemplateError as e:
            raise MaskingRefused(TEMPLATE_REJECTED, f"the chat template rejected this conversation: {e}") from None
        except (ArithmeticError, AttributeError, LookupError, RecursionError, TypeError, ValueError) as e:
            # A template error surfacing as a Python one, e.g. None + str on a missing content.
            raise MaskingRefused(TEMPLATE_REJECTED,
                                 f"the chat template failed on this conversation: {type(e).__name__}: {e}") from None
        for visit in open_visit.values():  # never leave a block open, whatever the template's control flow
            visit[2] = pos
        return Rendered("".join(chunks), _blocks(visits, len(messages)))


def _blocks(visits: list[list], n: int) -> list[tuple[int, int] | None]:
    blocks: list[tuple[int, int] | None] = [None] * n
    for i, start, end in visits:
        # Several loops may visit a message (Qwen3 first walks the messages backwards, rendering
        # nothing); the last visit that produced output is the one that rendered it.
        if end > start or blocks[i] is None or blocks[i][1] <= blocks[i][0]:
            blocks[i] = (start, end)
    return blocks


@lru_cache(maxsize=64)
def instrumented(source: str) -> InstrumentedTemplate:
    return InstrumentedTemplate(source)
