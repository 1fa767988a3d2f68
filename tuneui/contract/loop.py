"""The closing loop as the contract sees it: chatting with a tuned model, exporting it, sweeping.

The engine's `tuneui.chat`, `tuneui.export` and `tuneui.sweep` produce these; the wizard's Chat,
Export and Sweep screens and the matching commands show them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tuneui.contract.errors import ConfigError

Conversation = list[dict[str, Any]]


@dataclass
class GenerationSettings:
    temperature: float = 0.0  # 0 = greedy: the same prompt always gets the same answer
    top_p: float = 1.0
    max_new_tokens: int = 256

    def validate(self) -> GenerationSettings:
        if not 0.0 <= self.temperature <= 5.0:
            raise ConfigError(f"temperature: must be between 0 and 5 (got {self.temperature})")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p: must be above 0 and at most 1 (got {self.top_p})")
        if not 1 <= self.max_new_tokens <= 8192:
            raise ConfigError(f"max_new_tokens: must be between 1 and 8192 (got {self.max_new_tokens})")
        return self


@dataclass
class Reply:
    text: str = ""
    tokens: int = 0
    stopped: bool = False  # the user pressed Stop
    finished: bool = False  # the model emitted EOS (rather than running into max_new_tokens)


@dataclass
class ValidationPrompt:
    """A held-out conversation up to its last user turn, and the reply the data expects."""

    messages: Conversation
    reference: str


class ChatSession(Protocol):
    """A loaded tuned model (plus the means to answer as its base)."""

    name: str
    kind: str  # "peft": base = adapter off; "full": the base is a separate model
    run_dir: Path | None

    @property
    def has_base(self) -> bool: ...

    def stream(self, messages: Conversation, *, base: bool = False, settings: GenerationSettings | None = None,
               stop: threading.Event | None = None, reply: Reply | None = None) -> Iterator[str]:
        """The reply's text piece by piece; `stop.set()` ends it after the current token."""


# GGUF encodings tuneui writes (tuneui.export_gguf): q8_0 first, the default
GGUF_QUANTS = ("q8_0", "q4_k_m", "f16", "bf16")
EXPORT_DTYPES = ("auto", "bf16", "fp16", "fp32")


@dataclass
class ExportOptions:
    merge: bool = False
    gguf: bool = False
    quant: str = "q8_0"  # GGUF encoding: f16, bf16, q8_0 (near-lossless, half of f16), q4_k_m (about 30% of f16)
    push_to_hub: str | None = None
    private: bool = True
    overwrite: bool = False
    # The dtype a merged model is stored in: "auto" is the base model's own (a bf16 base gives a
    # bf16 export, whatever precision training ran in), else bf16, fp16 or fp32.
    dtype: str = "auto"

    def validate(self) -> ExportOptions:
        if self.dtype not in EXPORT_DTYPES:
            raise ConfigError(f"dtype: must be one of {', '.join(EXPORT_DTYPES)} (got {self.dtype!r})")
        return self


@dataclass
class ExportResult:
    out_dir: Path
    kind: str  # "adapter" | "merged" | "full"
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gguf: Path | None = None
    quant: str | None = None  # the GGUF's encoding when one was written
    hub_url: str | None = None

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "kind": self.kind, "files": self.files, "notes": self.notes,
                "gguf": str(self.gguf) if self.gguf else None, "quant": self.quant, "hub_url": self.hub_url}


@dataclass
class Trial:
    index: int
    overrides: dict
    run_dir: str = ""
    status: str = "pending"  # pending | running | finished | failed | stopped
    val_loss: float | None = None
    train_loss: float | None = None
    seconds: float | None = None
    rank: int | None = None

    def label(self) -> str:
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.overrides.items())


@dataclass
class SweepResult:
    out_dir: Path
    trials: list[Trial] = field(default_factory=list)

    @property
    def ranked(self) -> list[Trial]:
        done = [t for t in self.trials if t.val_loss is not None and math.isfinite(t.val_loss)]
        return sorted(done, key=lambda t: t.val_loss or 0.0)

    @property
    def best(self) -> Trial | None:
        ranked = self.ranked
        return ranked[0] if ranked else None

    def to_dict(self) -> dict:
        best = self.best
        return {"out_dir": str(self.out_dir), "trials": [asdict(t) for t in self.trials],
                "best": asdict(best) if best else None}
