"""Every cleaning step's switch and threshold, with defaults a careful user would pick."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from typing import Any

from tuneui.cleaning.pii import KINDS as PII_KINDS
from tuneui.errors import ConfigError


@dataclass
class CleanOptions:
    # Broken encoding: mojibake such as "cafÃ©" repaired with ftfy; examples still holding U+FFFD
    # replacement characters (bytes lost before we saw them) dropped when drop_unrepairable is on.
    fix_encoding: bool = True
    drop_unrepairable: bool = True
    # Empty, whitespace-only and placeholder ("N/A", "TODO", "<noinput>") turns: an empty system or
    # tool message is removed from the conversation; an empty user/assistant turn drops the example.
    empty_turns: bool = True
    placeholders: bool = True
    # Personal data: "mask" replaces it with <EMAIL>, <PHONE>, ...; "drop" removes the example; "off".
    pii: str = "mask"
    pii_kinds: list[str] = field(default_factory=lambda: list(PII_KINDS))
    # Canned assistant answers ("As an AI language model...", refusals).
    boilerplate: bool = True
    # Gopher quality and repetition rules (Rae et al. 2021) for plain-text corpora: "auto" applies
    # them when every example is a plain-text document, True/False force them.
    quality: bool | str = "auto"
    quality_min_words: int = 50
    quality_max_words: int = 100_000
    # Length of the whole example, in tokens when a tokenizer is given, else in words.
    min_length: int = 2
    max_length: int | None = None
    # Duplicates: exact after normalising case, whitespace and Unicode forms; near with MinHash LSH
    # over word n-grams and a verified Jaccard similarity >= near_dup_threshold.
    exact_dedup: bool = True
    near_dedup: bool = True
    near_dup_threshold: float = 0.8
    near_dup_ngram: int = 5
    # Short examples are left to exact dedup: "2+2?"/"4" and "2+3?"/"5" differ by one word and are
    # different examples, not near copies.
    near_dup_min_words: int = 16
    near_dup_num_perm: int = 64  # with every candidate verified, 64 finds what 128 does (benchmarks/cleaning.py), faster
    # How many removed examples each filter shows in the report.
    examples_per_filter: int = 3

    def validate(self) -> CleanOptions:
        problems = []
        if self.pii not in ("mask", "drop", "off"):
            problems.append(f"pii: must be mask, drop or off (got {self.pii!r})")
        bad = [k for k in self.pii_kinds if k not in PII_KINDS]
        if bad:
            problems.append(f"pii_kinds: unknown {', '.join(bad)} (known: {', '.join(PII_KINDS)})")
        if self.quality not in (True, False, "auto"):
            problems.append(f"quality: must be true, false or auto (got {self.quality!r})")
        if not 0.0 < self.near_dup_threshold <= 1.0:
            problems.append(f"near_dup_threshold: must be in (0, 1] (got {self.near_dup_threshold})")
        if self.near_dup_ngram < 1:
            problems.append("near_dup_ngram: must be >= 1")
        if self.near_dup_min_words < 0:
            problems.append("near_dup_min_words: must be >= 0")
        if not 16 <= self.near_dup_num_perm <= 1024:
            problems.append("near_dup_num_perm: must be between 16 and 1024")
        if self.min_length < 0:
            problems.append("min_length: must be >= 0")
        if self.max_length is not None and self.max_length <= self.min_length:
            problems.append(f"max_length: must be greater than min_length ({self.min_length})")
        if problems:
            raise ConfigError("cleaning options: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CleanOptions:
        """Build from plain data (JSON, TOML, the UI); unknown keys and wrong types are ConfigErrors."""
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        problems = []
        for key in list(data):
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1)
                problems.append(f"{key}: unknown option" + (f" (did you mean '{near[0]}'?)" if near else ""))
                data.pop(key)
        defaults = cls()
        for key, value in data.items():
            want = getattr(defaults, key)
            ok = (
                value is None and key == "max_length"
                or (isinstance(want, bool) and isinstance(value, bool))
                or (key == "quality" and value in (True, False, "auto"))
                or (isinstance(want, int) and not isinstance(want, bool) and isinstance(value, int)
                    and not isinstance(value, bool))
                or (isinstance(want, float) and isinstance(value, (int, float)) and not isinstance(value, bool))
                or (isinstance(want, str) and isinstance(value, str))
                or (isinstance(want, list) and isinstance(value, list))
                or (key == "max_length" and isinstance(value, int) and not isinstance(value, bool))
            )
            if not ok:
                problems.append(f"{key}: expected {type(want).__name__}, got {value!r}")
        if problems:
            raise ConfigError("cleaning options: " + "; ".join(problems))
        return cls(**data).validate()
