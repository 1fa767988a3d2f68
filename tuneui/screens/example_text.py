"""An example as the Dataset step shows it in one line: its first user turn, its reply (or chosen reply,
or labelled completion), its tools and function calls; and the column mapping typed beside it."""

from __future__ import annotations

import json
from typing import Any

from tuneui.contract.datasets import Conversation, Example


def first_content(conv: Conversation, role: str) -> str:
    return next((m.get("content", "") for m in conv if m.get("role") == role), "")


def short(text: str, n: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def reply_text(ex: Example) -> str:
    if ex.chosen is not None:
        return "chosen: " + first_content(ex.chosen, "assistant")
    if ex.completion is not None:
        return ("desirable: " if ex.label else "undesirable: ") + first_content(ex.completion, "assistant")
    conv = ex.messages
    reply = next((m for m in conv if m.get("role") == "assistant"), None)
    if reply is not None and not reply.get("content") and reply.get("tool_calls"):
        return "calls " + ", ".join(c.get("function", {}).get("name", "?") for c in reply["tool_calls"])
    return first_content(conv, "assistant")


def _fn(entry: dict[str, Any]) -> dict[str, Any]:
    inner = entry.get("function")
    return inner if isinstance(inner, dict) else entry


def tool_names(ex: Example) -> str:
    return ", ".join(str(_fn(t).get("name") or t.get("type") or "?") for t in ex.tools or [])


def _args(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def tools_text(ex: Example) -> str:
    """The example's tools as the model will see them offered: name(parameters) and description."""
    lines = []
    for t in ex.tools or []:
        fn = _fn(t)
        raw_params = fn.get("parameters")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        raw_props = params.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        required = set(params.get("required") or [])
        args = ", ".join(f"{k}{'' if k in required else '?'}" for k in props)
        name = fn.get("name") or t.get("type") or "?"
        lines.append(f"  {name}({args})" + (f" — {fn['description']}" if fn.get("description") else ""))
    calls = [f"  message {i}: {_fn(c).get('name', '?')}({short(_args(_fn(c).get('arguments', '')), 60)})"
             for i, m in enumerate(ex.messages, 1) for c in m.get("tool_calls") or []]
    out = []
    if lines:
        out.append(f"tools offered ({len(lines)}):\n" + "\n".join(lines))
    if calls:
        out.append("function calls (trained):\n" + "\n".join(calls))
    return "\n".join(out)


def parse_columns(text: str) -> dict[str, str]:
    """'prompt=question, completion=answer' -> {"prompt": "question", ...}; raises ValueError."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"column mapping {part!r}: expected field=column")
        out[key.strip()] = value.strip()
    return out
