"""What kind of training data a file holds, read from its structure, with the evidence.

Supervised chat data is one kind among several that files share column names with; training one
kind as another ruins a model without a word (KTO's undesirable replies learnt as good ones, images
dropped from questions about them, the rejected half of every preference pair thrown away). So the
kinds are told apart first, from a sample of records:

- pretokenized: `input_ids` holding lists of integers;
- multimodal: media columns (`images`, `audios`, `videos`, ...), media content parts, or media
  placeholders (`<image>`, `<img>path</img>`, `<IMG_CONTEXT>`) in the prompts;
- preference: two replies per prompt, `chosen`/`rejected` in any of the common shapes (TRL standard
  and conversational, UltraFeedback binarized, HH-RLHF transcripts, LLaMA-Factory), StackExchange's
  `response_j`/`response_k`, or two answer columns with a column naming the better one;
- kto: one reply per row with a true/false `label`;
- two candidate answers with no preference between them are refused (neither SFT nor preference);
- otherwise SFT or plain text (`tuneui.data.formats`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tuneui.contract.config import PAIR_OBJECTIVES
from tuneui.contract.datasets import KIND_NAMES

MEDIA_COLUMNS = ("images", "image", "image_path", "image_paths", "image_url", "img", "imgs", "audios", "audio",
                 "audio_path", "videos", "video", "video_path", "pixel_values")
_MEDIA_PART = frozenset({"image", "image_url", "input_image", "image_file", "audio", "input_audio", "audio_url",
                         "video", "video_url"})
# Tokens that only mean "a media item goes here".
_SPECIFIC = re.compile(r"<img>[^<>\n]{1,500}</img>|<IMG_CONTEXT>|<\|(?:image_pad|video_pad|vision_start|image|audio)\|>"
                       r"|<image_\d+>")
# Tokens that may also be HTML in a coding answer: they count only in prompts, and only when common.
_GENERIC = re.compile(r"<(?:image|audio|video)>")
PAIR_SUFFIXES = (("1", "2"), ("_1", "_2"), ("_a", "_b"), ("a", "b"), ("_j", "_k"), ("_0", "_1"))
LABEL_COLUMNS = ("preference", "preferred", "label", "choice", "winner", "better", "chosen_id", "best")


@dataclass
class KindGuess:
    kind: str
    evidence: list[str] = field(default_factory=list)
    shape: str | None = None  # the preference/KTO shape (tuneui.data.preference) for those kinds
    columns: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None  # set when no example of the file can be read as training data


def _share(n: int, total: int) -> str:
    return f"{n}/{total} sampled rows"


def _is_token_list(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, int) and not isinstance(x, bool) for x in v[:64])


def _texts(value, prompts_only: bool) -> list[str]:
    """Text of a record's message-ish values (user/system turns only when prompts_only)."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for turn in value:
            if isinstance(turn, dict):
                role = str(turn.get("role", turn.get("from", "user"))).lower()
                if prompts_only and role in ("assistant", "gpt", "bot", "model"):
                    continue
                content = turn.get("content", turn.get("value"))
                out += _texts(content, prompts_only) if not isinstance(content, str) else [content]
                if isinstance(turn.get("text"), str):
                    out.append(turn["text"])
            elif isinstance(turn, str):
                out.append(turn)
    return out


def _media_parts(value) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                if item.get("type") in _MEDIA_PART:
                    found.add(str(item["type"]))
                for v in item.values():
                    if isinstance(v, list):
                        found |= _media_parts(v)
    return found


_MEDIA_SET = frozenset(MEDIA_COLUMNS)


def media_in_row(rec: dict) -> str | None:
    """Why one record is multimodal (a media column with a value), else None. Media content parts are
    caught where the content is read (`tuneui.data.messages.content_text`)."""
    for col in _MEDIA_SET.intersection(rec):
        if rec[col] not in (None, "", [], {}):
            return f"column '{col}' holds media"
    return None


