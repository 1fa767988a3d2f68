"""Chat (SFT) formats: detect which one a set of records uses (with confidence and evidence), and turn
a record into a conversation.

Column mapping keys are the canonical field names of each format (below); a user's `columns`
override maps them to the names their file uses, e.g. `{"question": "q", "answer": "a"}`.
`user`/`assistant` work as aliases for the prompt/answer field of any single-turn format.
Other kinds of data (preference, KTO, multimodal, pre-tokenized) are recognised before this, in
`tuneui.data.kinds`.
"""

from __future__ import annotations

from tuneui.contract.datasets import FormatGuess
from tuneui.contract.errors import DataError
from tuneui.data.messages import Coercions, RowError, content_text, history_turns, kind_of, pair_keys, turns

FORMATS = ("messages", "sharegpt", "alpaca", "prompt_completion", "qa", "text")

# canonical field -> names looked for, in order, when the user gives no mapping
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "messages": {"messages": ("messages", "conversation", "conversations", "chat", "dialog", "turns"),
                 "role": ("role",), "content": ("content",), "system": ("system",)},
    "sharegpt": {"conversations": ("conversations", "conversation", "messages", "dialog", "turns", "items"),
                 "role": ("from",), "content": ("value",), "system": ("system",)},
    "alpaca": {"instruction": ("instruction",), "input": ("input", "context"), "output": ("output",),
               "system": ("system",), "history": ("history",)},
    "prompt_completion": {"prompt": ("prompt",), "completion": ("completion",), "system": ("system",),
                          "history": ("history",)},
    "qa": {"question": ("question", "query", "q", "input", "user", "human", "instruction", "prompt", "problem"),
           "answer": ("answer", "response", "output", "a", "assistant", "gpt", "reply", "target", "solution"),
           "context": ("context",), "system": ("system", "system_prompt"), "history": ("history",)},
    "text": {"text": ("text", "content", "document", "body", "passage")},
}
REQUIRED = {"messages": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output"),
            "prompt_completion": ("prompt", "completion"), "qa": ("question", "answer"), "text": ("text",)}
_USER_ALIAS = {"alpaca": "instruction", "prompt_completion": "prompt", "qa": "question"}
_ASSISTANT_ALIAS = {"alpaca": "output", "prompt_completion": "completion", "qa": "answer"}
_INNER = {"messages": {"role": ("role",), "content": ("content", "text", "value")},
          "sharegpt": {"role": ("from",), "content": ("value", "content", "text")}}
# Columns that describe a document rather than hold training text (c4: text, url, timestamp).
METADATA = frozenset({"id", "idx", "index", "url", "source", "timestamp", "date", "time", "created", "title", "lang",
                      "language", "meta", "metadata", "license", "split", "category", "type", "domain", "hash",
                      "length", "tokens", "score", "quality", "dataset", "task", "uid", "uuid", "name"})

# Alpaca-style datasets mark "no input" with a placeholder that must not end up in the prompt.
_NO_INPUT = frozenset({"<noinput>", "<no input>", "noinput", "no input", "n/a", "none", "null", "nan"})

__all__ = ["FORMATS", "FIELDS", "REQUIRED", "RowError", "check_conversation", "detect_format", "to_conversation",
           "type_name"]


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
    keys: set[str] = set()
    if isinstance(value, list):
        for turn in value[:4]:
            if isinstance(turn, dict):
                keys.update(turn)
    return keys


def _matches(fmt: str, rec: dict, cols: dict[str, str]) -> bool:
    if any(cols.get(c) not in rec for c in REQUIRED[fmt]):
        return False
    if fmt in ("messages", "sharegpt"):
        value = rec[cols[REQUIRED[fmt][0]]]
        if not isinstance(value, list):
            return False
        keys = _turn_keys(value)
        if not keys or (cols.get("role") in keys and cols.get("content") in keys):
            return True
        return fmt == "sharegpt" and any(isinstance(t, dict) and pair_keys(t) for t in value[:1])
    if fmt == "text":
        return isinstance(rec[cols["text"]], str)
    return True


def string_columns(records: list[dict]) -> list[str]:
    """Columns holding text in at least 90% of the records, in file order."""
    counts: dict[str, int] = {}
    for rec in records:
        for k, v in rec.items():
            if isinstance(v, str):
                counts[k] = counts.get(k, 0) + 1
    return [k for k, n in counts.items() if n >= 0.9 * len(records)]


def _fallback(records: list[dict], keys: set[str]) -> FormatGuess | None:
    """Files no named format fits: one text column is plain text; two are an input and its output."""
    if {k for r in records for k, v in r.items() if isinstance(v, (list, dict))}:
        return None
    cols = string_columns(records)
    if len(cols) == 1 and keys == {cols[0]}:
        return FormatGuess("text", 0.8, [f"one text column '{cols[0]}': plain documents, every token trained"],
                           {"text": cols[0]})
    if len(cols) == 2 and keys == set(cols):
        return _pair_guess(cols[0], cols[1], "two text columns")
    return None


