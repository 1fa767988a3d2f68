"""Chat formats: detect which one a set of records uses (with confidence and evidence), and turn a
record into the one conversation schema of `tuneui.data.schema`.

Column mapping keys are the canonical field names of each format (below); a user's `columns`
override maps them to the names their file uses, e.g. `{"question": "q", "answer": "a"}`.
`user`/`assistant` work as aliases for the prompt/answer field of any single-turn format.
"""

from __future__ import annotations

import json

from tuneui.contract.datasets import FormatGuess
from tuneui.contract.errors import DataError

FORMATS = ("messages", "sharegpt", "alpaca", "prompt_completion", "qa", "text")

# canonical field -> names looked for, in order, when the user gives no mapping
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "messages": {"messages": ("messages", "conversation", "conversations", "chat", "dialog", "turns"),
                 "role": ("role",), "content": ("content",)},
    "sharegpt": {"conversations": ("conversations", "conversation", "messages", "dialog", "turns", "items"),
                 "role": ("from",), "content": ("value",), "system": ("system",)},
    "alpaca": {"instruction": ("instruction",), "input": ("input", "context"), "output": ("output",),
               "system": ("system",)},
    "prompt_completion": {"prompt": ("prompt",), "completion": ("completion",), "system": ("system",)},
    "qa": {"question": ("question", "query", "q", "input", "user", "human", "instruction", "prompt", "problem"),
           "answer": ("answer", "response", "output", "a", "assistant", "gpt", "reply", "target", "solution"),
           "context": ("context",), "system": ("system", "system_prompt")},
    "text": {"text": ("text", "content", "document", "body", "passage")},
}
REQUIRED = {"messages": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output"),
            "prompt_completion": ("prompt", "completion"), "qa": ("question", "answer"), "text": ("text",)}
_USER_ALIAS = {"alpaca": "instruction", "prompt_completion": "prompt", "qa": "question"}
_ASSISTANT_ALIAS = {"alpaca": "output", "prompt_completion": "completion", "qa": "answer"}

ROLE_NAMES = {
    "system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant",
    "bot": "assistant", "model": "assistant", "chatgpt": "assistant", "function_call": "assistant",
    "tool": "tool", "function": "tool", "observation": "tool", "ipython": "tool", "function_response": "tool",
}


# Alpaca-style datasets mark "no input" with a placeholder that must not end up in the prompt.
_NO_INPUT = frozenset({"<noinput>", "<no input>", "noinput", "no input", "n/a", "none", "null", "nan"})


