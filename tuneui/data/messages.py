"""One turn list of any chat format -> tuneui messages, keeping what chat templates read.

A message is `{"role", "content"}` plus, when the file has them: `tool_calls` (assistant),
`tool_call_id` and `name` (tool results), `reasoning_content` (also read from `thinking`/`reasoning`)
and `train: False` for a reply the file marks as not trained (`loss: false`, `loss_weight: 0`).
Content may be text, or content parts (`{"type": "text", "text"|"value": ...}`); a media part
(image, audio, video) raises a `RowError` of kind `multimodal`. Numbers and booleans where text is
expected become text, counted in `Coercions`.
"""

from __future__ import annotations

import json
from typing import Any

from tuneui.data.tools import ToolFormatError, normalise_calls

ROLE_NAMES = {
    "system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant",
    "bot": "assistant", "model": "assistant", "chatgpt": "assistant", "function_call": "assistant",
    "tool": "tool", "function": "tool", "observation": "tool", "ipython": "tool", "function_response": "tool",
    "tool_response": "tool", "pretrain": "pretrain",
}
MEDIA_PARTS = frozenset({"image", "image_url", "input_image", "image_file", "audio", "input_audio", "audio_url",
                         "video", "video_url", "file", "input_file"})
REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")
# ShareGPT turns written as {human, assistant} pairs (ms-swift / Firefly "conversation" files).
PAIR_KEYS = (("human", "assistant"), ("user", "assistant"), ("input", "output"))


