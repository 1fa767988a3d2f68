"""report.json as the contract sees it: base vs tuned on the validation split, and the forgetting probe.

The engine writes it at the end of every run (and `tuneui evaluate` rewrites it); the wizard's
Evaluate screen, `tuneui evaluate`, compare and the model card read it through `EvaluationReport`.
Fields added by later versions are kept (extra="allow"), so an old reader never drops them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tuneui.contract.rundir import REPORT_FILE


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class BaseTuned(_Loose):
    base: float | None = None
    tuned: float | None = None


class TaskMetric(BaseTuned):
    name: str = "exact_match"
    n: int = 0


class Forgetting(_Loose):
    base_perplexity: float | None = None
    tuned_perplexity: float | None = None
    ratio: float | None = None
    level: str = "unknown"  # none, mild, noticeable, severe, unknown
    verdict: str = "not measured"
    base_at_chance: bool = False
    probe: str | None = None  # what text the perplexities were measured on


class DifferingExample(_Loose):
    prompt: str = ""
    reference: str = ""
    base: str = ""
    tuned: str = ""


class PreferenceScore(_Loose):
    """How one model ranks held-out replies: pairs (accuracy: chosen more likely than rejected) or KTO's
    desirable/undesirable replies (their mean log-probabilities)."""

    pairs: int | None = None
    accuracy: float | None = None
    mean_logp_margin: float | None = None
    desirable: int | None = None
    undesirable: int | None = None
    desirable_mean_logp: float | None = None
    undesirable_mean_logp: float | None = None


class PreferenceFigures(_Loose):
    base: PreferenceScore | None = None
    tuned: PreferenceScore | None = None


class EvaluationReport(_Loose):
    task_metric: TaskMetric = Field(default_factory=TaskMetric)
    exact_match: BaseTuned = Field(default_factory=BaseTuned)  # case-sensitive
    exact_match_ci: BaseTuned = Field(default_factory=BaseTuned)  # the same, ignoring case
    # Share of replies that ended with the end-of-turn token before max_new_tokens: a model that
    # never learned to stop shows here, not in its validation loss.
    stop_rate: BaseTuned = Field(default_factory=BaseTuned)
    mean_new_tokens: BaseTuned = Field(default_factory=BaseTuned)
    max_new_tokens: int | None = None
    token_f1: BaseTuned = Field(default_factory=BaseTuned)
    rouge_l: BaseTuned = Field(default_factory=BaseTuned)
    eval_loss: BaseTuned = Field(default_factory=BaseTuned)
    perplexity: BaseTuned = Field(default_factory=BaseTuned)
    forgetting: Forgetting | None = None
    examples: list[DifferingExample] = Field(default_factory=list)
    technique: str | None = None
    model: str | None = None
    train_loss: float | None = None
    steps: int | None = None
    wall_time_s: float | None = None
    adapter: str | None = None
    model_path: str | None = None
    base_eval_cached: bool | None = None
    objective: str | None = None  # absent: sft
    preference: PreferenceFigures | None = None  # preference objectives only

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        return cls.model_validate(data)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


def read_report(run_dir: str | Path) -> EvaluationReport | None:
    """The run's report.json, or None when it is missing or unreadable."""
    path = Path(run_dir) / REPORT_FILE
    try:
        return EvaluationReport.model_validate_json(path.read_bytes())
    except (OSError, ValueError, ValidationError):
        return None


def fmt_score(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def fmt_num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def report_rows(report: EvaluationReport) -> list[tuple[str, str, str]]:
    """(what, base, tuned) rows for a table: the same numbers the CLI prints and the screen shows."""
    fg = report.forgetting
    probe = [] if fg is None else [("general-text perplexity", fmt_num(fg.base_perplexity), fmt_num(fg.tuned_perplexity))]
    if report.preference is not None:  # a preference run measures no task metric and no validation loss
        return preference_rows(report.preference) + probe
    tm = report.task_metric
    rows = [(f"{tm.name} (n={tm.n})", fmt_score(tm.base), fmt_score(tm.tuned))]
    for key, label in (("exact_match", "exact match"), ("exact_match_ci", "exact match, any case"),
                       ("token_f1", "token F1"), ("rouge_l", "ROUGE-L")):
        v: BaseTuned = getattr(report, key)
        if key != tm.name and (v.base is not None or v.tuned is not None):
            rows.append((label, fmt_score(v.base), fmt_score(v.tuned)))
    sr = report.stop_rate
    if sr.base is not None or sr.tuned is not None:
        cap = f" within {report.max_new_tokens} tokens" if report.max_new_tokens else ""
        rows.append((f"replies that stop on their own{cap}", fmt_score(sr.base), fmt_score(sr.tuned)))
    for key, label in (("eval_loss", "validation loss"), ("perplexity", "validation perplexity")):
        v = getattr(report, key)
        rows.append((label, fmt_num(v.base), fmt_num(v.tuned)))
    return rows + probe


def preference_rows(figures: PreferenceFigures) -> list[tuple[str, str, str]]:
    """(what, base, tuned) rows of a preference run: how each model ranks the held-out replies."""
    base, tuned = figures.base or PreferenceScore(), figures.tuned or PreferenceScore()
    if tuned.pairs is not None or base.pairs is not None:
        return [(f"preference accuracy (n={tuned.pairs if tuned.pairs is not None else base.pairs} pairs)",
                 fmt_score(base.accuracy), fmt_score(tuned.accuracy)),
                ("log-probability margin, chosen - rejected", fmt_num(base.mean_logp_margin),
                 fmt_num(tuned.mean_logp_margin))]
    return [(f"mean log-probability, {side} replies (n={getattr(tuned, side) or getattr(base, side) or 0})",
             fmt_num(getattr(base, f"{side}_mean_logp")), fmt_num(getattr(tuned, f"{side}_mean_logp")))
            for side in ("desirable", "undesirable")]
