"""Alerts for preference runs, read off the history of periodic validations: pure functions, one set of limits.

Two ways a DPO-style run goes wrong while its loss still looks fine:

- reward hacking: the reward margin keeps growing (the loss keeps falling) while the share of held-out pairs
  the model ranks right stalls or falls: the model is pushing its rewards apart on what it has seen, not
  learning which reply is better;
- the chosen reply's log-probability falling: DPO only asks the chosen reward to beat the rejected one, and a
  common way to satisfy it is to make both replies less likely, the rejected one faster. The margin grows, yet
  the model now writes the preferred answers less often than before training (Pal et al. 2024, "Smaug").

Each check looks at the last `window` evaluations and warns once per run. A resumed run rebuilds the watch from
its own events up to the checkpoint (`replay`), so a trend spanning the stop is seen and an alert given before it
is not given again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tuneui.contract import events as ev


@dataclass(frozen=True)
class Limits:
    window: int = 3  # evaluations in a row a trend must hold for (the same patience as SFT's overfitting watch)
    margin_rise: float = 0.5  # reward units the margin must have grown by over the window to count as growing
    accuracy_gain: float = 0.02  # validation accuracy that rose less than this over the window has stalled
    chosen_drop: float = 1.0  # nats: chosen replies this much less likely than under the reference (e^1 = 2.7x)


LIMITS = Limits()


@dataclass(frozen=True)
class PrefPoint:
    """One periodic validation of a preference run, with the training margin logged since the one before."""

    step: int
    accuracy: float | None = None  # validation preference accuracy
    margin: float | None = None  # training reward margin: the mean of the steps logged since the last validation
    logp_chosen: float | None = None
    logp_rejected: float | None = None
    logp_drift: float | None = None


def _series(points: Sequence[PrefPoint], name: str) -> list[float] | None:
    values = [getattr(p, name) for p in points]
    return None if any(v is None for v in values) else values


def _rising(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


def reward_hacking(history: Sequence[PrefPoint], limits: Limits = LIMITS) -> str | None:
    """The margin grew at every one of the last `window` evaluations while validation accuracy did not rise."""
    window = list(history[-limits.window - 1:])
    if len(window) <= limits.window:
        return None
    margin, accuracy = _series(window, "margin"), _series(window, "accuracy")
    if margin is None or accuracy is None:
        return None
    if not (_rising(margin) and margin[-1] - margin[0] >= limits.margin_rise):
        return None
    if accuracy[-1] - accuracy[0] >= limits.accuracy_gain:
        return None
    how = "fell" if accuracy[-1] < accuracy[0] else "stalled"
    return (f"possible reward hacking: the reward margin grew {limits.window} evaluations in a row "
            f"({margin[0]:.2f} -> {margin[-1]:.2f}) while validation preference accuracy {how} "
            f"({accuracy[0]:.0%} -> {accuracy[-1]:.0%})")


def chosen_falling(history: Sequence[PrefPoint], limits: Limits = LIMITS) -> str | None:
    """The chosen replies' log-probability fell at every one of the last `window` evaluations and now sits
    `chosen_drop` nats or more below the reference's."""
    window = list(history[-limits.window - 1:])
    if len(window) <= limits.window:
        return None
    chosen, drift = _series(window, "logp_chosen"), window[-1].logp_drift
    if chosen is None or drift is None or drift > -limits.chosen_drop:
        return None
    if not all(b < a for a, b in zip(chosen, chosen[1:])):
        return None
    rejected = _series(window, "logp_rejected")
    both = ""
    if rejected is not None and rejected[-1] < rejected[0]:
        faster = rejected[0] - rejected[-1] > chosen[0] - chosen[-1]
        both = (f"; the rejected replies fell too ({rejected[0]:.1f} -> {rejected[-1]:.1f})"
                + (", faster: that is how the margin grows" if faster else ""))
    return (f"the chosen replies are becoming less likely: their log-probability fell {limits.window} evaluations "
            f"in a row ({chosen[0]:.1f} -> {chosen[-1]:.1f}), {-drift:.1f} nats below the reference model{both}")


HACKING_ADVICE = ("stop here or at an earlier checkpoint; raise pref_beta (stay closer to the reference), lower "
                  "the learning rate, or add more varied pairs")
CHOSEN_ADVICE = ("lower the learning rate or raise pref_beta; dpo_loss_type = 'apo_zero' or adding an SFT pass on "
                 "the chosen replies first also keeps them likely")


class PreferenceWatch:
    """The run's validation history and which alerts were already given (each once)."""

    def __init__(self, limits: Limits = LIMITS):
        self.limits = limits
        self.history: list[PrefPoint] = []
        self._step_margins: list[float] = []
        self._last_margin: float | None = None
        self._said: set[str] = set()

    def note_step(self, margin: float | None) -> None:
        if margin is not None:
            self._step_margins.append(margin)

    def note_eval(self, step: int, figures: dict) -> list[tuple[str, str]]:
        """Add one validation's figures; the (reason, advice) of each alert this evaluation raises."""
        # The training margin, not the validation one: a margin that grows only on the pairs trained on is the
        # sign. No step logged since the last validation (logging_steps > eval_steps): the latest one stands.
        margins, self._step_margins = self._step_margins, []
        if margins:
            self._last_margin = sum(margins) / len(margins)
        self.history.append(PrefPoint(step=step, accuracy=figures.get("pref_accuracy"), margin=self._last_margin,
                                      logp_chosen=figures.get("logp_chosen"),
                                      logp_rejected=figures.get("logp_rejected"),
                                      logp_drift=figures.get("logp_drift")))
        out = []
        for name, check, advice in (("hacking", reward_hacking, HACKING_ADVICE),
                                    ("chosen", chosen_falling, CHOSEN_ADVICE)):
            if name not in self._said and (reason := check(self.history, self.limits)):
                self._said.add(name)
                out.append((reason, advice))
        return out

    def replay(self, events: Iterable[ev.Event]) -> None:
        """Feed the step and validation events an earlier session wrote, in their order, as they were fed live: the
        history, the margins logged since the last validation, and the alerts already given come back as they were.
        """
        for event in events:
            if isinstance(event, ev.Step):
                self.note_step(event.reward_margin)
            elif isinstance(event, ev.Eval) and event.is_preference and not event.base:
                self.note_eval(event.step, event.model_dump())