class RowError(Exception):
    """One record that cannot become an example; `kind` tags it for the report."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class Coercions(dict):
    """field -> how many numbers/booleans were read as text there."""

    def text(self, value: Any, where: str, field: str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            self[field] = self.get(field, 0) + 1
            return "true" if value else "false"  # JSON's spelling, which is how the file wrote it
        if isinstance(value, (int, float)):
            self[field] = self.get(field, 0) + 1
            return json.dumps(value)
        raise RowError(f"{where} is {kind_of(value)}, expected text", "wrong_type")


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def content_text(value: Any, where: str, coerce: Coercions) -> str:
    """Text of a content value: a string, a number (coerced) or a list of content parts."""
    if isinstance(value, dict) and "type" in value:
        value = [value]
    if not isinstance(value, list):
        return coerce.text(value, f"{where}: content", "content")
    parts = []
    for part in value:
        if isinstance(part, str):
            parts.append(part)
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in MEDIA_PARTS:
            raise RowError(f"{where}: a content part of type '{kind}' (multimodal data)", "multimodal")
        if kind == "text" or (isinstance(part, dict) and kind is None and "text" in part):
            text = next((part[k] for k in ("text", "value", "content") if k in part), None)
            if text is not None:
                parts.append(coerce.text(text, f"{where}: text part", "content"))
                continue
        raise RowError(f"{where}: content part of type {kind or kind_of(part)!r} is not text", "wrong_type")
    return "".join(parts)


def _role(raw: Any, i: int) -> str:
    role = ROLE_NAMES.get(raw.strip().lower()) if isinstance(raw, str) else None
    if role is None:
        raise RowError(f"message {i}: unknown role {raw!r}", "bad_role")
    return role


def _not_trained(turn: dict) -> bool:
    if turn.get("loss") is False:
        return True
    for key in ("loss_weight", "weight"):
        w = turn.get(key)
        if isinstance(w, (int, float)) and not isinstance(w, bool) and w == 0:
            return True
    return False


# Role spellings that never need more than a rename (a ShareGPT `function_call` turn needs parsing).
_PLAIN_ROLES = {k: v for k, v in ROLE_NAMES.items() if k != "function_call"}


def message(turn: dict, i: int, role_key: str, content_key: str, coerce: Coercions) -> dict[str, Any]:
    """One turn as a tuneui message."""
    if len(turn) == 2:  # the common {"role", "content"} turn, without the general path's checks
        raw, value = turn.get(role_key), turn.get(content_key)
        if type(value) is str and type(raw) is str and raw in _PLAIN_ROLES:
            return {"role": _PLAIN_ROLES[raw], "content": value}
    if role_key not in turn:
        raise RowError(f"message {i} has no '{role_key}' field", "missing_field")
    raw_role = turn[role_key]
    role = _role(raw_role, i)
    value = turn.get(content_key)
    if value is None and content_key != "content":
        value = turn.get("content")
    m: dict[str, Any] = {"role": role}
    try:
        calls = normalise_calls(turn.get("tool_calls"))
        if calls is None and isinstance(turn.get("function_call"), dict):  # OpenAI's legacy single call
            calls = normalise_calls(turn["function_call"])
        if calls is None and role == "assistant" and str(raw_role).strip().lower() == "function_call":
            # a ShareGPT function_call turn: its text is the call
            calls = normalise_calls(value) if _looks_like_json(value) else None
            if calls is not None:
                value = ""
    except ToolFormatError as exc:
        raise RowError(f"message {i}: function call {exc}", "bad_tool_call") from None
    if value is None:
        if calls is None:
            raise RowError(f"message {i} has no '{content_key}' field", "missing_field")
        value = ""
    m["content"] = content_text(value, f"message {i}", coerce)
    if calls is not None:
        m["tool_calls"] = calls
    for key in ("tool_call_id", "name"):
        if turn.get(key) is not None and role in ("tool", "assistant"):
            m[key] = coerce.text(turn[key], f"message {i}: {key}", key)
    reasoning = next((turn[k] for k in REASONING_KEYS if turn.get(k) is not None), None)
    if reasoning is not None:
        m["reasoning_content"] = content_text(reasoning, f"message {i}: reasoning", coerce)
    if role == "assistant" and _not_trained(turn):
        m["train"] = False
    return m


def _looks_like_json(value: Any) -> bool:
    return isinstance(value, (dict, list)) or (isinstance(value, str) and value.lstrip()[:1] in ("{", "["))


def pair_keys(turn: dict) -> tuple[str, str] | None:
    return next((pk for pk in PAIR_KEYS if pk[0] in turn and pk[1] in turn and "role" not in turn
                 and "from" not in turn), None)


def turns(value: Any, where: str, role_key: str, content_key: str, coerce: Coercions) -> list[dict[str, Any]]:
    """A list of turns (or of {human, assistant} pairs) as messages."""
    if not isinstance(value, list):
        raise RowError(f"field '{where}' is {kind_of(value)}, expected a list of turns", "wrong_type")
    out: list[dict[str, Any]] = []
    for i, turn in enumerate(value, 1):
        if not isinstance(turn, dict):
            raise RowError(f"message {i} is {kind_of(turn)}, expected an object", "wrong_type")
        pk = pair_keys(turn) if role_key not in turn else None
        if pk is not None:
            out.append({"role": "user", "content": coerce.text(turn[pk[0]], f"exchange {i}", pk[0])})
            out.append({"role": "assistant", "content": coerce.text(turn[pk[1]], f"exchange {i}", pk[1])})
            continue
        out.append(message(turn, i, role_key, content_key, coerce))
    return out


def history_turns(value: Any, coerce: Coercions) -> list[dict[str, Any]]:
    """Alpaca/ms-swift `history`: earlier [query, response] pairs, which come before the instruction."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"field 'history' is {kind_of(value)}, expected a list of [question, answer] pairs",
                       "wrong_type")
    out = []
    for i, pair in enumerate(value, 1):
        if isinstance(pair, dict):
            pair = [pair.get("query", pair.get("instruction", pair.get("user"))),
                    pair.get("response", pair.get("output", pair.get("assistant")))]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise RowError(f"history entry {i} is not a [question, answer] pair", "wrong_type")
        out.append({"role": "user", "content": coerce.text(pair[0], f"history entry {i}", "history")})
        out.append({"role": "assistant", "content": coerce.text(pair[1], f"history entry {i}", "history")})
    return out

