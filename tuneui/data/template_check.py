"""Examples the chat template refuses, found before anything is tokenized or trained.

Every example is rendered once by the model's own template (`tuneui.templates.check_conversations`),
so a dataset the template rejects (Gemma: "System role not supported"; Mixtral, Llama-2: "roles
must alternate") is reported with its file, line and row and the template's own words, plus the
remedy the model family documents when there is one, instead of failing mid-run. `tuneui data
inspect --model` prints these lines; `tuneui train` refuses the run with them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import DataError
from tuneui.templates import RenderOptions, check_conversations
from tuneui.templates.refusals import (
    BAD_MESSAGE,
    NO_CHAT_TEMPLATE,
    TEMPLATE_REJECTED,
    TEMPLATE_UNSUPPORTED,
    TOKENIZER_UNSUPPORTED,
)

# Refusals no amount of training could work around: the run stops (unless told to skip them).
# The others (no_reply, reply_not_found, no_reply_after_truncation) leave nothing to train in one
# example; training drops such examples and counts them.
BLOCKING = frozenset({TEMPLATE_REJECTED, NO_CHAT_TEMPLATE, TEMPLATE_UNSUPPORTED, TOKENIZER_UNSUPPORTED, BAD_MESSAGE})
# Refusals about the template or tokenizer, the same for every example: said once, not per row.
WHOLE_TEMPLATE = frozenset({NO_CHAT_TEMPLATE, TEMPLATE_UNSUPPORTED, TOKENIZER_UNSUPPORTED})

FOLD_SYSTEM = ("this chat template has no system role: fold the system prompt into the first user turn "
               "(fold_system: `--set fold_system=true` for tuneui train, `--fold-system` for tuneui data inspect, "
               "Settings > Advanced in the wizard)")
ALTERNATE = ("this chat template needs user and assistant turns to alternate: merge consecutive messages of the "
             "same role in the data")


def render_options(cfg: RunConfig) -> RenderOptions:
    """The run's choices that change what the template renders and what is trained."""
    return RenderOptions(train_reasoning=cfg.train_reasoning, fold_system=cfg.fold_system)


@dataclass(frozen=True)
class Origin:
    """Where an example came from: its file, the file's unit (line, row, item), its position in
    that unit, and its 1-based row among the file's examples."""

    path: str
    unit: str
    line: int | None
    row: int


@dataclass(frozen=True)
class Rejection:
    index: int  # position in the checked list
    origin: Origin
    reason: str  # one of tuneui.templates.REASONS
    message: str  # the template's (or the masking's) own words
    remedy: str | None = None

    @property
    def blocking(self) -> bool:
        return self.reason in BLOCKING

    def located(self) -> str:
        """`FILE:LINE: row N: message [reason]` (`FILE: row L: ...` for row/item units)."""
        o = self.origin
        where = (f"{o.path}:{o.line}: row {o.row}" if o.unit == "line" and o.line is not None
                 else f"{o.path}: {o.unit} {o.line if o.line is not None else o.row}")
        return f"{where}: {self.message} [{self.reason}]"


def origins_for(path: str, unit: str, lines: list[int] | None, n: int) -> list[Origin]:
    return [Origin(path, unit, lines[i] if lines is not None and i < len(lines) else None, i + 1) for i in range(n)]


def find_rejections(tokenizer, conversations: list, origins: list[Origin], *, options: RenderOptions,
                    tools: list | None = None) -> list[Rejection]:
    """Every refused example, in order, each with the remedy its model family documents (if any)."""
    out = []
    remedies: dict[tuple, str | None] = {}  # the same message on the same role sequence: the same remedy
    for index, reason, message in check_conversations(tokenizer, conversations, tools_per_row=tools, options=options):
        conv = conversations[index]
        row_tools = tools[index] if tools is not None else None
        key = (reason, message, tuple(m.get("role") for m in conv if isinstance(m, dict)))
        if row_tools is not None or key not in remedies:
            remedies[key] = remedy_for(tokenizer, conv, reason, options, row_tools)
        out.append(Rejection(index, origins[index], reason, message, remedies[key]))
    return out


def remedy_for(tokenizer, conversation, reason: str, options: RenderOptions, tools=None) -> str | None:
    if reason != TEMPLATE_REJECTED:
        return None
    roles = [m.get("role") for m in conversation if isinstance(m, dict)]
    if not options.fold_system and roles[:1] == ["system"]:
        # Offered only when it works: the same conversation, folded, renders.
        folded = replace(options, fold_system=True)
        if not check_conversations(tokenizer, [conversation], tools_per_row=[tools], options=folded):
            return FOLD_SYSTEM
    body = roles[1:] if roles[:1] == ["system"] else roles
    if any(a == b for a, b in zip(body, body[1:])):
        return ALTERNATE
    return None


def summary_line(rejections: list[Rejection], total: int, limit: int = 5) -> str:
    """One line for an error: the first rejection located, the next rows named, and the remedy."""
    first = rejections[0]
    if first.reason in WHOLE_TEMPLATE:
        return f"{first.message} [{first.reason}]"
    text = first.located()
    rest = rejections[1:]
    if rest:
        shown = ", ".join(_short(r) for r in rest[:limit])
        more = f" and {len(rest) - limit} more" if len(rest) > limit else ""
        text += f" (and {shown}{more}: {len(rejections)} of {total} examples refused)"
    remedies = list(dict.fromkeys(r.remedy for r in rejections if r.remedy))
    if remedies:
        text += "; remedy: " + "; ".join(remedies)
    return text


def _short(r: Rejection) -> str:
    o = r.origin
    return f"line {o.line}" if o.unit == "line" and o.line is not None else f"{o.unit} {o.line or o.row}"


def refuse_if_rejected(tokenizer, parts: list[tuple], *, options: RenderOptions,
                       skip: bool = False) -> list[Rejection]:
    """Check every example of every part (train, val) before training. Raises a one-line DataError
    naming the rows when the template rejects any (unless `skip`); returns all rejections found.
    A part is (conversations, origins) or (conversations, origins, each example's tools or None)."""
    found: list[Rejection] = []
    for convs, origins, *rest in parts:
        found += find_rejections(tokenizer, convs, origins, options=options, tools=rest[0] if rest else None)
    blocking = [r for r in found if r.blocking]
    if blocking and (not skip or blocking[0].reason in WHOLE_TEMPLATE):
        total = sum(len(part[0]) for part in parts)
        hint = "" if blocking[0].reason in WHOLE_TEMPLATE else "; or --set skip_bad_lines=true to train without them"
        raise DataError("the chat template refuses the data: " + summary_line(blocking, total) + hint)
    return found
