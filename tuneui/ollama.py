"""An Ollama `Modelfile` whose TEMPLATE and stop words come from the model's own Jinja chat template.

Nothing here knows a model family. The Jinja template is rendered (with transformers' own renderer)
on a few conversations whose contents are sentinel strings; the text between sentinels is what the
template puts around each turn. Those pieces become a Go template (Ollama's TEMPLATE language):

  start     text before the first user turn, with or without a system prompt
  u->a      text between a user turn and the assistant's reply (closing user turn + assistant header)
  a->u      text between an assistant reply and the next user turn
  prompt    text after the final user turn when a reply is wanted (close + assistant header)

A five-turn conversation checks that the pieces repeat (a template that numbers its turns is
refused), and a final assistant turn may open differently (Qwen3 adds an empty <think> block).

The system prompt is placed where the template places it: before the first turn ("prefix",
ChatML, Llama 3, Phi), inside the last user turn ("last_user", Mistral), or nowhere when the template
rejects a system message (Gemma 2). A final assistant message is left open, as Ollama continues it
(Jinja's `continue_final_message`). Literal text is written as Go string constants (`{{ "..." }}`) so
Go's whitespace trimming can never eat a newline that belongs to the chat format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneui.contract.errors import TuneuiError

_S, _U1, _A1, _U2, _A2, _U3 = "SYSq7zx", "USRq7zx1", "ASTq7zx1", "USRq7zx2", "ASTq7zx2", "USRq7zx3"


@dataclass
class TurnPieces:
    start: str
    u_to_a: str
    a_to_u: str
    prompt: str
    system_mode: str  # "prefix" | "last_user" | "none"
    u_to_a_last: str | None = None  # a final assistant turn opened differently (Qwen3's empty <think>)
    sys_before: str = ""
    sys_after: str = ""
    stops: list[str] = field(default_factory=list)


def render(template: str, messages: list[dict], *, add_generation_prompt: bool = False,
           continue_final_message: bool = False, **kwargs) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    out = render_jinja_template([messages], chat_template=template, add_generation_prompt=add_generation_prompt,
                                continue_final_message=continue_final_message, **kwargs)
    return out[0][0] if isinstance(out, tuple) else out[0]


def _between(text: str, a: str | None, b: str | None) -> str:
    i = 0 if a is None else text.index(a) + len(a)
    j = len(text) if b is None else text.index(b, i)
    return text[i:j]


def _turns(with_system: bool) -> list[dict]:
    msgs = [{"role": "user", "content": _U1}, {"role": "assistant", "content": _A1},
            {"role": "user", "content": _U2}]
    return ([{"role": "system", "content": _S}] if with_system else []) + msgs


def derive_pieces(template: str, **kwargs) -> TurnPieces:
    """The turn pieces of a Jinja chat template (kwargs: bos_token, eos_token, anything it reads)."""
    five = _turns(False) + [{"role": "assistant", "content": _A2}, {"role": "user", "content": _U3}]
    try:
        plain = render(template, _turns(False), add_generation_prompt=True, **kwargs)
        longer = render(template, five, add_generation_prompt=True, **kwargs)
        closed = render(template, five[:4], **kwargs)
    except Exception as exc:  # noqa: BLE001 - a template error of any kind is one clear message
        raise TuneuiError(f"chat template: cannot render a user/assistant conversation: {exc}") from None
    order = [longer.find(s) for s in (_U1, _A1, _U2, _A2, _U3)]
    if -1 in order or order != sorted(order):
        raise TuneuiError("chat template: turns do not appear in order; cannot derive an Ollama TEMPLATE")
    pieces = TurnPieces(start=_between(longer, None, _U1), u_to_a=_between(longer, _U1, _A1),
                        a_to_u=_between(longer, _A1, _U2), prompt=_between(longer, _U3, None), system_mode="none")
    if (_between(longer, _U2, _A2) != pieces.u_to_a or _between(longer, _A2, _U3) != pieces.a_to_u
            or _between(plain, _U2, None) != pieces.prompt or _between(plain, None, _U2) != _between(longer, None, _U2)):
        raise TuneuiError("chat template: turn markup depends on position; cannot derive an Ollama TEMPLATE")
    last = _between(closed, _U2, _A2)
    if last != pieces.u_to_a:
        pieces.u_to_a_last = last
    # What closes an assistant turn is where generation should stop.
    end = _between(closed, _A2, None).strip() or kwargs.get("eos_token") or ""
    pieces.stops = [s for s in dict.fromkeys([end.split()[0] if end else "", kwargs.get("eos_token") or ""]) if s]
    try:
        sys = render(template, _turns(True), add_generation_prompt=True, **kwargs)
    except Exception:  # noqa: BLE001 - templates that reject a system role (Gemma 2) get none
        return pieces
    if _S not in sys:
        return pieces
    if sys.index(_S) < sys.index(_U1):
        pieces.system_mode = "prefix"
        pieces.sys_before, pieces.sys_after = _between(sys, None, _S), _between(sys, _S, _U1)
        rest_equal = sys[sys.index(_U1):] == plain[plain.index(_U1):]
    else:
        lead = _between(sys, _A1, _S)
        if not lead.startswith(pieces.a_to_u) or sys.index(_S) > sys.index(_U2):
            raise TuneuiError("chat template: the system prompt sits where no Ollama TEMPLATE can follow it")
        pieces.system_mode = "last_user"
        pieces.sys_before, pieces.sys_after = lead[len(pieces.a_to_u):], _between(sys, _S, _U2)
        rest_equal = _between(sys, None, _A1) == _between(plain, None, _A1)
    if not rest_equal:
        raise TuneuiError("chat template: a system prompt changes other turns; cannot derive an Ollama TEMPLATE")
    return pieces


def _lit(text: str) -> str:
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}" if text else ""


def go_template(p: TurnPieces) -> str:
    """The Go template for Ollama's /api/chat: .System, .Messages (system messages skipped: Ollama
    also passes them as .System), a reply prompt after a final user turn."""
    sys_text = _lit(p.sys_before) + "{{ $.System }}" + _lit(p.sys_after)
    if p.system_mode == "prefix":
        head = "{{- if .System }}" + sys_text + "{{ else }}" + _lit(p.start) + "{{ end }}\n"
        user_sys = ""
    else:
        head = "{{- " + json.dumps(p.start, ensure_ascii=False) + " }}\n" if p.start else ""
        user_sys = ("{{ if and $last $.System }}" + sys_text + "{{ end }}") if p.system_mode == "last_user" else ""
    opener = _lit(p.u_to_a)
    if p.u_to_a_last is not None:
        opener = "{{ if $last }}" + _lit(p.u_to_a_last) + "{{ else }}" + opener + "{{ end }}"
    return (
        head
        + '{{- $prev := "" }}\n'
        + "{{- range $i, $m := .Messages }}\n"
        + "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
        + '{{- if eq .Role "user" }}'
        + '{{ if eq $prev "assistant" }}' + _lit(p.a_to_u) + "{{ end }}"
        + user_sys + "{{ .Content }}{{ if $last }}" + _lit(p.prompt) + '{{ end }}{{ $prev = "user" }}\n'
        + '{{- else if eq .Role "assistant" }}'
        + '{{ if eq $prev "user" }}' + opener + "{{ end }}"
        + '{{ .Content }}{{ $prev = "assistant" }}\n'
        + "{{- end }}\n"
        + "{{- end }}"
    )


def modelfile_text(gguf_file: str, template: str, *, bos_token: str | None = None, eos_token: str | None = None,
                   **kwargs) -> str:
    pieces = derive_pieces(template, bos_token=bos_token or "", eos_token=eos_token or "", **kwargs)
    body = go_template(pieces)
    if '"""' in body:
        raise TuneuiError('chat template: its markup contains """, which a Modelfile TEMPLATE cannot hold')
    lines = [f"# Written by tuneui from the model's chat template (system prompt: {pieces.system_mode})",
             f"FROM ./{gguf_file}", f'TEMPLATE """{body}"""']
    lines += [f"PARAMETER stop {json.dumps(s, ensure_ascii=False)}" for s in pieces.stops]
    return "\n".join(lines) + "\n"


def write_modelfile(out_dir: str | Path, gguf_file: str, tokenizer) -> Path:
    """out_dir/Modelfile for `ollama create NAME -f Modelfile`, from a HF tokenizer's chat template."""
    from tuneui.contract.fsutil import atomic_write_text

    if not getattr(tokenizer, "chat_template", None):
        raise TuneuiError("Modelfile: the tokenizer has no chat template")
    text = modelfile_text(gguf_file, tokenizer.chat_template, bos_token=tokenizer.bos_token,
                          eos_token=tokenizer.eos_token)
    return atomic_write_text(Path(out_dir) / "Modelfile", text)
