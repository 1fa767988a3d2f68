"""Per-line problems found while reading a dataset, kept as plain data for the UI and `--json`.

An *error* means the line cannot become a conversation (bad JSON, wrong types, missing fields,
roles out of order); a *warning* means it loads but cleaning will probably remove or fix it
(an empty turn) or the file as a whole looks odd (mixed column types).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

# Enough to show every problem of a messy file while a million bad lines cannot exhaust memory.
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
    kept: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # (severity, kind) -> n
    bad_lines: int = 0  # lines with at least one error

    def add(self, problem: Problem) -> None:
        self.counts[(problem.severity, problem.kind)] += 1
        if len(self.kept) < MAX_KEPT:
            self.kept.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.kept if p.severity == "error"]

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
