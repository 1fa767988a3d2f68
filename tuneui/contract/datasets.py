"""Data as the contract sees it: what loading a dataset found, and its token statistics.

The engine's `tuneui.data` fills these; the wizard's Dataset and Clean steps and `tuneui data
inspect --json` show them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, Any]
Conversation = list[Message]


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
class LoadResult:
    path: str
    file_type: str
    unit: str
    encoding: str | None
    format: FormatGuess
    conversations: list[Conversation]
    lines: list[int]  # source position (line/row/item) of each conversation
    problems: ProblemLog
    records: int = 0  # records seen, good and bad
    columns: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> {type name: rows}
    notes: list[str] = field(default_factory=list)

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
            "format": self.format.to_dict(),
            "records": self.records,
            "examples": len(self.conversations),
            "columns": self.columns,
            "notes": self.notes,
            "problem_summary": self.problems.summary(),
            # errors first: with thousands of warnings, the line that breaks the file must still show
            "problems": [p.to_dict() for p in sorted(self.problems.kept, key=lambda p: p.severity != "error")
                         [:max_problems]],
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

    def to_dict(self) -> dict:
        return {"segments": self.segments, "tokens": self.tokens, "trained_tokens": self.trained_tokens,
                "truncated": self.truncated, "max_seq_length": self.max_seq_length}


@dataclass
class TokenInsight:
    """Token lengths of the data with the run's own tokenizer, and one example exactly as trained."""

    stats: TokenStats
    preview: Preview | None
    max_seq_length: int