class RowError(Exception):
    """One record that cannot become a conversation; `kind` tags it for the report."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _resolve(fmt: str, keys, override: dict[str, str]) -> dict[str, str]:
    cols = {}
    for canon, names in FIELDS[fmt].items():
        if fmt in _INNER and canon in _INNER[fmt]:
            continue  # inside the turns, resolved by _inner_columns
        if canon in override:
            cols[canon] = override[canon]
            continue
        found = next((n for n in names if n in keys), None)
        if found is not None:
            cols[canon] = found
    return cols


def _canon_override(fmt: str, columns: dict[str, str]) -> dict[str, str]:
    out = dict(columns)
    if "user" in out and fmt in _USER_ALIAS:
        out[_USER_ALIAS[fmt]] = out.pop("user")
    if "assistant" in out and fmt in _ASSISTANT_ALIAS:
        out[_ASSISTANT_ALIAS[fmt]] = out.pop("assistant")
    unknown = set(out) - set(FIELDS[fmt])
    if unknown:
        raise DataError(f"column mapping: {', '.join(sorted(unknown))} is not a field of the '{fmt}' format "
                        f"(fields: {', '.join(FIELDS[fmt])})")
    return out


def _turn_keys(value) -> set[str]:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return set(value[0])
    return set()


def _matches(fmt: str, rec: dict, cols: dict[str, str]) -> bool:
    if any(cols.get(c) not in rec for c in REQUIRED[fmt]):
        return False
    if fmt in ("messages", "sharegpt"):
        turns = rec[cols[REQUIRED[fmt][0]]]
        if not isinstance(turns, list):
            return False
        keys = _turn_keys(turns)
        return not keys or (cols.get("role") in keys and cols.get("content") in keys)
    return True


def detect_format(records: list[dict], fmt: str = "auto", columns: dict[str, str] | None = None) -> FormatGuess:
    """Score every format on a sample of records; the best one wins, with evidence for the user."""
    columns = dict(columns or {})
    if fmt != "auto" and fmt not in FORMATS:
        raise DataError(f"unknown format '{fmt}' (one of: auto, {', '.join(FORMATS)})")
    if not records:
        raise DataError("no readable examples to detect the format from")
    if fmt == "auto" and columns:
        candidates = [f for f in FORMATS if _fits_override(f, columns)]
        if not candidates:
            raise DataError(f"column mapping {', '.join(columns)}: no format has these fields; pass --format too "
                            f"(fields: " + "; ".join(f"{f}: {', '.join(FIELDS[f])}" for f in FORMATS) + ")")
    else:
        candidates = [fmt] if fmt != "auto" else list(FORMATS)
    keys: set[str] = set()
    for rec in records:
        keys.update(rec)
    scores: dict[str, tuple[float, dict[str, str]]] = {}
    for f in candidates:
        override = _canon_override(f, columns) if columns else {}
        cols = _resolve(f, keys, override)
        if f in ("messages", "sharegpt"):
            _inner_columns(f, cols, override, records)
        hit = sum(1 for r in records if _matches(f, r, cols))
        scores[f] = (hit / len(records), cols)
    order = {f: i for i, f in enumerate(FORMATS)}
    best = max(scores, key=lambda f: (scores[f][0], -order[f]))
    conf, cols = scores[best]
    n = len(records)
    if fmt == "auto" and conf < 0.5:
        raise DataError(
            f"cannot tell the dataset format: columns are {', '.join(sorted(keys)) or '(none)'}; pass --format "
            f"({', '.join(FORMATS)}) and --column FIELD=COLUMN (e.g. --column question=q --column answer=a)"
        )
    if conf == 0:
        need = ", ".join(REQUIRED[best])
        raise DataError(f"the '{best}' format needs field(s) {need}, found columns: {', '.join(sorted(keys))}; "
                        "map them with --column FIELD=COLUMN")
    evidence = [f"{round(conf * n)}/{n} sampled records fit '{best}'"]
    evidence += [f"column '{col}' -> {canon}" for canon, col in cols.items()]
    if best == "qa" and conf > 0:
        # A less specific format: say so, so a wrong guess is easy to spot.
        conf *= 0.9
        evidence.append("question/answer style columns matched by name")
    alts = {f: s for f, (s, _) in scores.items() if f != best and s > 0}
    if best == "text":
        extra = sorted(keys - set(cols.values()))
        if extra:
            evidence.append(f"other columns ignored: {', '.join(extra)}")
    return FormatGuess(best, conf, evidence, cols, alts)


_INNER = {"messages": {"role": ("role",), "content": ("content", "text", "value")},
          "sharegpt": {"role": ("from",), "content": ("value", "content", "text")}}


def _inner_columns(fmt: str, cols: dict[str, str], override: dict[str, str], records: list[dict]) -> None:
    """Role/content field names inside the turns, read from the first non-empty turn list."""
    turns_col = cols.get(REQUIRED[fmt][0])
    tk = next((_turn_keys(r[turns_col]) for r in records if turns_col in r and _turn_keys(r.get(turns_col))), set())
    for canon, names in _INNER[fmt].items():
        if canon in override:
            cols[canon] = override[canon]
        else:
            cols[canon] = next((n for n in names if n in tk), names[0])


def _fits_override(fmt: str, columns: dict[str, str]) -> bool:
    keys = set(columns)
    if fmt in _USER_ALIAS:
        keys = {(_USER_ALIAS[fmt] if k == "user" else _ASSISTANT_ALIAS[fmt] if k == "assistant" else k)
                for k in keys}
    return keys <= set(FIELDS[fmt]) and bool(keys & set(REQUIRED[fmt]) or fmt in ("messages", "sharegpt"))


def _text(rec: dict, col: str, what: str, required: bool = True) -> str | None:
    if col not in rec or rec[col] is None:
        if required:
            raise RowError(f"missing field '{col}' ({what})", "missing_field")
        return None
    value = rec[col]
    if not isinstance(value, str):
        raise RowError(f"field '{col}' is {_kind(value)}, expected text", "wrong_type")
    return value


def type_name(value) -> str:
    """The JSON-ish type of a value: text, number, bool, list, object or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _kind(value) -> str:
    t = type_name(value)
    return {"bool": "true/false", "number": "a number", "list": "a list", "object": "an object",
            "null": "null"}.get(t, t)


