"""The cleaning report: per filter what it removed or repaired, with examples, plus before/after
statistics. Plain data: the UI renders it, `--json` prints it, the run directory stores it."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuneui.cleaning.text import excerpt

DESCRIPTIONS = {
    "encoding": "mojibake repaired (ftfy); examples with lost bytes (U+FFFD) dropped",
    "empty_turns": "empty, whitespace-only or placeholder turns",
    "pii": "personal data and secrets: emails, phones, IPs, card numbers (Luhn), API keys",
    "boilerplate": "canned assistant answers ('As an AI language model...', refusals)",
    "quality": "Gopher quality and repetition rules for plain-text documents",
    "too_short": "examples shorter than min_length",
    "too_long": "examples longer than max_length",
    "exact_duplicates": "the same example again (ignoring case, whitespace and Unicode forms)",
    "near_duplicates": "near duplicates: word 5-gram Jaccard similarity over the threshold (MinHash LSH)",
}


@dataclass
class FilterStats:
    name: str
    enabled: bool = True
    removed: int = 0
    modified: int = 0
    examples: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "description": DESCRIPTIONS.get(self.name, ""), "enabled": self.enabled,
                "removed": self.removed, "modified": self.modified, "examples": self.examples,
                "details": self.details}


@dataclass
class CleanReport:
    before: int
    after: int = 0
    filters: list[FilterStats] = field(default_factory=list)
    stats_before: dict = field(default_factory=dict)
    stats_after: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    length_unit: str = "words"
    seconds: float = 0.0

    def filter(self, name: str) -> FilterStats:
        return next(f for f in self.filters if f.name == name)

    @property
    def removed(self) -> dict[str, int]:
        return {f.name: f.removed for f in self.filters}

    def to_dict(self) -> dict:
        return {
            "before": self.before, "after": self.after, "removed_total": self.before - self.after,
            "removed": self.removed, "filters": [f.to_dict() for f in self.filters],
            "stats_before": self.stats_before, "stats_after": self.stats_after, "length_unit": self.length_unit,
            "options": self.options, "seconds": round(self.seconds, 3),
        }


class ExampleRecorder:
    """Keeps the first few removed/repaired examples of each filter, with where they came from."""

    def __init__(self, report: CleanReport, lines: list[int] | None, limit: int):
        self.report, self.lines, self.limit = report, lines, limit
        self.on_remove = None

    def where(self, index: int) -> dict:
        d = {"index": index}
        if self.lines is not None and index < len(self.lines):
            d["line"] = self.lines[index]
        return d

    def removed(self, stats: FilterStats, index: int, conv: list[dict], reason: str, **extra) -> None:
        stats.removed += 1
        if self.on_remove is not None:
            self.on_remove(stats.name, index)
        if len(stats.examples) < self.limit:
            stats.examples.append(self.where(index) | {"action": "removed", "reason": reason, "text": excerpt(conv)}
                                  | extra)

    def modified(self, stats: FilterStats, index: int, conv: list[dict], reason: str) -> None:
        stats.modified += 1
        shown = sum(1 for e in stats.examples if e["action"] == "modified")
        if shown < self.limit:
            stats.examples.append(self.where(index) | {"action": "modified", "reason": reason, "text": excerpt(conv)})
