"""The cleaning report: per filter what it removed or repaired, with examples, plus before/after
statistics. Plain data: the UI renders it, `--json` prints it, the run directory stores it."""

from __future__ import annotations

from collections.abc import Callable

from tuneui.cleaning.text import excerpt
from tuneui.contract.cleaning import CleanReport, FilterStats


class ExampleRecorder:
    """Keeps the first few removed/repaired examples of each filter, with where they came from."""

    def __init__(self, report: CleanReport, lines: list[int] | None, limit: int):
        self.report, self.lines, self.limit = report, lines, limit
        self.on_remove: Callable[[str, int], None] | None = None

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