def _content(value, i: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts: keep the text, refuse what we cannot train on
        parts = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else _kind(part)
                raise RowError(f"message {i}: content part of type '{kind}' is not supported (text only)",
                               "wrong_type")
        return "".join(parts)
    raise RowError(f"message {i}: content is {_kind(value)}, expected text", "wrong_type")


def _turns(rec: dict, cols: dict[str, str], role_col: str, content_col: str) -> list[dict]:
    turns_col = cols.get("messages") or cols.get("conversations")
    turns = rec.get(turns_col)
    if turns is None:
        raise RowError(f"missing field '{turns_col}'", "missing_field")
    if not isinstance(turns, list):
        raise RowError(f"field '{turns_col}' is {_kind(turns)}, expected a list of turns", "wrong_type")
    conv = []
    if cols.get("system") and isinstance(rec.get(cols["system"]), str) and rec[cols["system"]].strip():
        conv.append({"role": "system", "content": rec[cols["system"]]})
    for i, turn in enumerate(turns, 1):
        if not isinstance(turn, dict):
            raise RowError(f"message {i} is {_kind(turn)}, expected an object", "wrong_type")
        if role_col not in turn:
            raise RowError(f"message {i} has no '{role_col}' field", "missing_field")
        raw_role = turn[role_col]
        role = ROLE_NAMES.get(raw_role.strip().lower()) if isinstance(raw_role, str) else None
        if role is None:
            raise RowError(f"message {i}: unknown role {raw_role!r}", "bad_role")
        value = turn.get(content_col)
        if value is None and role == "assistant" and turn.get("tool_calls"):
            value = json.dumps(turn["tool_calls"], ensure_ascii=False)
        if value is None:
            raise RowError(f"message {i} has no '{content_col}' field", "missing_field")
        conv.append({"role": role, "content": _content(value, i)})
    return conv


def to_conversation(rec: dict, fmt: str, cols: dict[str, str]) -> list[dict]:
    """One record in `fmt` as a conversation; raises RowError naming what is wrong."""
    if fmt == "messages":
        return _turns(rec, cols, cols.get("role", "role"), cols.get("content", "content"))
    if fmt == "sharegpt":
        return _turns(rec, cols, cols.get("role", "from"), cols.get("content", "value"))
    if fmt == "text":
        return [{"role": "assistant", "content": _text(rec, cols["text"], "the document")}]
    system = _text(rec, cols["system"], "system prompt", required=False) if "system" in cols else None
    if fmt == "alpaca":
        user = _text(rec, cols["instruction"], "the instruction")
        extra = _text(rec, cols["input"], "the input", required=False) if "input" in cols else None
        if extra and extra.strip() and extra.strip().lower() not in _NO_INPUT:
            user = f"{user}\n\n{extra}"
        answer = _text(rec, cols["output"], "the answer")
    elif fmt == "prompt_completion":
        user = _text(rec, cols["prompt"], "the prompt")
        answer = _text(rec, cols["completion"], "the completion")
    else:
        user = _text(rec, cols["question"], "the question")
        ctx = _text(rec, cols["context"], "the context", required=False) if "context" in cols else None
        if ctx and ctx.strip():
            user = f"{ctx}\n\n{user}"
        answer = _text(rec, cols["answer"], "the answer")
    conv = [{"role": "system", "content": system}] if system and system.strip() else []
    return conv + [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def check_conversation(conv: list[dict]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(errors, warnings), each a list of (kind, message): role order and empty turns."""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    if not conv:
        return [("empty", "the conversation has no messages")], warnings
    for i, m in enumerate(conv, 1):
        if not m["content"].strip():
            warnings.append(("empty_turn", f"message {i} ({m['role']}) is empty"))
    if len(conv) == 1 and conv[0]["role"] == "assistant":
        return errors, warnings  # a plain-text document: all of it is trained
    roles = [m["role"] for m in conv]
    if "assistant" not in roles:
        errors.append(("no_assistant", "no assistant turn: nothing to train on"))
        return errors, warnings
    start = 0
    while start < len(roles) and roles[start] == "system":
        start += 1
    if "system" in roles[start:]:
        i = roles.index("system", start) + 1
        errors.append(("role_order", f"roles out of order: system message {i} after the conversation started"))
        return errors, warnings
    if roles[start] != "user":
        errors.append(("role_order", f"roles out of order: message {start + 1} is '{roles[start]}', "
                                     "the first turn after the system prompt must be 'user'"))
        return errors, warnings
    for i in range(start + 1, len(roles)):
        prev, cur = roles[i - 1], roles[i]
        ok = (
            (cur == "user" and prev in ("assistant", "tool"))
            or (cur == "assistant" and prev in ("user", "tool"))
            or (cur == "tool" and prev in ("assistant", "tool"))
        )
        if not ok:
            errors.append(("role_order", f"roles out of order: message {i + 1} is '{cur}' right after '{prev}'"))
            break
    return errors, warnings