def _pair_guess(prompt: str, completion: str, why: str) -> FormatGuess:
    return FormatGuess("prompt_completion", 0.7,
                       [f"{why}: '{prompt}' is the input and '{completion}' the output it maps to",
                        f"column '{prompt}' -> prompt", f"column '{completion}' -> completion"],
                       {"prompt": prompt, "completion": completion})


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
    if fmt == "auto" and not columns:
        if conf < 0.5:
            guess = _fallback(records, keys)
            if guess is not None:
                return guess
        elif best == "text":
            extra = [c for c in string_columns(records) if c != cols["text"] and c.lower() not in METADATA]
            if len(extra) == 1 and len(keys - {cols["text"], extra[0]} - METADATA) == 0:
                return _pair_guess(cols["text"], extra[0], "a text column and one more text column")
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


def _text(rec: dict, col: str, what: str, coerce: Coercions, required: bool = True) -> str | None:
    if col not in rec or rec[col] is None:
        if required:
            raise RowError(f"missing field '{col}' ({what})", "missing_field")
        return None
    value = rec[col]
    if isinstance(value, (list, dict)):
        if isinstance(value, list) and all(isinstance(p, (dict, str)) for p in value) and value:
            return content_text(value, f"field '{col}'", coerce)  # content parts
        raise RowError(f"field '{col}' is {kind_of(value)}, expected text", "wrong_type")
    return coerce.text(value, f"field '{col}'", col)


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


def _system(rec: dict, cols: dict[str, str], coerce: Coercions) -> list[dict]:
    system = _text(rec, cols["system"], "system prompt", coerce, required=False) if "system" in cols else None
    return [{"role": "system", "content": system}] if system and system.strip() else []


def to_conversation(rec: dict, fmt: str, cols: dict[str, str], coerce: Coercions | None = None) -> list[dict]:
    """One record in `fmt` as a conversation; raises RowError naming what is wrong."""
    coerce = coerce if coerce is not None else Coercions()
    if fmt in ("messages", "sharegpt"):
        turns_col = cols.get("messages") or cols.get("conversations") or fmt
        if rec.get(turns_col) is None:
            raise RowError(f"missing field '{turns_col}'", "missing_field")
        role_col = cols.get("role", "role" if fmt == "messages" else "from")
        content_col = cols.get("content", "content" if fmt == "messages" else "value")
        conv = turns(rec[turns_col], turns_col, role_col, content_col, coerce)
        roles = {m["role"] for m in conv}
        if "pretrain" in roles:
            if roles == {"pretrain"}:  # xtuner's pre-training rows
                return [{"role": "assistant", "content": "\n".join(m["content"] for m in conv)}]
            raise RowError("role 'pretrain' mixed with chat roles", "bad_role")
        if "system" in cols and "system" not in roles:
            conv = _system(rec, cols, coerce) + conv
        return conv
    if fmt == "text":
        return [{"role": "assistant", "content": _text(rec, cols["text"], "the document", coerce)}]
    history = history_turns(rec.get(cols["history"]), coerce) if "history" in cols else []
    if fmt == "alpaca":
        user = _text(rec, cols["instruction"], "the instruction", coerce)
        extra = _text(rec, cols["input"], "the input", coerce, required=False) if "input" in cols else None
        if extra and extra.strip() and extra.strip().lower() not in _NO_INPUT:
            user = f"{user}\n\n{extra}"
        answer = _text(rec, cols["output"], "the answer", coerce)
    elif fmt == "prompt_completion":
        user = _text(rec, cols["prompt"], "the prompt", coerce)
        answer = _text(rec, cols["completion"], "the completion", coerce)
    else:
        user = _text(rec, cols["question"], "the question", coerce)
        ctx = _text(rec, cols["context"], "the context", coerce, required=False) if "context" in cols else None
        if ctx and ctx.strip():
            user = f"{ctx}\n\n{user}"
        answer = _text(rec, cols["answer"], "the answer", coerce)
    assert user is not None and answer is not None  # required fields raise instead of returning None
    return _system(rec, cols, coerce) + history + [{"role": "user", "content": user},
                                                   {"role": "assistant", "content": answer}]


def check_conversation(conv: list[dict]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(errors, warnings), each a list of (kind, message): role order and empty turns."""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    if not conv:
        return [("empty", "the conversation has no messages")], warnings
    for i, m in enumerate(conv, 1):
        if not m["content"].strip() and not m.get("tool_calls"):
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
    # A reply to the system prompt alone (OpenAI accepts system + assistant) is a valid example.
    if roles[start] != "user" and not (start and roles[start] == "assistant"):
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
