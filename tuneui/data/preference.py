"""Preference pairs and KTO rows in every common shape -> `Example(messages=prompt, chosen, rejected)`
or `Example(messages=prompt, completion, label)`, TRL's conversational form.

Full transcripts (HH-RLHF, LLaMA-Factory's chosen_messages/rejected_messages, UltraFeedback's
chosen/rejected lists) are split where they part: the shared messages are the prompt, and the first
differing message must be an assistant reply in both; a pair whose prompts differ is an error with
its line. Nothing is flattened: every reply keeps its messages, the scores are kept.
"""

from __future__ import annotations

import re
from typing import Any

from tuneui.contract.datasets import Conversation, Example
from tuneui.data.messages import Coercions, RowError, content_text, kind_of, turns

_HH = re.compile(r"\n\n(Human|Assistant):")
_ROLE_PREFIX = re.compile(r"^\s*(Human|Assistant|User|System):\s?")


def parse_hh(text: str) -> Conversation:
    """'\\n\\nHuman: ...\\n\\nAssistant: ...' -> messages."""
    if not text.startswith("\n\n"):
        text = "\n\n" + text.lstrip()
    parts = _HH.split(text)
    if parts[0].strip():
        raise RowError("text before the first 'Human:' turn", "bad_transcript")
    out = []
    for speaker, body in zip(parts[1::2], parts[2::2]):
        out.append({"role": "user" if speaker == "Human" else "assistant", "content": body.strip()})
    if not out:
        raise RowError("no 'Human:'/'Assistant:' turns in the transcript", "bad_transcript")
    return out


def _messages(value: Any, where: str, coerce: Coercions, role: str = "user") -> Conversation:
    """A prompt or reply given as text, one turn object, or a list of turns."""
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and value and isinstance(value[0], dict) and (
            "role" in value[0] or "from" in value[0]):
        role_key = "role" if "role" in value[0] else "from"
        content_key = "content" if "content" in value[0] else "value"
        return turns(value, where, role_key, content_key, coerce)
    if value is None:
        raise RowError(f"missing field '{where}'", "missing_field")
    text = content_text(value, f"field '{where}'", coerce)
    if role == "user" and text.lstrip("\n").startswith("Human:"):
        return parse_hh(text)
    if role == "assistant":
        text = _ROLE_PREFIX.sub("", text, count=1) if text.lstrip().startswith("Assistant:") else text
    return [{"role": role, "content": text}]


def split_transcripts(chosen: Conversation, rejected: Conversation) -> tuple[Conversation, Conversation, Conversation]:
    """(prompt, chosen reply, rejected reply) of two full transcripts that share their prompt."""
    i = 0
    while i < min(len(chosen), len(rejected)) and chosen[i] == rejected[i]:
        i += 1
    if i == len(chosen) == len(rejected):  # identical transcripts: the last turn is the (same) reply
        i -= 1
    if i >= len(chosen) or i >= len(rejected):
        raise RowError("one transcript ends inside the other: no second reply to compare", "prompt_mismatch")
    if chosen[i]["role"] != "assistant" or rejected[i]["role"] != "assistant":
        raise RowError(f"the chosen and rejected transcripts have different prompts (they part at message {i + 1}, "
                       "which is not a reply)", "prompt_mismatch")
    if i == 0:
        raise RowError("the transcripts have no prompt before the replies", "prompt_mismatch")
    return chosen[:i], chosen[i:], rejected[i:]


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _prompt(rec: dict, cols: dict[str, str], coerce: Coercions) -> Conversation:
    col = cols["prompt"]
    value = rec.get(col)
    if col == "instruction" and isinstance(rec.get("input"), str) and rec["input"].strip():
        value = f"{value}\n\n{rec['input']}"
    conv = _messages(value, col, coerce, role="user")
    system = rec.get("system")
    if isinstance(system, str) and system.strip() and not any(m["role"] == "system" for m in conv):
        conv = [{"role": "system", "content": system}, *conv]
    return conv


def _reply(value: Any, where: str, coerce: Coercions) -> Conversation:
    return _messages(value, where, coerce, role="assistant")


