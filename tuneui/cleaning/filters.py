"""Per-example filters. Each takes a conversation and returns (new conversation or None, reason):
None drops the example; a changed conversation is a repair (mojibake, masked PII, an empty
system turn removed); the same object back means "kept as is"."""

from __future__ import annotations

import re

from tuneui.cleaning import pii
from tuneui.cleaning.quality import gopher_reason

_PLACEHOLDERS = frozenset({
    "n/a", "na", "none", "null", "nil", "nan", "undefined", "todo", "tbd", "tba", "...", "…", "-", "--", "?",
    "<noinput>", "<no input>", "no input", "noinput", "<nooutput>", "no output", "placeholder", "xxx", "empty",
    "[empty]", "<empty>", "insert text here", "your answer here", "answer here",
})
_PLACEHOLDER_RE = re.compile(r"^(?:lorem ipsum\b.*|\[(?:insert|your|placeholder|add)\b[^\]]*\]|<(?:insert|your)\b[^>]*>)$",
                             re.IGNORECASE | re.DOTALL)

BOILERPLATE = re.compile(
    r"\bas an ai(?: language)? model\b|\bas a (?:large )?language model\b|\bi(?:'m| am) (?:just )?an ai\b"
    r"|\bi(?:'m| am) sorry,? but i (?:can(?:not|'t)|am unable|won't|will not)\b"
    r"|\bi (?:cannot|can't|am unable to|am not able to|won't be able to) (?:help|assist|fulfill|comply|provide|"
    r"create|generate|answer|engage|support)\b(?: (?:with|you with))? (?:that|this|your request)\b"
    r"|\bi apologi[sz]e,? but (?:i|as an)\b|\bopenai(?:'s)? (?:use case |content )?polic(?:y|ies)\b"
    r"|\bmy (?:knowledge|training) (?:cutoff|cut-off)\b"
    r"|\bi (?:do not|don't) have (?:personal )?(?:opinions|feelings|emotions|beliefs|access to real-time)\b",
    re.IGNORECASE,
)


def is_placeholder(text: str) -> bool:
    t = text.strip()
    if not t:
        return True
    low = t.lower()
    return low in _PLACEHOLDERS or low.rstrip(".!") in _PLACEHOLDERS or bool(_PLACEHOLDER_RE.match(t))


def fix_encoding(conv: list[dict], drop_unrepairable: bool) -> tuple[list[dict] | None, str]:
    import ftfy

    out, changed = [], []
    for m in conv:
        text = m["content"]
        if not text.isascii() and ftfy.is_bad(text):
            fixed = ftfy.fix_encoding(text)
            if fixed != text:
                changed.append(f"{text[:40]!r} -> {fixed[:40]!r}")
                m = {**m, "content": fixed}
        if drop_unrepairable and "\ufffd" in m["content"]:
            return None, "holds U+FFFD replacement characters: bytes were lost before this file was written"
        out.append(m)
    if changed:
        return out, "repaired mojibake: " + "; ".join(changed[:2])
    return conv, ""


def empty_turns(conv: list[dict], placeholders: bool) -> tuple[list[dict] | None, str]:
    out = []
    for i, m in enumerate(conv, 1):
        text = m["content"]
        empty = not text.strip()
        placeholder = placeholders and not empty and is_placeholder(text)
        if not (empty or placeholder):
            out.append(m)
            continue
        what = "empty" if empty else f"a placeholder ({text.strip()[:30]!r})"
        if m["role"] in ("system", "tool") and empty:
            continue  # an empty system prompt carries nothing; dropping the turn keeps the example
        return None, f"message {i} ({m['role']}) is {what}"
    if len(out) != len(conv):
        if not out:
            return None, "every message is empty"
        return out, f"removed {len(conv) - len(out)} empty system/tool message(s)"
    return conv, ""


def mask_pii(conv: list[dict], kinds: tuple[str, ...], drop: bool) -> tuple[list[dict] | None, str, dict]:
    """(conversation, reason, {kind: count}); the reason shows redacted values, never the data."""
    found_kinds: dict[str, int] = {}
    shown: list[str] = []
    out = []
    for m in conv:
        found = pii.find(m["content"], kinds)
        if not found:
            out.append(m)
            continue
        for kind, start, end in found:
            found_kinds[kind] = found_kinds.get(kind, 0) + 1
            if len(shown) < 3:
                shown.append(f"{kind} {pii.redact(m['content'][start:end])}")
        out.append({**m, "content": pii.mask(m["content"], found)})
    if not found_kinds:
        return conv, "", found_kinds
    reason = "found " + ", ".join(shown)
    return (None if drop else out), reason, found_kinds


# Every BOILERPLATE alternative contains one of these; checking them first is ~8x cheaper than the regex.
_BOILERPLATE_HINTS = ("as an ai", "language model", "sorry", "cannot", "can't", "unable", "not able", "apologi",
                      "openai", "cutoff", "cut-off", "have personal", "have opinions", "have feelings",
                      "have emotions", "have beliefs", "real-time", "an ai", "won't be able")


def boilerplate(conv: list[dict]) -> tuple[list[dict] | None, str]:
    for m in conv:
        if m["role"] == "assistant":
            low = m["content"].lower()
            if not any(h in low for h in _BOILERPLATE_HINTS):
                continue
            hit = BOILERPLATE.search(m["content"])
            if hit:
                return None, f"canned answer: {hit.group()!r}"
    return conv, ""


def quality(conv: list[dict], min_words: int, max_words: int) -> tuple[list[dict] | None, str]:
    reason = gopher_reason("\n".join(m["content"] for m in conv), min_words, max_words)
    return (None, reason) if reason else (conv, "")
