"""Data as the contract sees it: what loading a dataset found, and its token statistics.

The engine's `tuneui.data` fills these; the wizard's Dataset and Clean steps and `tuneui data
inspect --json` show them. Loading streams: a LoadResult carries counts, statistics and a preview
page, never every example (the engine keeps its normalised copy in `spool`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, Any]
Conversation = list[Message]

# What a file holds, by its structure. tuneui trains the first two; the others are recognised so that
# they are never trained as something they are not, and are refused by name.
KINDS: tuple[str, ...] = ("sft", "text", "preference", "kto", "multimodal", "pretokenized")
TRAINABLE_KINDS: frozenset[str] = frozenset({"sft", "text"})
KIND_NAMES = {
    "sft": "supervised chat/instruction data",
    "text": "plain text (continued pre-training)",
    "preference": "preference data (chosen/rejected pairs)",
    "kto": "KTO data (replies marked desirable or undesirable)",
    "multimodal": "multimodal data",
    "pretokenized": "pre-tokenized data",
}
# Rows a preview holds: enough to page through on screen; the counts cover the whole file.
PREVIEW_ROWS = 200


@dataclass
class Example:
    """One training example in tuneui's own shape.

    sft/text: `messages` is the conversation (a plain-text document is one assistant message).
    preference: `messages` is the shared prompt, `chosen`/`rejected` the two replies (message lists).
    kto: `messages` is the prompt, `completion` the reply and `label` whether it is desirable.
    Messages may carry what chat templates read besides role and content: `tool_calls` (assistant),
    `tool_call_id` and `name` (tool results), `reasoning_content`, and `train: False` on a reply the
    file asks not to train. `tools` holds the function definitions offered in this example.
    """

    messages: Conversation
    tools: list[dict[str, Any]] | None = None
    chosen: Conversation | None = None
    rejected: Conversation | None = None
    completion: Conversation | None = None
    label: bool | None = None
    score_chosen: float | None = None
    score_rejected: float | None = None

    @property
    def kind(self) -> str:
        if self.chosen is not None:
            return "preference"
        if self.completion is not None:
            return "kto"
        return "text" if len(self.messages) == 1 and self.messages[0].get("role") == "assistant" else "sft"

    def parts(self) -> list[tuple[str, Conversation]]:
        """(name, messages) of every message list the example holds, prompt first."""
        if self.chosen is None and self.completion is None:
            return [("messages", self.messages)]
        out = [("messages", self.messages)]
        for name in ("chosen", "rejected", "completion"):
            value = getattr(self, name)
            if value is not None:
                out.append((name, value))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class FormatGuess:
    name: str
    confidence: float
    evidence: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # canonical field -> the file's column
    alternatives: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "confidence": round(self.confidence, 3), "evidence": self.evidence,
                "columns": self.columns, "alternatives": {k: round(v, 3) for k, v in self.alternatives.items()}}


# Enough to show every problem of a messy file while a million bad lines cannot exhaust memory. Errors
# and warnings are kept separately, so no number of warnings can crowd out the errors; decisions
# (refuse the file, exit 2) use the counters, never the length of a kept list.
MAX_KEPT = 1000


@dataclass
class Problem:
    message: str
    line: int | None = None  # 1-based position in the file, in `unit`s (line, row or item)
    severity: str = "error"  # "error" | "warning"
    kind: str = "invalid"  # short machine-readable tag: bad_json, wrong_type, missing_field, ...
    unit: str = "line"

    @property
    def where(self) -> str:
        return f"{self.unit} {self.line}" if self.line is not None else "file"

    def to_dict(self) -> dict:
        return asdict(self) | {"where": self.where}

    def located(self, source: str) -> str:
        """`file:12: message` for lines, `file: row 12: message` for rows/items (one line, no traceback)."""
        if self.line is None:
            return f"{source}: {self.message}"
        if self.unit == "line":
            return f"{source}:{self.line}: {self.message}"
        return f"{source}: {self.unit} {self.line}: {self.message}"


@dataclass
class ProblemLog:
    kept: list[Problem] = field(default_factory=list)  # in file order; at most MAX_KEPT of each severity
    counts: Counter = field(default_factory=Counter)  # (severity, kind) -> n
    bad_lines: int = 0  # lines with at least one error
    _kept_by_severity: Counter = field(default_factory=Counter, repr=False)

    def add(self, problem: Problem) -> None:
        self.counts[(problem.severity, problem.kind)] += 1
        self._keep(problem)

    def merge(self, other: ProblemLog) -> None:
        """Another log's counts and kept problems (one chunk's, read in a worker), under this log's cap."""
        self.counts.update(other.counts)
        for problem in other.kept:
            self._keep(problem)

    def _keep(self, problem: Problem) -> None:
        if self._kept_by_severity[problem.severity] < MAX_KEPT:
            self._kept_by_severity[problem.severity] += 1
            self.kept.append(problem)

    @property
    def errors(self) -> list[Problem]:
        """The kept errors (the first MAX_KEPT); `n_errors` is how many there are."""
        return [p for p in self.kept if p.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return self.n_errors > 0

    @property
    def n_errors(self) -> int:
        return sum(n for (sev, _), n in self.counts.items() if sev == "error")

    @property
    def n_warnings(self) -> int:
        return sum(n for (sev, _), n in self.counts.items() if sev == "warning")

    def summary(self) -> dict:
        by_kind: dict[str, int] = {}
        for (_, kind), n in sorted(self.counts.items()):
            by_kind[kind] = by_kind.get(kind, 0) + n
        return {"errors": self.n_errors, "warnings": self.n_warnings, "bad_lines": self.bad_lines, "by_kind": by_kind}


@dataclass
class LoadProgress:
    """How far a long read or clean is: rows done, their rate, and the time left when it is known."""

    phase: str  # "reading", "cleaning", "deduplicating", "writing"
    rows: int = 0
    seconds: float = 0.0
    fraction: float | None = None  # of the input read, when its size is known

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.fraction or self.fraction <= 0 or self.fraction >= 1:
            return None
        return self.seconds * (1 - self.fraction) / self.fraction

    def line(self) -> str:
        """`reading: 120,000 rows, 48,000 rows/s, about 20 s left` (what the CLI and the wizard show)."""
        text = f"{self.phase}: {self.rows:,} rows"
        if self.seconds >= 0.5:
            text += f", {self.rows_per_s:,.0f} rows/s"
        eta = self.eta_s
        if eta is not None:
            text += f", about {eta:,.0f} s left" if eta >= 1 else ", almost done"
        return text


@dataclass
class LoadResult:
    path: str
    file_type: str
    unit: str
    encoding: str | None
    format: FormatGuess
    problems: ProblemLog
    kind: str = "sft"  # one of KINDS
    kind_evidence: list[str] = field(default_factory=list)
    refusal: str | None = None  # why this version of tuneui cannot train the file, by name; None if it can
    # The RunConfig objectives that train this kind of data (preference data: dpo, though `refusal` says an
    # SFT run cannot); empty when no objective can.
    objectives: list[str] = field(default_factory=list)
    examples: int = 0  # usable examples in the whole file
    preview: list[Example] = field(default_factory=list)  # the first PREVIEW_ROWS usable examples
    preview_lines: list[int] = field(default_factory=list)  # their positions (line/row/item) in the file
    records: int = 0  # records seen, good and bad
    columns: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> {type name: rows}
    notes: list[str] = field(default_factory=list)
    coerced: dict[str, int] = field(default_factory=dict)  # field -> numbers/booleans turned into text
    lengths: LengthStats | None = None  # words per example, over the whole file
    spool: str | None = None  # the engine's normalised copy of every example (cleaning and paging read it)
    seconds: float = 0.0

    @property
    def trainable(self) -> bool:
        return self.refusal is None

    @property
    def complete(self) -> bool:
        """The preview holds every example."""
        return len(self.preview) == self.examples

    @property
    def errors(self) -> list[Problem]:
        return self.problems.errors

    def first_error_message(self) -> str | None:
        errors = self.errors
        if not errors:
            return None
        first = errors[0].located(self.path)
        more = self.problems.bad_lines - 1
        if more > 0:
            first += f" (and {more} more bad {self.unit}{'s' if more != 1 else ''})"
        return first

    def to_dict(self, max_problems: int = 50) -> dict:
        return {
            "path": self.path,
            "file_type": self.file_type,
            "encoding": self.encoding,
            "unit": self.unit,
            "kind": self.kind,
            "kind_evidence": self.kind_evidence,
            "trainable": self.trainable,
            "refusal": self.refusal,
            "objectives": self.objectives,
            "format": self.format.to_dict(),
            "records": self.records,
            "examples": self.examples,
            "columns": self.columns,
            "notes": self.notes,
            "coerced": self.coerced,
            "problem_summary": self.problems.summary(),
            # errors first: with thousands of warnings, the line that breaks the file must still show
            "problems": [p.to_dict() for p in sorted(self.problems.kept, key=lambda p: p.severity != "error")
                         [:max_problems]],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class LengthStats:
    unit: str  # "words" | "tokens"
    count: int
    min: int = 0
    mean: float = 0.0
    max: int = 0
    total: int = 0
    percentiles: dict[str, int] = field(default_factory=dict)  # "p50" -> length
    histogram: dict[str, list] = field(default_factory=lambda: {"edges": [], "counts": []})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Refusal:
    """Examples the loss masking refuses for one reason (tuneui.templates.REASONS): how many, and
    the first one's row (1-based position in the data), message and remedy."""

    reason: str
    count: int
    row: int
    message: str
    remedy: str | None = None  # what the model family documents for it (e.g. fold_system), when known


@dataclass
class TokenStats:
    lengths: LengthStats
    max_seq_length: int
    over_max: int = 0  # examples longer than max_seq_length
    answer_cut: int = 0  # over-long examples that lose some trained (assistant) tokens
    answer_lost: int = 0  # ... that lose all of them: the prompt alone fills the window
    prompt_only_cut: int = 0  # ... that lose only untrained tokens (a trailing user turn)
    tokens_cut: int = 0
    trained_tokens: int = 0
    trained_tokens_cut: int = 0
    measured: int = 0  # examples tokenized (a seeded sample of large datasets)
    total: int = 0
    refusals: list[Refusal] = field(default_factory=list)  # measured examples training would drop, by reason

    @property
    def refused(self) -> int:
        return sum(r.count for r in self.refusals)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lengths"] = self.lengths.to_dict()
        d["over_max_fraction"] = round(self.over_max / self.measured, 4) if self.measured else 0.0
        return d


@dataclass
class Preview:
    segments: list[dict] = field(default_factory=list)  # {"text": str, "trained": bool}
    tokens: int = 0
    trained_tokens: int = 0
    truncated: bool = False
    max_seq_length: int = 0
    row: int = 1  # which example this is (1-based): the first one the masking accepts
    train_reasoning: bool = True
    reasoning: str = ""  # how this example's reasoning is handled, in words ("" when it has none)
    refusal: Refusal | None = None  # set when no example could be shown: why the first was refused

    def to_dict(self) -> dict:
        return {"segments": self.segments, "tokens": self.tokens, "trained_tokens": self.trained_tokens,
                "truncated": self.truncated, "max_seq_length": self.max_seq_length, "row": self.row,
                "train_reasoning": self.train_reasoning, "reasoning": self.reasoning,
                "refusal": asdict(self.refusal) if self.refusal else None}


@dataclass
class TokenInsight:
    """Token lengths of the data with the run's own tokenizer, and one example exactly as trained."""

    stats: TokenStats
    preview: Preview | None
    max_seq_length: int
