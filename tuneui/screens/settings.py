"""Step 6: the hyperparameters, pre-filled with the recommended values, validated as you type; the
LoRA variants (LoRA techniques only) and the experiment trackers that are installed."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Collapsible, Input, Label, Select, Static

from tuneui.contract.config import TRACKERS, RunConfig
from tuneui.screens.base import StepScreen

BASIC = {
    "name": "name of the run and its folder",
    "epochs": "passes over the data; 1-3 is typical, more risks overfitting",
    "max_steps": "stop after this many optimizer steps (-1: run all epochs)",
    "learning_rate": "step size",  # the hint for the chosen technique: LR_HINTS
    "micro_batch_size": "examples per forward pass; lower it if memory runs out",
    "gradient_accumulation_steps": "micro-batches summed per optimizer step (effective batch = both multiplied)",
    "max_seq_length": "tokens per example; longer ones are cut (see the Clean histogram)",
    "lora_r": "LoRA rank: capacity of the adapter; 8-64 is typical",
    "lora_alpha": "LoRA scale; about 2x the rank is a good start",
    "val_fraction": "share of the data held out to measure validation loss",
}
ADVANCED = {
    "eval_steps": "evaluate every N steps (0: only at the end)",
    "save_steps": "checkpoint every N steps (0: only at the end)",
    "logging_steps": "log loss every N steps",
    "warmup_ratio": "share of steps spent ramping the learning rate up",
    "lr_scheduler": "how the learning rate decays",
    "weight_decay": "pulls weights toward zero; 0 is fine for LoRA",
    "max_grad_norm": "clips gradient spikes (0 disables)",
    "lora_dropout": "dropout inside the adapter; helps small datasets a little",
    "optimizer": "8-bit and paged variants save memory",
    "precision": "auto picks bf16 on GPUs that support it, fp32 on CPU",
    "packing": "pack examples into one row (no padding); best with FlashAttention, off = length-grouped batches",
    "gradient_checkpointing": "recompute activations: far less memory, about 30% slower",
    "freeze_trainable_layers": "'freeze' technique: how many top layers train",
    "seed": "random seed, for reproducible runs",
    "save_total_limit": "how many checkpoints to keep",
    "eval_max_examples": "validation examples used for the task metric",
    "train_reasoning": "train the <think> reasoning in replies; off trains only the answers",
    "fold_system": "put the system prompt in the first user turn (templates with no system role, e.g. Gemma)",
    "neftune_noise_alpha": "NEFTune: noise on the input embeddings while training (5 is typical); empty = off",
}
# Preference objectives only (shown for the objective chosen on the Technique step).
PREFERENCE = {
    "pref_beta": "how far the model may move from where it started; 0.1 is typical, higher stays closer",
    "dpo_loss_type": "DPO's loss: sigmoid is the DPO paper's; ipo and robust cope better with noisy pairs",
    "kto_loss_type": "KTO's loss: kto (with its KL estimate) or apo_zero_unpaired",
    "simpo_gamma": "how far the chosen answer's score must beat the rejected one's; 0.5 is TRL's default, "
                   "the SimPO paper uses 0.5 to 1.6",
}
# Which objectives show a field: the loss types and SimPO's margin belong to one objective each, beta to every
# preference one; packing and early stopping are SFT-only (RunConfig refuses them for preference objectives).
FOR_OBJECTIVE = {"pref_beta": lambda o: o != "sft", "dpo_loss_type": lambda o: o == "dpo",
                 "kto_loss_type": lambda o: o == "kto", "simpo_gamma": lambda o: o == "simpo",
                 "packing": lambda o: o == "sft"}
# beta means something else to each preference objective: the hint for the one chosen on the Technique step.
BETA_HINTS = {
    "orpo": "weight of preferring the chosen answer beside learning it; 0.1 is typical",
    "simpo": "how sharply the scores of the two answers are compared; the SimPO paper uses 2 to 2.5",
}
# A learning rate that suits LoRA wrecks a full fine-tune, and one for a full fine-tune barely moves LoRA.
LR_HINTS = {
    "lora": "step size; 1e-4..3e-4 is typical for LoRA (up to ~2e-3 for short runs)",
    "full": "step size; 1e-5..5e-5 is typical for a full fine-tune (LoRA's larger rates can wreck the model)",
    "freeze": "step size; 1e-5..1e-4 is typical when only the top layers train",
}
LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout")
# The variants' one-line explanations are their RunConfig descriptions (one source for CLI and wizard).
VARIANTS = {name: RunConfig.model_fields[name].description or ""
            for name in ("use_dora", "use_rslora", "lora_init", "loraplus_lr_ratio")}
TRACKER_HELP = {
    "tensorboard": "event files for TensorBoard",
    "wandb": "Weights & Biases, offline (wandb sync uploads)",
    "mlflow": "a local MLflow store",
    "trackio": "trackio's local dashboard",
}
FIELDS = {**BASIC, **PREFERENCE, **ADVANCED, **VARIANTS}


@dataclass
class TrackersFound(Message):
    installed: list[str]


def _choices(annotation: Any) -> tuple | None:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


def _parse(text: str, annotation: Any) -> Any:
    text = text.strip()
    if isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation):
        if not text:
            return None  # an optional number left empty: off
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if annotation is int:
        return int(text)
    if annotation is float:
        return float(text)
    return text


class SettingsScreen(StepScreen):
    STEP = "settings"
    NEXT_LABEL = "Start training"

    def compose_body(self) -> ComposeResult:
        yield Static("Recommended values are filled in. Tab moves between fields; Ctrl+N starts the run.",
                     classes="muted")
        yield from self._fields(BASIC)
        yield from self._fields(PREFERENCE)
        with Collapsible(title="Advanced", collapsed=True, id="advanced"):
            yield from self._fields(ADVANCED)
        with Collapsible(title="LoRA variants", collapsed=True, id="variants"):
            yield Static("", id="variants-note", classes="muted")
            yield from self._fields(VARIANTS)
        with Collapsible(title="Experiment trackers", collapsed=True, id="trackers"):
            for name in TRACKERS:
                with Horizontal(classes="field"):
                    yield Checkbox(name, id=f"t-{name}", classes="field-label", disabled=True)
                    yield Static(TRACKER_HELP[name], id=f"th-{name}", classes="muted field-help")
        yield Static("", id="form-error", classes="error")

    def _fields(self, fields: dict[str, str]) -> ComposeResult:
        for name, explanation in fields.items():
            info = RunConfig.model_fields[name]
            choices = _choices(info.annotation)
            with Horizontal(classes="field", id=f"row-{name}"):
                yield Label(name.replace("_", " "), classes="field-label")
                if info.annotation is bool:
                    yield Checkbox("", id=f"f-{name}", classes="field-input")
                elif choices:
                    yield Select([(str(c), c) for c in choices], allow_blank=False, id=f"f-{name}",
                                 classes="field-input")
                else:
                    yield Input(id=f"f-{name}", classes="field-input")
                with Vertical(classes="field-help"):
                    yield Static(explanation, id=f"h-{name}", classes="muted")
                    yield Static("", id=f"e-{name}", classes="field-error -empty")

    def on_mount(self) -> None:
        self.refresh_from_state()
        self._find_trackers()

    @work(thread=True, exclusive=True, group="trackers")
    def _find_trackers(self) -> None:
        self.post_result(TrackersFound(self.engine.installed_trackers()))

    @on(TrackersFound)
    def _trackers_found(self, message: TrackersFound) -> None:
        for name in TRACKERS:
            box = self.query_one(f"#t-{name}", Checkbox)
            box.disabled = name not in message.installed
            hint = TRACKER_HELP[name] if name in message.installed else f'not installed: pip install "tuneui[{name}]"'
            self.query_one(f"#th-{name}", Static).update(escape(hint))

    def refresh_from_state(self) -> None:
        cfg = self.state.config
        self._loading = True
        for name in FIELDS:
            widget = self.query_one(f"#f-{name}")
            value = getattr(cfg, name)
            if isinstance(widget, Input):
                text = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
                if widget.value != text:
                    widget.value = text
            elif isinstance(widget, (Select, Checkbox)):
                widget.value = value
            self.query_one(f"#e-{name}", Static).update("")
            self.query_one(f"#e-{name}", Static).add_class("-empty")
            self.query_one(f"#f-{name}").remove_class("invalid")
        lora = cfg.uses_peft
        for name in (*LORA_FIELDS, *VARIANTS):
            self.query_one(f"#f-{name}").disabled = not lora
        for name in LORA_FIELDS:  # a full or freeze fine-tune has no rank: not shown, not only greyed out
            self.query_one(f"#row-{name}").display = lora
        for name, shown in FOR_OBJECTIVE.items():
            self.query_one(f"#row-{name}").display = shown(cfg.objective)
        hint = LR_HINTS["lora" if lora else cfg.technique if cfg.technique in LR_HINTS else "full"]
        self.query_one("#h-learning_rate", Static).update(hint)
        self.query_one("#h-pref_beta", Static).update(BETA_HINTS.get(cfg.objective, PREFERENCE["pref_beta"]))
        # A separate validation file (the sample pairs' held-out pairs) validates, and the run then holds nothing
        # out (val_fraction unused): say so, or the 0 there reads as "no validation".
        self.query_one("#h-val_fraction", Static).update(
            escape(f"not used: validation uses its own file, {Path(cfg.val_dataset).name}") if cfg.val_dataset
            else BASIC["val_fraction"])
        self.query_one("#variants-note", Static).update(
            "peft's LoRA variants; each explained beside it." if lora else
            f"Only for the LoRA techniques (this run: {cfg.technique}).")
        for tracker in TRACKERS:
            self.query_one(f"#t-{tracker}", Checkbox).value = tracker in cfg.report_to
        self.call_after_refresh(setattr, self, "_loading", False)

    def _set_field(self, name: str, raw: Any) -> None:
        info = RunConfig.model_fields[name]
        error = self.query_one(f"#e-{name}", Static)
        try:
            value = _parse(raw, info.annotation) if isinstance(raw, str) else raw
            setattr(self.state.config, name, value)  # validate_assignment: pydantic checks it
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            error.update(_one_line(exc))
            error.remove_class("-empty")
            self.query_one(f"#f-{name}").add_class("invalid")
            return
        self._clear_error(name)
        self._recheck_others()

    def _clear_error(self, name: str) -> None:
        error = self.query_one(f"#e-{name}", Static)
        error.update("")
        error.add_class("-empty")
        self.query_one(f"#f-{name}").remove_class("invalid")

    def _recheck_others(self) -> None:
        """An error between fields (DoRA with OLoRA, ...) shows on the field edited last; once the whole
        config validates, every flagged field whose value was stored anyway is fine again."""
        try:
            RunConfig.model_validate(self.state.config.model_dump())
        except ValidationError:
            return
        for other in FIELDS:
            widget = self.query_one(f"#f-{other}")
            if not widget.has_class("invalid"):
                continue
            raw = widget.value if isinstance(widget, (Input, Select, Checkbox)) else None
            try:
                shown = _parse(raw, RunConfig.model_fields[other].annotation) if isinstance(raw, str) else raw
            except ValueError:
                continue  # still not a number
            if shown == getattr(self.state.config, other):
                self._clear_error(other)

    @on(Input.Changed)
    def _input(self, event: Input.Changed) -> None:
        if getattr(self, "_loading", False) or not (event.input.id or "").startswith("f-"):
            return
        self._set_field((event.input.id or "")[2:], event.value)

    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _choice(self, event: Select.Changed | Checkbox.Changed) -> None:
        widget = event.control
        if getattr(self, "_loading", False):
            return
        if (widget.id or "").startswith("t-"):
            self.state.config.report_to = [t for t in TRACKERS  # type: ignore[misc]  # the Literal's own names
                                           if self.query_one(f"#t-{t}", Checkbox).value]
            return
        if not (widget.id or "").startswith("f-"):
            return
        self._set_field((widget.id or "")[2:], event.value)

    def validate_step(self) -> str | None:
        bad = [n for n in FIELDS if self.query_one(f"#f-{n}").has_class("invalid")]
        if bad:
            return f"Fix {', '.join(b.replace('_', ' ') for b in bad)} first."
        try:
            RunConfig.model_validate(self.state.config.model_dump())
        except ValidationError as exc:
            msg = _one_line(exc)
            self.query_one("#form-error", Static).update(msg)
            return msg
        if not self.state.example_count() and self.state.config.dataset != "demo":
            return "No training data yet (steps 3 and 4)."
        self.query_one("#form-error", Static).update("")
        return None

    def proceed(self) -> None:
        self.tune_app.open_train("start")


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errs = exc.errors()
        if errs:
            return "; ".join(e["msg"].removeprefix("Value error, ") for e in errs)
    text = str(exc)
    if "invalid literal" in text or "could not convert" in text:
        return "not a number"
    return text.splitlines()[0]


SCREEN = SettingsScreen
