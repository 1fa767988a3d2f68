"""Cleaning as the contract sees it: the options (nested in RunConfig as `[cleaning]`) and the report.

The engine's `tuneui.cleaning` runs the filters; the wizard shows `CleanReport`; `run.toml` records
`CleanOptions`, so a run states exactly what cleaning it did.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tuneui.contract.datasets import Example
from tuneui.contract.defaults import PII_KINDS
from tuneui.contract.errors import ConfigError

Conversation = list[dict[str, Any]]

# What each filter catches, in the words the report and the wizard show.
DESCRIPTIONS = {
    "encoding": "mojibake repaired (ftfy); examples with lost bytes (U+FFFD) dropped",
    "empty_turns": "empty, whitespace-only or placeholder turns",
    "pairs": "preference/KTO examples whose two replies are identical or empty (they teach no preference)",
    "pii": "personal data and secrets: emails, phones, IPs, card numbers (Luhn), API keys (code left alone)",
    "boilerplate": "canned assistant answers ('As an AI language model...', refusals); never identity answers",
    "quality": "Gopher quality and repetition rules for web-text documents (plain-text corpora only)",
    "too_short": "examples shorter than min_length",
    "too_long": "examples longer than max_length",
    "exact_duplicates": "the same example again (ignoring case, whitespace and Unicode forms)",
    "near_duplicates": "near duplicates: word 5-gram Jaccard similarity over the threshold (MinHash LSH)",
}


class CleanOptions(BaseModel):
    """Every cleaning step's switch and threshold, with defaults a careful user would pick."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)

    # Broken encoding: mojibake such as "cafÃ©" repaired with ftfy; examples still holding U+FFFD
    # replacement characters (bytes lost before we saw them) dropped when drop_unrepairable is on.
    fix_encoding: bool = True
    drop_unrepairable: bool = True
    # Empty, whitespace-only and placeholder ("N/A", "TODO", "<noinput>") turns: an empty system or
    # tool message is removed from the conversation; an empty user/assistant turn drops the example.
    empty_turns: bool = True
    placeholders: bool = True
    # Preference and KTO data: a pair whose replies are identical, or a reply that is empty, teaches
    # no preference; such examples are dropped.
    pairs: bool = True
    # Personal data: "mask" replaces it with <EMAIL>, <PHONE>, ...; "drop" removes the example; "off".
    pii: Literal["mask", "drop", "off"] = "mask"
    pii_kinds: list[str] = Field(default_factory=lambda: list(PII_KINDS))
    # Code (fenced blocks, inline code, lines that read as code) is left alone: a regex that matches
    # e-mails or an IP in a config file is what the example teaches, not personal data.
    pii_in_code: bool = False
    # Canned assistant answers ("As an AI language model...", refusals). A reply that says who the
    # assistant is (an identity dataset's whole point) is never one of them.
    boilerplate: bool = True
    # Gopher quality and repetition rules (Rae et al. 2021), made for web pages: "auto" applies them
    # only to plain-text corpora (every example one document), never to chat or instruction data;
    # true/false force them.
    quality: bool | Literal["auto"] = "auto"
    quality_min_words: int = Field(50, ge=0)
    quality_max_words: int = Field(100_000, ge=1)
    # Length of the whole example, in tokens when a tokenizer is given, else in words.
    min_length: int = Field(2, ge=0)
    max_length: int | None = None
    # Duplicates: exact after normalising case, whitespace and Unicode forms; near with MinHash LSH
    # over word n-grams and a verified Jaccard similarity >= near_dup_threshold.
    exact_dedup: bool = True
    near_dedup: bool = True
    near_dup_threshold: float = Field(0.8, gt=0.0, le=1.0)
    near_dup_ngram: int = Field(5, ge=1)
    # Short examples are left to exact dedup: "2+2?"/"4" and "2+3?"/"5" differ by one word and are
    # different examples, not near copies.
    near_dup_min_words: int = Field(16, ge=0)
    # With every candidate verified, 64 permutations find what 128 do (benchmarks/cleaning.py), faster.
    near_dup_num_perm: int = Field(64, ge=16, le=1024)
    # How many removed examples each filter shows in the report.
    examples_per_filter: int = Field(3, ge=0)
    # A filter that removes more than this share of the data asks first in the wizard and warns
    # loudly in the CLI, with examples; `accept_large` lists the filters the user let do so.
    ask_above: float = Field(1 / 3, gt=0.0, le=1.0)
    accept_large: list[str] = Field(default_factory=list)

    @field_validator("near_dup_threshold", "ask_above", mode="before")
    @classmethod
    def _int_is_a_float(cls, value: Any) -> Any:
        # strict mode refuses 1 for a float field; TOML and JSON users write it that way.
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("pii_kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        bad = [k for k in kinds if k not in PII_KINDS]
        if bad:
            raise ValueError(f"unknown {', '.join(bad)} (known: {', '.join(PII_KINDS)})")
        return kinds

    @field_validator("accept_large")
    @classmethod
    def _known_filters(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if n not in DESCRIPTIONS]
        if bad:
            raise ValueError(f"unknown filter {', '.join(bad)} (filters: {', '.join(DESCRIPTIONS)})")
        return names

    @model_validator(mode="after")
    def _lengths(self) -> CleanOptions:
        if self.max_length is not None and self.max_length <= self.min_length:
            raise ValueError(f"max_length: must be greater than min_length ({self.min_length})")
        return self

    def validate_all(self) -> CleanOptions:
        """Re-check the whole object (fields set one by one are checked singly)."""
        return CleanOptions.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CleanOptions:
        """Build from plain data (JSON, TOML, the UI); unknown keys and wrong types are ConfigErrors."""
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            raise ConfigError("cleaning options: " + "; ".join(_problems(exc))) from None


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"][:1]) or "options"
        if err["type"] == "extra_forbidden":
            near = difflib.get_close_matches(key, CleanOptions.model_fields, n=1)
            out.append(f"{key}: unknown option" + (f" (did you mean '{near[0]}'?)" if near else ""))
        else:
            out.append(f"{key}: {err['msg'].removeprefix('Value error, ')} (got {err['input']!r})"
                       if err["loc"] else err["msg"].removeprefix("Value error, "))
    return out


@dataclass
class FilterStats:
    name: str
    enabled: bool = True
    removed: int = 0
    modified: int = 0
    # The first few examples caught: {"index", "line"?, "action": removed|modified, "reason", "text"}
    examples: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return DESCRIPTIONS.get(self.name, "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "enabled": self.enabled,
                "removed": self.removed, "modified": self.modified, "examples": self.examples,
                "details": self.details}


@dataclass
class CleanReport:
    before: int
    after: int = 0
    filters: list[FilterStats] = field(default_factory=list)
    stats_before: dict[str, Any] = field(default_factory=dict)
    stats_after: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    length_unit: str = "words"
    seconds: float = 0.0
    kind: str = "sft"
    rows_per_s: float = 0.0

    def filter(self, name: str) -> FilterStats:
        return next(f for f in self.filters if f.name == name)

    @property
    def large_removals(self) -> list[FilterStats]:
        """Filters that removed more than `ask_above` of the examples (the user is asked about them)."""
        share = float(self.options.get("ask_above", 1 / 3))
        return [f for f in self.filters if self.before and f.removed / self.before > share]

    @property
    def unconfirmed(self) -> list[FilterStats]:
        """Large removals the options do not accept yet."""
        accepted = set(self.options.get("accept_large", []))
        return [f for f in self.large_removals if f.name not in accepted]

    @property
    def removed(self) -> dict[str, int]:
        return {f.name: f.removed for f in self.filters}

    @property
    def removed_total(self) -> int:
        return self.before - self.after

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before, "after": self.after, "removed_total": self.removed_total,
            "removed": self.removed, "filters": [f.to_dict() for f in self.filters],
            "stats_before": self.stats_before, "stats_after": self.stats_after, "length_unit": self.length_unit,
            "options": self.options, "seconds": round(self.seconds, 3), "kind": self.kind,
            "large_removals": [f.name for f in self.large_removals], "rows_per_s": round(self.rows_per_s, 1),
        }


@dataclass
class CleanResult:
    """What cleaning a loaded dataset gave: the report, how many examples are kept, and a preview of
    them (the engine keeps the cleaned examples themselves in `spool`)."""

    report: CleanReport
    kept: list[Example] = field(default_factory=list)  # the first kept examples (all of them when few)
    kept_count: int = 0
    spool: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict()
