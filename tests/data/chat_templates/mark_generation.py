"""Make the `{% generation %}`-marked copies the masking tests use as their independent reference.

Each copy is its original template (after the preprocessing SOURCES.json names) with explicit,
hand-chosen edits: `{% generation %}` ... `{% endgeneration %}` around what the rules say is trained
in an assistant turn (the reply as the template renders it: reasoning, content, tool calls, and the
end-of-turn token that closes it) and nothing else. Where a template writes header and reply in one
expression, the expression is split in two, outputting the same characters. Every edit must match
exactly once, so a changed original fails loudly here instead of producing a wrong reference.

DeepSeek-R1-distill: its generation prompt opens `<think>`, which its past replies lack; the rules
render the final reply as the model writes it at inference, and the marked copy spells that out in
Jinja (the one case where the copy renders differently from the original).

Run from anywhere: `python tests/data/chat_templates/mark_generation.py` (rewrites the *.generation*.jinja files).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
G, E = "{% generation %}", "{% endgeneration %}"


def _sub(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r}, found {text.count(old)}"
    return text.replace(old, new)


def _edits(name: str, s: str) -> dict[str, str]:
    """{suffix: marked text} for one template."""
    if name == "chatml":
        old = ("{{'<|im_start|>' + message['role'] + '\\n' + message['content']}}{% if (loop.last and "
               "add_generation_prompt) or not loop.last %}{{ '<|im_end|>' + '\\n'}}{% endif %}")
        close = "{% if (loop.last and add_generation_prompt) or not loop.last %}"
        new = ("{{'<|im_start|>' + message['role'] + '\\n'}}{% if message['role'] == 'assistant' %}" + G
               + "{{ message['content'] }}" + close + "{{ '<|im_end|>' }}{% endif %}" + E + close
               + "{{ '\\n' }}{% endif %}{% else %}{{ message['content'] }}" + close
               + "{{ '<|im_end|>' + '\\n'}}{% endif %}{% endif %}")
        return {"": _sub(s, old, new)}
    if name == "command-r-aya-expanse":
        return {"": _sub(s, "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}",
                         "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}" + G
                         + "{{ content.strip() + '<|END_OF_TURN_TOKEN|>' }}" + E)}
    if name == "command-r-default":
        return {"": _sub(s, "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' -}}",
                         "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' -}}" + G
                         + "{{ content.strip() + '<|END_OF_TURN_TOKEN|>' -}}" + E)}
    if name == "command-r-plus-tool-use":
        s = _sub(s, "{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content|trim + '<|END_OF_TURN_TOKEN|>' }}",
                 "{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}" + G
                 + "{{ content|trim + '<|END_OF_TURN_TOKEN|>' }}" + E)
        s = _sub(s, "{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}\n    {%- if message.content is defined %}",
                 "{{- '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}" + G + "\n    {%- if message.content is defined %}")
        return {"": _sub(s, '{{- "\\n]```\\n" }}', '{{- "\\n]```\\n" }}' + E)}
    if name == "deepseek-r1-distill-qwen":
        old = "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"
        reasoning = ("{% if '</think>' in message['content'] %}{% set r = message['content'].split('</think>')[0]"
                     ".split('<think>')[-1].strip('\\n') %}{% else %}{% set r = '' %}{% endif %}")
        earlier = "{% else %}{{'<｜Assistant｜>'}}" + G + "{{ content + '<｜end▁of▁sentence｜>' }}" + E + "{% endif %}"
        last = "{% if loop.last %}" + reasoning + "{{'<｜Assistant｜><think>\\n'}}"
        return {
            "": _sub(s, old, last + G + "{{ r + '\\n</think>\\n\\n' + content.lstrip('\\n') + '<｜end▁of▁sentence｜>' }}"
                     + E + earlier),
            "-no-reasoning": _sub(s, old, last + "{{ r + '\\n</think>\\n\\n' }}" + G
                                  + "{{ content.lstrip('\\n') + '<｜end▁of▁sentence｜>' }}" + E + earlier),
        }
    if name in ("gemma-2",):
        old = "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
        return {"": _sub(s, old, "{% if role == 'model' %}{{ '<start_of_turn>model\\n' }}" + G
                         + "{{ message['content'] | trim + '<end_of_turn>' }}" + E + "{{ '\\n' }}{% else %}"
                         + old + "{% endif %}")}
    if name == "gemma-3":
        start = "    {%- if message['content'] is string -%}"
        end = "{{ '<end_of_turn>\n' }}"
        body = s[s.index(start):s.index(end) + len(end)]
        new = ("    {%- if role == 'model' and message['content'] is string -%}" + G
               + "{{ message['content'] | trim + '<end_of_turn>' }}" + E + "{{ '\\n' }}{%- else -%}\n"
               + body + "{%- endif -%}")
        return {"": _sub(s, body, new)}
    if name == "granite-3":
        old = "{{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>\n' }}"
        return {"": _sub(s, old, "{%- if message['role'] == 'assistant' %}{{- '<|start_of_role|>assistant<|end_of_role|>' }}"
                         + G + "{{ message['content'] + '<|end_of_text|>' }}" + E + "{{ '\\n' }}{%- else %}" + old
                         + "{%- endif %}")}
    if name == "llama-2-chat":
        old = "{{ ' '  + content.strip() + ' ' + eos_token }}"
        return {"": _sub(s, old, G + old + E)}
    if name == "llama-3-instruct":
        return {"": _sub(s, "{{ content }}", "{% if message['role'] == 'assistant' %}{{ (bos_token if loop.index0 == 0 "
                         "else '') + '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}" + G
                         + "{{ message['content'] | trim + '<|eot_id|>' }}" + E + "{% else %}{{ content }}{% endif %}")}
    if name in ("llama-3.1-instruct", "llama-3.2-instruct"):
        nl = "\\n\\n"
        old = ("{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>" + nl
               + "'+ message['content'] | trim + '<|eot_id|>' }}")
        s = _sub(s, old, "{%- if message.role == 'assistant' %}{{- '<|start_header_id|>assistant<|end_header_id|>" + nl
                 + "' }}" + G + "{{ message['content'] | trim + '<|eot_id|>' }}" + E + "{%- else %}" + old + "{%- endif %}")
        if name == "llama-3.2-instruct":
            s = _sub(s, "{{- '<|start_header_id|>assistant<|end_header_id|>" + nl + "' -}}\n        {{- '{\"name\"",
                     "{{- '<|start_header_id|>assistant<|end_header_id|>" + nl + "' -}}" + G + "\n        {{- '{\"name\"")
            return {"": _sub(s, '{{- "}" }}\n        {{- "<|eot_id|>" }}', '{{- "}" }}\n        {{- "<|eot_id|>" }}' + E)}
        s = _sub(s, "{{- '<|start_header_id|>assistant<|end_header_id|>" + nl + "' -}}\n            {{- '{\"name\"",
                 "{{- '<|start_header_id|>assistant<|end_header_id|>" + nl + "' -}}" + G + "\n            {{- '{\"name\"")
        s = _sub(s, '{{- "}" }}\n        {%- endif %}\n        {%- if builtin_tools is defined %}\n'
                 '            {#- This means we\'re in ipython mode #}\n            {{- "<|eom_id|>" }}\n'
                 '        {%- else %}\n            {{- "<|eot_id|>" }}\n        {%- endif %}',
                 '{{- "}" }}{%- if builtin_tools is defined %}{{- "<|eom_id|>" }}{%- else %}{{- "<|eot_id|>" }}{%- endif %}'
                 + E + '\n        {%- endif %}\n        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}'
                 '\n            {{- "<|eom_id|>" }}\n        {%- endif %}')
        return {"": s}
    if name in ("mistral-7b-instruct-v0.3", "mistral-nemo-instruct-2407"):
        calls = '{{- "[TOOL_CALLS] [" }}' if name.startswith("mistral-7b") else '{{- "[TOOL_CALLS][" }}'
        s = _sub(s, calls, G + calls)
        s = _sub(s, '{%- endfor %}\n    {%- elif message["role"] == "assistant" %}',
                 '{%- endfor %}' + E + '\n    {%- elif message["role"] == "assistant" %}')
        plain = ('{{- " " + message["content"]|trim + eos_token}}' if name.startswith("mistral-7b")
                 else '{{- message["content"] + eos_token}}')
        return {"": _sub(s, plain, G + plain + E)}
    if name == "mistral-v1":
        old = "{{ ' ' + message['content'] + eos_token}}"
        return {"": _sub(s, old, G + old + E)}
    if name in ("phi-3-mini-instruct", "phi-3.5-mini-instruct"):
        old = "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}"
        return {"": _sub(s, old, "{{'<|assistant|>\\n'}}" + G + "{{ message['content'] + '<|end|>' }}" + E + "{{ '\\n' }}")}
    if name == "phi-4-reasoning":
        assert s.count(G) == 1  # ships marked: content + <|im_end|>, as the rules say
        return {"": s}
    if name == "qwen2.5-instruct":
        s = _sub(s, '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
                 '(message.role == "assistant" and not message.tool_calls) %}',
                 '    {%- if message.role == "assistant" and not message.tool_calls %}\n'
                 "        {{- '<|im_start|>assistant\\n' }}" + G + "{{ message.content + '<|im_end|>' }}" + E
                 + "{{ '\\n' }}\n"
                 '    {%- elif (message.role == "user") or (message.role == "system" and not loop.first) %}')
        s = _sub(s, "        {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n"
                 "            {{- '\\n' + message.content }}\n        {%- endif %}",
                 "        {{- '<|im_start|>' + message.role + '\\n' }}" + G + "\n        {%- if message.content %}\n"
                 "            {{- message.content }}\n        {%- endif %}")
        s = _sub(s, "{{- '\\n<tool_call>\\n{\"name\": \"' }}",
                 "{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}{{- '<tool_call>\\n{\"name\": \"' }}")
        return {"": _sub(s, "        {%- endfor %}\n        {{- '<|im_end|>\\n' }}",
                         "        {%- endfor %}\n        {{- '<|im_end|>' }}" + E + "{{- '\\n' }}")}
    if name == "qwen3":
        head = ("        {%- if loop.index0 > ns.last_query_index %}\n"
                "            {%- if loop.last or (not loop.last and reasoning_content) %}\n"
                "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + "
                "'\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
                "            {%- else %}\n"
                "                {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
                "            {%- endif %}\n"
                "        {%- else %}\n"
                "            {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
                "        {%- endif %}\n")
        think = "loop.index0 > ns.last_query_index and (loop.last or (not loop.last and reasoning_content))"
        tail_old = "        {%- endif %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}"
        tail_new = ("        {%- endif %}\n        {{- '<|im_end|>' }}" + E + "{{- '\\n' }}\n"
                    "    {%- elif message.role == \"tool\" %}")
        with_reasoning = ("        {{- '<|im_start|>' + message.role + '\\n' }}" + G + "\n"
                          "        {%- if " + think + " %}\n"
                          "            {{- '<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + "
                          "content.lstrip('\\n') }}\n        {%- else %}\n            {{- content }}\n        {%- endif %}\n")
        without = ("        {{- '<|im_start|>' + message.role + '\\n' }}\n"
                   "        {%- if " + think + " %}\n"
                   "            {{- '<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' }}\n"
                   "        {%- endif %}" + G + "\n"
                   "        {%- if " + think + " %}\n            {{- content.lstrip('\\n') }}\n"
                   "        {%- else %}\n            {{- content }}\n        {%- endif %}\n")
        return {"": _sub(_sub(s, head, with_reasoning), tail_old, tail_new),
                "-no-reasoning": _sub(_sub(s, head, without), tail_old, tail_new)}
    if name == "smollm2-instruct":
        old = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        return {"": _sub(s, old, "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}" + G
                         + "{{ message['content'] + '<|im_end|>' }}" + E + "{{ '\\n' }}{% else %}" + old + "{% endif %}")}
    if name == "vicuna":
        old = "{{ 'ASSISTANT: ' + message['content'].strip() + eos_token + '\\n' }}"
        return {"": _sub(s, old, "{{ 'ASSISTANT:' }}" + G + "{{ ' ' + message['content'].strip() + eos_token }}" + E
                         + "{{ '\\n' }}")}
    if name == "zephyr":
        old = "{{ '<|' + message['role'] + '|>\\n' + message['content'].strip() + eos_token }}"
        return {"": _sub(s, old, "{% if message['role'] == 'assistant' %}{{ '<|assistant|>\\n' }}" + G
                         + "{{ message['content'].strip() + eos_token }}" + E + "{% else %}" + old + "{% endif %}")}
    raise KeyError(name)


def preprocess(text: str, how: str | None) -> str:
    # chujiezheng/chat_templates stores prettified templates; its README says to use them as
    # `open(path).read().replace('    ', '').replace('\n', '')`.
    return text.replace("    ", "").replace("\n", "") if how == "chujiezheng" else text


def main() -> None:
    sources = json.loads((HERE / "SOURCES.json").read_text(encoding="utf-8"))
    for name, info in sources["templates"].items():
        original = preprocess((HERE / info["file"]).read_text(encoding="utf-8"), info.get("preprocess"))
        for suffix, text in _edits(name, original).items():
            (HERE / f"{name}.generation{suffix}.jinja").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
