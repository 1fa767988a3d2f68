"""Per-example filters. Each takes an Example and returns (new example or None, reason): None drops
the example; a changed example is a repair (mojibake, masked PII, an empty system turn removed, an
empty reply left out of training); the same object back means "kept as is".

Filters fit the data they see: repairs apply to every message list (prompt and replies of a
preference pair alike), the boilerplate filter reads SFT replies only (a refusal is often the very
point of a preference pair's rejected side), and no reply is removed for saying who the assistant is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tuneui.cleaning import pii
from tuneui.cleaning.code import code_spans
from tuneui.cleaning.quality import gopher_reason
from tuneui.contract.datasets import Example

Result = tuple[Example | None, str]
# What code legitimately holds (a regex for e-mails, an address in a test, an IP in a config) is left
# alone there; credentials and card numbers are masked wherever they are.
CODE_SAFE = frozenset({"email", "ip", "phone"})

# Text that only stands in for missing data.
_PLACEHOLDERS = frozenset({
    "n/a", "todo", "tbd", "tba", "...", "…", "<noinput>", "<no input>", "no input", "noinput", "<nooutput>",
    "no output", "placeholder", "xxx", "[empty]", "<empty>", "insert text here", "your answer here", "answer here",
})
# Words that are placeholders in a prompt but can be a reply's right answer ("What does typeof x give
# when x was never assigned?" -> "undefined"): never counted against a reply.
_AMBIGUOUS = frozenset({"na", "none", "null", "nil", "nan", "undefined", "empty", "-", "--", "?"})
_PLACEHOLDER_RE = re.compile(r"^(?:lorem ipsum\b.*|\[(?:insert|your|placeholder|add)\b[^\]]*\]|<(?:insert|your)\b[^>]*>)$",
                             re.IGNORECASE | re.DOTALL)

# Canned answers: a hedge about being an AI followed by a limitation, and stock refusals. Saying who or
# what the assistant is ("I am NAME, an AI assistant developed by AUTHOR") is an answer, not boilerplate.
_AI = r"(?:as an ai\b|i(?:'m| am) (?:just |only )?(?:an ai|a (?:large )?language model))"
_LIMIT = (r"(?:can(?:not|'t|’t)|unable|not able|(?:do not|don't|don’t) (?:have|possess)|not capable|lack|"
          r"(?:am|'m) not (?:able|capable))")
BOILERPLATE = re.compile(
    r"\bas an ai (?:language )?model\b|\bas a (?:large )?language model\b"
    rf"|{_AI}[^.!?\n]{{0,80}}?\b{_LIMIT}"
    r"|\bi(?:'m| am) sorry,? but i (?:can(?:not|'t)|am unable to|won't|will not) (?:help|assist|fulfill|comply|engage"
    r"|provide (?:that|this)|do that|answer that)\b"
    r"|\bi (?:cannot|can't|am unable to|am not able to|won't be able to) (?:help|assist|fulfill|comply|provide|"
    r"create|generate|answer|engage|support)\b(?: (?:with|you with))? (?:that|this|your request)\b"
    r"|\bi apologi[sz]e,? but (?:i|as an)\b|\bopenai(?:'s)? (?:use case |content )?polic(?:y|ies)\b"
    r"|\bmy (?:knowledge|training) (?:cutoff|cut-off)\b",
    re.IGNORECASE,
)
# Every BOILERPLATE alternative contains one of these; checking them first is ~8x cheaper than the regex.
_HINTS = ("an ai", "language model", "sorry", "cannot", "can't", "unable", "not able", "won't be able", "apologi",
          "openai", "cutoff", "cut-off")
# A user asking who or what the assistant is: the reply states an identity, whatever its wording.
IDENTITY_QUESTION = re.compile(
    r"\bwho (?:are|r) (?:you|u)\b|\bwhat(?:'s| is) your name\b|\bwhat are you\b|\bintroduce yourself\b"
    r"|\bare you (?:an? )?(?:ai|human|robot|bot|chatgpt|gpt)\b|\bwho (?:made|created|built|trained|developed) you\b"
    r"|\btell me about yourself\b|\bdo you (?:have|feel|experience) (?:any )?(?:feelings|emotions|opinions|"
    r"preferences|a body|consciousness|dreams)\b|\bare you (?:alive|conscious|sentient|real|a person)\b"
    r"|\bhow do you feel\b|你是谁|你叫什么|介绍一下你自己|你是什么|谁开发了你|谁创造了你",
    re.IGNORECASE,
)


def is_placeholder(text: str, reply: bool = False) -> bool:
    if len(text) > 60 and text[:1] not in "[<lL \t\n":
        return False  # every placeholder is short, or starts like "[insert", "<your", "Lorem ipsum"
    t = text.strip()
    if not t:
        return True
    low = t.lower()
    if low in _PLACEHOLDERS or low.rstrip(".!") in _PLACEHOLDERS or bool(_PLACEHOLDER_RE.match(t)):
        return True
    return not reply and (low in _AMBIGUOUS or low.rstrip(".!") in _AMBIGUOUS)


def _map_messages(ex: Example, fn: Callable[[dict], dict]) -> Example:
    """The example with `fn` applied to every message of every part (the same object if nothing changed)."""
    changed: dict[str, Any] = {}
    for name, conv in ex.parts():
        new = None
        for j, m in enumerate(conv):
            out = fn(m)
            if out is not m:
                new = new if new is not None else list(conv)
                new[j] = out
        if new is not None:
            changed[name] = new
    return replace(ex, **changed) if changed else ex


def _all_ascii(ex: Example) -> bool:
    return all(m["content"].isascii() for _, conv in ex.parts() for m in conv)


def fix_encoding(ex: Example, drop_unrepairable: bool) -> Result:
    if _all_ascii(ex):
        return ex, ""  # nothing to repair, and no replacement character
    import ftfy

    repaired: list[str] = []

    def fix(m: dict) -> dict:
        text = m["content"]
        if not text.isascii() and ftfy.is_bad(text):
            fixed = ftfy.fix_encoding(text)
            if fixed != text:
                repaired.append(f"{text[:40]!r} -> {fixed[:40]!r}")
                return {**m, "content": fixed}
        return m

    new = _map_messages(ex, fix)
    if drop_unrepairable and any("\ufffd" in m["content"] for _, conv in new.parts() for m in conv):
        return None, "holds U+FFFD replacement characters: bytes were lost before this file was written"
    return new, ("repaired mojibake: " + "; ".join(repaired[:2])) if repaired else ""


def empty_turns(ex: Example, placeholders: bool) -> Result:
    """Empty or placeholder turns. An empty system turn is removed; an empty reply among others is left
    out of training (the conversation keeps its shape); a prompt turn that is empty drops the example."""
    conv = ex.messages
    if all(len(m["content"]) > 60 and m["content"][:1] not in "[<lL \t\n" for m in conv):
        return ex, ""  # the common case: every turn is real text
    notes: list[str] = []
    out: list[dict] = []
    for i, m in enumerate(conv, 1):
        text = m["content"]
        empty = not text.strip() and not m.get("tool_calls")
        reply = m["role"] == "assistant"
        placeholder = placeholders and not empty and not m.get("tool_calls") and is_placeholder(text, reply)
        if not (empty or placeholder) or (m["role"] == "tool" and empty):
            out.append(m)
            continue
        what = "empty" if empty else f"a placeholder ({text.strip()[:30]!r})"
        if m["role"] == "system" and empty:
            notes.append(f"removed empty system message {i}")
            continue
        if reply and ex.chosen is None and ex.completion is None and len(conv) > 1:
            out.append({**m, "train": False})
            notes.append(f"message {i} (assistant) is {what}: not trained")
            continue
        if reply and len(conv) == 1 and empty:
            return None, "the document is empty"
        return None, f"message {i} ({m['role']}) is {what}"
    if not notes:
        return ex, ""
    if ex.chosen is None and ex.completion is None and not any(
            m["role"] == "assistant" and m.get("train") is not False for m in out):
        return None, "every reply is empty: " + "; ".join(notes)
    return replace(ex, messages=out), "; ".join(notes)


def pairs(ex: Example) -> Result:
    """Preference/KTO examples that teach nothing: identical replies, or an empty one."""
    for name in ("chosen", "rejected", "completion"):
        reply = getattr(ex, name)
        if reply is not None and not any(m["content"].strip() or m.get("tool_calls") for m in reply):
            return None, f"the {name} reply is empty"
    if ex.chosen is not None and ex.chosen == ex.rejected:
        return None, "chosen and rejected are the same reply"
    return ex, ""


def mask_pii(ex: Example, kinds: tuple[str, ...], drop: bool, in_code: bool = False) -> tuple[Example | None, str, dict]:
    """(example, reason, {kind: count}); the reason shows redacted values, never the data. Code
    (fenced blocks, inline code, lines that read as code) is left alone unless `in_code`."""
    found_kinds: dict[str, int] = {}
    shown: list[str] = []

    def mask(m: dict) -> dict:
        text = m["content"]
        found = pii.find(text, kinds)
        if found and not in_code and any(f[0] in CODE_SAFE for f in found):
            spans = code_spans(text)
            if spans:
                found = [f for f in found if f[0] not in CODE_SAFE or not any(a <= f[1] < b for a, b in spans)]
        if not found:
            return m
        for kind, start, end in found:
            found_kinds[kind] = found_kinds.get(kind, 0) + 1
            if len(shown) < 3:
                shown.append(f"{kind} {pii.redact(text[start:end])}")
        return {**m, "content": pii.mask(text, found)}

    new = _map_messages(ex, mask)
    if not found_kinds:
        return ex, "", found_kinds
    return (None if drop else new), "found " + ", ".join(shown), found_kinds


def boilerplate(ex: Example) -> Result:
    if ex.tools:
        # With functions on offer, "I can't do that, my functions only ..." is the behaviour taught.
        return ex, ""
    conv = ex.messages
    for i, m in enumerate(conv):
        if m["role"] != "assistant":
            continue
        low = m["content"].lower()
        if not any(h in low for h in _HINTS):
            continue
        hit = BOILERPLATE.search(m["content"])
        if hit is None:
            continue
        asked = next((p["content"] for p in reversed(conv[:i]) if p["role"] == "user"), "")
        if IDENTITY_QUESTION.search(asked):
            continue  # the user asked who the assistant is: stating it is the answer
        return None, f"canned answer: {hit.group()!r}"
    return ex, ""


def quality(ex: Example, min_words: int, max_words: int) -> Result:
    reason = gopher_reason("\n".join(m["content"] for m in ex.messages), min_words, max_words)
    return (None, reason) if reason else (ex, "")