def _multimodal(records: list[dict]) -> list[str]:
    n = len(records)
    evidence = []
    for col in MEDIA_COLUMNS:
        hits = sum(1 for r in records if r.get(col) not in (None, "", [], {}))
        if hits:
            evidence.append(f"column '{col}' holds media in {_share(hits, n)}")
    parts: dict[str, int] = {}
    for r in records:
        for t in set().union(*(_media_parts(v) for v in r.values() if isinstance(v, list))):
            parts[t] = parts.get(t, 0) + 1
    evidence += [f"content parts of type '{t}' in {_share(c, n)}" for t, c in sorted(parts.items())]
    specific: dict[str, int] = {}
    generic: dict[str, int] = {}
    for r in records:
        seen_s: set[str] = set()
        seen_g: set[str] = set()
        for v in r.values():
            for text in _texts(v, prompts_only=True):
                seen_s.update(m.group().split(">")[0] + ">" for m in _SPECIFIC.finditer(text))
                seen_g.update(m.group() for m in _GENERIC.finditer(text))
        for t in seen_s:
            specific[t] = specific.get(t, 0) + 1
        for t in seen_g:
            generic[t] = generic.get(t, 0) + 1
    evidence += [f"media placeholder '{t}' in the prompts of {_share(c, n)}" for t, c in specific.items()]
    common = {t: c for t, c in generic.items() if c >= max(1, n // 2) or evidence}
    evidence += [f"media placeholder '{t}' in the prompts of {_share(c, n)}" for t, c in common.items()]
    return evidence


def _pair_columns(keys: set[str]) -> tuple[str, str] | None:
    for stem in sorted(keys):
        for a, b in PAIR_SUFFIXES:
            if stem.endswith(a):
                base = stem[: len(stem) - len(a)]
                if base and base + b in keys and base.lower().rstrip("_") in (
                        "output", "answer", "response", "completion", "reply", "generation", "summary"):
                    return stem, base + b
    return None


def _preference(records: list[dict], keys: set[str]) -> KindGuess | None:
    n = len(records)
    if {"chosen_messages", "rejected_messages"} <= keys:
        return KindGuess("preference", [f"columns 'chosen_messages' and 'rejected_messages': two full transcripts "
                                        f"per row ({_share(n, n)})"], "transcripts",
                         {"chosen": "chosen_messages", "rejected": "rejected_messages"})
    if {"chosen", "rejected"} <= keys:
        hits = sum(1 for r in records if r.get("chosen") is not None and r.get("rejected") is not None)
        ev = [f"columns 'chosen' and 'rejected': two replies per prompt in {_share(hits, n)}"]
        sample = next((r for r in records if r.get("chosen") is not None), records[0])
        chosen = sample.get("chosen")
        prompt_col = next((c for c in ("prompt", "conversations", "instruction", "question", "query", "messages")
                           if c in keys), None)
        cols = {"chosen": "chosen", "rejected": "rejected"}
        if prompt_col:
            cols["prompt"] = prompt_col
            ev.append(f"column '{prompt_col}' holds the prompt")
        if "score_chosen" in keys and "score_rejected" in keys:
            ev.append("scores 'score_chosen'/'score_rejected' kept with each pair (UltraFeedback binarized)")
        if isinstance(chosen, str) and not prompt_col:
            if chosen.lstrip("\n").startswith("Human:"):
                ev.append("chosen/rejected are whole 'Human:/Assistant:' transcripts (HH-RLHF): the prompt is their "
                          "shared beginning")
                return KindGuess("preference", ev, "hh_text", cols)
            return KindGuess("preference", ev, "implicit_text", cols)
        if isinstance(chosen, list) and not prompt_col:
            ev.append("chosen/rejected are whole transcripts: the prompt is their shared beginning")
            return KindGuess("preference", ev, "transcripts", cols)
        return KindGuess("preference", ev, "prompt_pair", cols)
    if {"response_j", "response_k"} <= keys:
        cols = {"chosen": "response_j", "rejected": "response_k"}
        if "question" in keys:
            cols["prompt"] = "question"
        return KindGuess("preference", ["columns 'response_j'/'response_k' (StackExchange paired): response_j is the "
                                        "preferred answer to 'question'"], "prompt_pair", cols)
    pair = _pair_columns(keys)
    if pair is None:
        return None
    label = next((c for c in sorted(keys) if c.lower() in LABEL_COLUMNS), None)
    asked: str | None = next((c for c in sorted(keys) if c.lower() in ("prompt", "question", "instruction", "query",
                                                                      "input")), None)
    if label is None:
        what = (f"two candidate answers per row ('{pair[0]}' and '{pair[1]}') and no column saying which is "
                "better")
        return KindGuess("unlabelled_pairs", [what], None, {},
                         f"{what}: neither SFT nor preference training can use them as they are; to train one of "
                         f"them as SFT, map it (e.g. --column output={pair[0]}), or add a preference label")
    cols = {"first": pair[0], "second": pair[1], "label": label}
    if asked:
        cols["prompt"] = asked
    return KindGuess("preference", [f"two answers per row ('{pair[0]}', '{pair[1]}') and '{label}' naming the "
                                    "better one"], "labelled_pair", cols)


def _kto(records: list[dict], keys: set[str]) -> KindGuess | None:
    label = next((c for c in ("label", "kto_tag") if c in keys), None)
    if label is None:
        return None
    n = len(records)
    bools = sum(1 for r in records if isinstance(r.get(label), bool))
    if bools < 0.9 * n:
        return None
    reply = next((c for c in ("messages", "conversations", "completion", "output", "response") if c in keys), None)
    if reply is None:
        return None
    cols: dict[str, str] = {"label": label, "reply": reply}
    prompt = next((c for c in ("prompt", "instruction", "question", "query") if c in keys), None)
    if prompt and reply not in ("messages", "conversations"):
        cols["prompt"] = prompt
    good = sum(1 for r in records if r.get(label) is True)
    return KindGuess("kto", [f"column '{label}' marks each reply desirable (true) or undesirable (false): "
                             f"{good} true, {bools - good} false in {_share(n, n)}",
                             f"column '{reply}' holds the reply" + (f", '{prompt}' the prompt" if "prompt" in cols
                                                                    else " after its prompt")],
                     "kto", cols)


def detect_kind(records: list[dict]) -> KindGuess | None:
    """The kind of the sampled records when it is not plain SFT/text (those are `formats`' job), else None."""
    keys: set[str] = set()
    for r in records:
        keys.update(r)
    n = len(records)
    tokens = sum(1 for r in records if _is_token_list(r.get("input_ids")))
    if tokens >= 0.9 * n:
        extra = [c for c in ("labels", "attention_mask") if c in keys]
        ev = [f"column 'input_ids' holds token ids (lists of integers) in {_share(tokens, n)}"]
        if extra:
            ev.append(f"with {' and '.join(repr(c) for c in extra)}")
        return KindGuess("pretokenized", ev, refusal=refusal_for("pretokenized"))
    media = _multimodal(records)
    if media:
        return KindGuess("multimodal", media, refusal=refusal_for("multimodal"))
    return _preference(records, keys) or _kto(records, keys)


def refusal_for(kind: str, objective: str | None = None) -> str | None:
    """Why a run cannot train this kind of data, in one line naming the kind (None when it can).

    The one place that decides which kinds an objective trains. `objective` None: no run is asked for
    yet (loading, inspecting), so preference and KTO data name the objective that trains them.
    """
    trains = {"preference": PAIR_OBJECTIVES, "kto": ("kto",)}
    if kind in ("sft", "text"):
        if objective in (None, "sft"):
            return None
        wanted = next(k for k, o in trains.items() if objective in o)
        return (f"objective={objective} trains {KIND_NAMES[wanted]}, and this is {KIND_NAMES[kind]}; train it with "
                "objective=sft")
    if kind in trains and objective in trains[kind]:
        return None
    if kind == "preference":
        return (f"this is {KIND_NAMES['preference']}; train it with objective=dpo, orpo or simpo "
                "(--set objective=dpo): "
                + ("SFT would throw every rejected reply away" if objective in (None, "sft")
                   else f"objective={objective} needs {KIND_NAMES['kto']}"))
    if kind == "kto":
        return (f"this is {KIND_NAMES['kto']}; train it with objective=kto (--set objective=kto): "
                + ("SFT would learn the undesirable replies as good ones" if objective in (None, "sft")
                   else f"objective={objective} needs {KIND_NAMES['preference']}"))
    if kind == "multimodal":
        return (f"{KIND_NAMES['multimodal']} (images, audio or video): tuneui trains text-only models, and training "
                "the text alone would teach answers about media the model never sees")
    if kind == "pretokenized":
        return (f"{KIND_NAMES['pretokenized']} (token ids, not text): tuneui renders text with the model's own chat "
                "template and masks the prompts itself; give it the text the ids came from")
    return f"tuneui cannot train {kind} data"
