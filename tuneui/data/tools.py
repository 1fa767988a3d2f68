"""Function calling: tool definitions per example and the calls assistant turns make, in the shape
chat templates read (OpenAI's), whatever shape the file used.

- Definitions (`tools`, or the legacy `functions`) may be a JSON string (LLaMA-Factory's glaive
  format), a list, or one object; bare function schemas `{"name", "description", "parameters"}` are
  wrapped as `{"type": "function", "function": schema}`, the form templates and inference servers use.
- Calls may be OpenAI `tool_calls`, the legacy `function_call`, or a ShareGPT `function_call` turn
  whose text is the call as JSON; each becomes `{"type": "function", "function": {"name", "arguments"}}`
  with the arguments as an object when the file gave them as JSON text (templates write them with
  `tojson`; text would be quoted twice). An `id` is kept.
"""

from __future__ import annotations

import json
from typing import Any


class ToolFormatError(ValueError):
    """A tools/tool_calls value that is not a function definition or call."""


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ToolFormatError("is text but not JSON") from None
    return value


def normalise_tools(value: Any) -> list[dict[str, Any]] | None:
    """The function definitions of one example, or None when there are none."""
    value = _parsed(value)
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ToolFormatError(f"is {type(value).__name__}, expected a list of function definitions")
    out = []
    for i, tool in enumerate(value, 1):
        tool = _parsed(tool)
        if not isinstance(tool, dict):
            raise ToolFormatError(f"entry {i} is not an object")
        if "type" not in tool and "name" in tool:
            tool = {"type": "function", "function": tool}
        out.append(tool)
    return out or None


def function_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The function schema or call inside an OpenAI-style wrapper (or the entry itself)."""
    inner = entry.get("function")
    return inner if isinstance(inner, dict) else entry


def tool_names(tools: list[dict[str, Any]] | None) -> list[str]:
    names = []
    for t in tools or []:
        fn = function_of(t)
        # OpenAI's built-in code interpreter is called as the function 'python' (functionary, Assistants)
        names.append(str(fn.get("name") or ("python" if t.get("type") == "code_interpreter" else t.get("type"))))
    return names


def _arguments(args: Any) -> Any:
    if isinstance(args, str):
        try:
            parsed = json.loads(args)
        except ValueError:
            return args
        return parsed if isinstance(parsed, dict) else args
    return args


def _call(call: Any) -> dict[str, Any]:
    call = _parsed(call)
    if not isinstance(call, dict):
        raise ToolFormatError("a call is not an object")
    fn = function_of(call)
    if "name" not in fn:
        raise ToolFormatError("a call has no function name")
    if "arguments" in fn or "parameters" in fn:
        args = fn.get("arguments", fn.get("parameters"))
    else:  # {"name": "weather", "city": "Paris"}: the other keys are the arguments
        args = {k: v for k, v in fn.items() if k not in ("name", "id", "type")}
    out: dict[str, Any] = {"type": "function", "function": {"name": fn["name"], "arguments": _arguments(args)}}
    if call.get("id") is not None:
        out["id"] = call["id"]
    return out


def normalise_calls(value: Any) -> list[dict[str, Any]] | None:
    """A turn's function calls (a list, one call, or JSON text of either), or None."""
    value = _parsed(value)
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ToolFormatError("is not a list of calls")
    return [_call(c) for c in value] or None


def calls_text(calls: list[dict[str, Any]] | None) -> str:
    """The calls as text, for word counts, deduplication and filters."""
    return json.dumps(calls, ensure_ascii=False, sort_keys=True) if calls else ""
