"""What the run teaches (RunConfig.objective), on the Technique step: SFT or preference tuning (DPO,
KTO), whichever the loaded data allows, in plain words; and the finished run to start from (the usual
SFT -> DPO path), from the runs list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Label, Select, Static

from tuneui.contract.datasets import LoadResult
from tuneui.contract.errors import TuneuiError
from tuneui.contract.facade import Engine
from tuneui.contract.presets import demo_config
from tuneui.screens.state import WizardState

LABELS = {"sft": "SFT (learn the answers)", "dpo": "DPO (preference pairs)", "kto": "KTO (good / bad replies)",
          "orpo": "ORPO (pairs, no reference)", "simpo": "SimPO (pairs, no reference)"}
WORDS = {
    "sft": "SFT: the model learns to answer like your examples (a task, a format, a style, facts).",
    "dpo": "DPO: the model learns which of two answers is better (chosen over rejected). It polishes a model "
           "that can already do the task, so it usually comes after SFT: start from your finished SFT run.",
    "kto": "KTO: the model learns which replies are good and which are bad, from single replies marked so. "
           "It usually comes after SFT: start from your finished SFT run.",
    "orpo": "ORPO: learns the chosen answers and, in the same pass, to prefer them over the rejected ones; "
            "no reference model, so it can start from the base model and needs less memory than DPO.",
    "simpo": "SimPO: like DPO without a reference model (less memory); it compares the answers' average "
             "likelihood per word. Start from your finished SFT run.",
}
# Why the options the data does not allow are missing, by the data's kind.
WHY_NOT = {
    "sft": "No preference tuning: it needs answers marked better or worse, this data has one per prompt.",
    "text": "No preference tuning: it needs answers marked better or worse, this data is plain text.",
    "preference": "No SFT: it would learn the chosen replies only and throw every rejected one away.",
    "kto": "No SFT: it would learn the undesirable replies as if they were good ones.",
}
# Where a first-timer with SFT data finds preference data to try it on.
TRY_PAIRS = "To try it, load Sample pairs on the Dataset step (a better and a worse answer to each question)."
BASE = ""  # the start-from choice "the model itself"
FIELDS = {"objective": "objective", "start-from": "start_from"}  # the panel's selects and the fields they set


def objective_note(result: LoadResult) -> str:
    """Data only a preference objective trains: which one, and where it is chosen."""
    names = [LABELS.get(o, o.upper()).split(" (")[0] for o in result.objectives]
    said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"trained with {said} (preference tuning), chosen on the Technique step"


def allowed(state: WizardState) -> list[str]:
    """The objectives the loaded data allows (SFT before any data is loaded)."""
    result = state.load_result
    return list(result.objectives) if result is not None and result.objectives else ["sft"]


class ObjectiveChosen(Message):
    """The user chose another objective: the Technique step plans again (memory differs by objective)."""


@dataclass
class StartsListed(Message):
    """The finished runs on the same model as this run: (label, run directory)."""

    model: str
    runs: list[tuple[str, str]]


class ObjectivePanel(Vertical):
    """The objective and the run to start from; changes go straight into the wizard's RunConfig."""

    DEFAULT_CSS = """
    ObjectivePanel #objective { width: 30; }
    ObjectivePanel #start-label { width: auto; padding: 0 1 0 2; }
    ObjectivePanel #start-from { width: 1fr; }
    """

    def __init__(self, state: WizardState, engine: Engine) -> None:
        super().__init__(classes="panel", id="objective-panel")
        self.state, self.engine = state, engine
        self._loading = False

    def compose(self) -> ComposeResult:
        self.border_title = "What to teach"
        with Horizontal(classes="inline-form"):
            yield Select([(LABELS["sft"], "sft")], allow_blank=False, id="objective")
            yield Label("start from", id="start-label", classes="muted")
            yield Select([("the model itself", BASE)], allow_blank=False, id="start-from")
        yield Static("", id="objective-words")

    def refresh_from_state(self) -> None:
        """Offer what the data allows; an objective the data no longer allows becomes the first allowed."""
        options = allowed(self.state)
        cfg = self.state.config
        if cfg.objective not in options:
            self._update(objective=options[0])
        self._loading = True
        box = self.query_one("#objective", Select)
        box.set_options([(LABELS.get(o, o.upper()), o) for o in options])
        box.value = self.state.config.objective
        box.disabled = len(options) == 1
        self.call_after_refresh(setattr, self, "_loading", False)
        self._explain()
        self._list_starts(self.state.config.model)

    def _explain(self) -> None:
        cfg = self.state.config
        result = self.state.load_result
        lines = [escape(WORDS.get(cfg.objective, cfg.objective))]
        if result is not None and result.kind in WHY_NOT and result.objectives:
            why = WHY_NOT[result.kind] + (f" {TRY_PAIRS}" if result.kind in ("sft", "text") else "")
            lines.append(f"[dim]{escape(why)}[/dim]")
        if cfg.start_from:
            lines.append(f"Starts from the finished run [b]{escape(cfg.start_from)}[/b]: its result is this run's "
                         "base model.")
        self.query_one("#objective-words", Static).update("\n".join(lines))

    def _update(self, **changes: object) -> bool:
        cfg = self.state.config
        if "objective" in changes and cfg.name == demo_config(cfg.objective).name:
            # the demo's run keeps being named for what it teaches, as `tuneui train --demo --objective X` names it
            changes["name"] = demo_config(str(changes["objective"])).name
        try:
            self.state.config = self.state.config.updated(**changes)
        except TuneuiError as exc:
            self.notify(str(exc), title="Technique", severity="error")
            return False
        return True

    @on(Select.Changed)
    def _chosen(self, event: Select.Changed) -> None:
        event.stop()
        name = FIELDS.get(event.select.id or "")
        if name and not self._loading and isinstance(event.value, str) and event.value != getattr(
                self.state.config, name):
            if self._update(**{name: event.value}) and name == "objective":
                self.post_message(ObjectiveChosen())
            self._explain()

    @work(thread=True, exclusive=True, group="start-from")
    def _list_starts(self, model: str) -> None:
        """Finished runs whose run.toml names the same model (a run on another model cannot be a start)."""
        from textual.worker import get_current_worker

        runs: list[tuple[str, str]] = []
        for summary in self.engine.list_runs():
            if summary.status != "finished":
                continue
            try:
                cfg = self.engine.load_run_config(summary.run_dir)
            except TuneuiError:
                continue  # a damaged run.toml: not a run to build on
            if cfg.model == model:
                runs.append((f"{summary.name} ({cfg.objective}, {cfg.technique})", str(summary.run_dir)))
        if not get_current_worker().is_cancelled:
            self.post_message(StartsListed(model, runs))

    @on(StartsListed)
    def _starts_listed(self, message: StartsListed) -> None:
        if message.model != self.state.config.model:
            return
        runs = list(message.runs)
        current = self.state.config.start_from
        if current and current not in {path for _, path in runs}:
            runs.append((Path(current).name, current))  # set elsewhere (run.toml, --set): still shown
        self._loading = True
        box = self.query_one("#start-from", Select)
        box.set_options([("the model itself", BASE), *runs])
        box.value = current
        box.disabled = not runs
        self.call_after_refresh(setattr, self, "_loading", False)
