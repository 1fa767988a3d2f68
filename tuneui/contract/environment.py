"""The first-run environment check as the contract sees it: one verdict per thing tuneui needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "missing"]


@dataclass(frozen=True)
class Check:
    key: str  # torch | gpu | bitsandbytes | disk
    title: str
    status: Status
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def summary(checks: list[Check]) -> str:
    missing = [c.title for c in checks if c.status == "missing"]
    if missing:
        return f"Missing: {', '.join(missing)}. The fix is shown under each below."
    if any(c.status == "warn" for c in checks):
        return "Ready, with notes below."
    return "Everything tuneui needs is here."