def to_preference(rec: dict, shape: str, cols: dict[str, str], coerce: Coercions) -> Example:
    """One record of a preference file as an Example."""
    if shape in ("transcripts", "hh_text"):
        c = _messages(rec.get(cols["chosen"]), cols["chosen"], coerce)
        r = _messages(rec.get(cols["rejected"]), cols["rejected"], coerce)
        prompt, chosen, rejected = split_transcripts(c, r)
    elif shape == "implicit_text":
        cs, rs = (coerce.text(rec.get(cols[k]), f"field '{cols[k]}'", cols[k]) for k in ("chosen", "rejected"))
        n = 0
        while n < min(len(cs), len(rs)) and cs[n] == rs[n]:
            n += 1
        if not cs[:n].strip():
            raise RowError("chosen and rejected share no prompt, and there is no prompt column", "missing_field")
        prompt, chosen, rejected = ([{"role": "user", "content": cs[:n]}], [{"role": "assistant", "content": cs[n:]}],
                                    [{"role": "assistant", "content": rs[n:]}])
    elif shape == "labelled_pair":
        first, second = (_reply(rec.get(cols[k]), cols[k], coerce) for k in ("first", "second"))
        prompt = _prompt(rec, cols, coerce) if "prompt" in cols else []
        winner = _winner(rec.get(cols["label"]), cols)
        chosen, rejected = (first, second) if winner == 1 else (second, first)
    else:
        prompt = _prompt(rec, cols, coerce) if "prompt" in cols else []
        chosen, rejected = _reply(rec.get(cols["chosen"]), cols["chosen"], coerce), _reply(
            rec.get(cols["rejected"]), cols["rejected"], coerce)
        # UltraFeedback-style lists repeat the prompt before the reply
        if prompt and chosen[: len(prompt)] == prompt and rejected[: len(prompt)] == prompt:
            chosen, rejected = chosen[len(prompt):], rejected[len(prompt):]
        elif not prompt or (len(chosen) > 1 and chosen[0]["role"] != "assistant"):
            p, chosen, rejected = split_transcripts(chosen, rejected)
            prompt = prompt or p
    return Example(messages=prompt, chosen=chosen, rejected=rejected, score_chosen=_score(rec.get("score_chosen")),
                   score_rejected=_score(rec.get("score_rejected")))


def _winner(value: Any, cols: dict[str, str]) -> int:
    """1 when the label names the first answer, 2 the second."""
    first, second = cols["first"], cols["second"]
    if isinstance(value, str):
        v = value.strip()
        if v in (first, second):
            return 1 if v == first else 2
        if v.lower() in ("1", "a", first[-1:].lower()) and v.lower() != second[-1:].lower():
            return 1
        if v.lower() in ("2", "b", second[-1:].lower()):
            return 2
    if isinstance(value, int) and not isinstance(value, bool):
        if first.endswith("0") and value in (0, 1):
            return value + 1
        if value in (1, 2):
            return value
    raise RowError(f"'{cols['label']}' is {value!r}: it names neither '{first}' nor '{second}'", "bad_label")


def to_kto(rec: dict, cols: dict[str, str], coerce: Coercions) -> Example:
    label = rec.get(cols["label"])
    if not isinstance(label, bool):
        raise RowError(f"'{cols['label']}' is {kind_of(label)}, expected true/false", "bad_label")
    reply = cols["reply"]
    if "prompt" in cols:
        prompt = _prompt(rec, cols, coerce)
        completion = _reply(rec.get(reply), reply, coerce)
    else:
        conv = _messages(rec.get(reply), reply, coerce)
        if len(conv) < 2 or conv[-1]["role"] != "assistant":
            raise RowError(f"'{reply}' must end with the assistant reply the label judges", "role_order")
        prompt, completion = conv[:-1], conv[-1:]
    return Example(messages=prompt, completion=completion, label=label)


def check_pair(ex: Example) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(errors, warnings) of a preference or KTO example."""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    if not any(m["role"] == "user" for m in ex.messages):
        errors.append(("no_prompt", "no user turn in the prompt"))
    replies = [(n, v) for n, v in (("chosen", ex.chosen), ("rejected", ex.rejected), ("completion", ex.completion))
               if v is not None]
    for name, reply in replies:
        if not reply or reply[0]["role"] != "assistant":
            errors.append(("role_order", f"the {name} reply does not start with an assistant turn"))
        elif not any(m["content"].strip() or m.get("tool_calls") for m in reply):
            warnings.append(("empty_reply", f"the {name} reply is empty"))
    if ex.chosen is not None and ex.chosen == ex.rejected:
        warnings.append(("identical_pair", "chosen and rejected are the same reply: the pair teaches no preference"))
    if ex.score_chosen is not None and ex.score_chosen == ex.score_rejected:
        warnings.append(("tied_pair", f"chosen and rejected have the same score ({ex.score_chosen:g}): a tie"))
    return errors, warnings
