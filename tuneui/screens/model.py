"""Step 2: choose the base model (offline demo, a local directory, or a hub id) and see what it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tuneui.contract.modelinfo import ModelFiles, ModelInfo
from tuneui.screens.base import StepScreen
from tuneui.screens.views import fmt_bytes, fmt_count

SOURCES = ("demo", "local", "hub")
PLACEHOLDER = {"demo": "SmolLM2-135M-Instruct, fetched on first use",
               "local": "/path/to/model-directory (with config.json)",
               "hub": "org/name, e.g. Qwen/Qwen2.5-0.5B-Instruct"}


@dataclass
class ModelInspected(Message):
    model: str
    info: ModelInfo
    files: ModelFiles


@dataclass
class ModelInspectionFailed(Message):
    model: str
    error: Exception


def model_lines(info: ModelInfo | None, files: ModelFiles) -> list[str]:
    if info is None:
        return []
    params, active = info.total_params, info.active_params
    lines = [
        f"[b]{info.name}[/b]  ({info.source})",
        f"architecture: {info.model_type}"
        + (f", mixture of {info.num_experts} experts" if info.num_experts else ""),
        f"parameters: {fmt_count(params)}" + (f" ({fmt_count(active)} active per token)"
                                              if active and params and active != params else ""),
        f"layers: {info.num_layers}, hidden size {info.hidden_size}, "
        f"heads {info.num_heads} (kv {info.num_kv_heads}), vocabulary {info.vocab_size}",
        f"context length: {info.max_position_embeddings or 'not stated'}",
        f"weights dtype: {info.dtype or '?'}",
    ]
    if files.weights_bytes:
        lines.append(f"size on disk: {fmt_bytes(files.weights_bytes)}")
    elif params:
        where = "fetched on first use" if info.source == "demo" else "weights not on disk here"
        lines.append(f"size: about {fmt_bytes(params * 2)} in bf16 ({where})")
    if files.license_file:
        lines.append(f"license: {files.license_file}")
    elif info.source == "demo":
        lines.append("license: Apache-2.0 (SmolLM2-135M-Instruct, by Hugging Face)")
    elif info.source == "demo-tiny":
        lines.append("license: built by tuneui, yours to use")
    else:
        lines.append("license: no LICENSE file found — check the model card before you share a tune")
    for warning in info.warnings:
        lines.append(f"[yellow]note:[/yellow] {warning}")
    return lines


class ModelScreen(StepScreen):
    STEP = "model"

    def compose_body(self) -> ComposeResult:
        yield Label("Which model do you want to fine-tune?", classes="panel-title")
        with RadioSet(id="source"):
            yield RadioButton("Offline demo model (SmolLM2-135M-Instruct, a few CPU minutes)", id="src-demo", value=True)
            yield RadioButton("A model directory on this machine", id="src-local")
            yield RadioButton("A Hugging Face hub id", id="src-hub")
        with Horizontal(classes="inline-form", id="model-form"):
            yield Input(placeholder=PLACEHOLDER["demo"], id="model-path", disabled=True)
            yield Button("Browse…", id="browse", disabled=True)
            yield Button("Inspect", id="inspect")
        with Vertical(classes="panel"):
            yield Static("", id="model-info")

    def on_mount(self) -> None:
        self.refresh_from_state()

    def refresh_from_state(self) -> None:
        cfg = self.state.config
        source = self.state.model_source if self.state.model_source in SOURCES else "demo"
        self.query_one(f"#src-{source}", RadioButton).value = True
        if source != "demo":
            self.query_one("#model-path", Input).value = cfg.model if cfg.model != "demo" else ""
        self._set_source(source)
        if self.state.model_info is not None:
            self._show(self.state.model_info)
        elif source == "demo":
            self.inspect("demo")

    @on(RadioSet.Changed, "#source")
    def _source_changed(self, event: RadioSet.Changed) -> None:
        source = SOURCES[event.index]
        if source == self.state.model_source:
            return
        self.state.model_source = source
        self.state.model_info = None
        self._set_source(source)
        self.query_one("#model-info", Static).update("")
        if source == "demo":
            self.inspect("demo")
        else:
            self.query_one("#model-path", Input).focus()

    def _set_source(self, source: str) -> None:
        path = self.query_one("#model-path", Input)
        path.disabled = source == "demo"
        path.placeholder = PLACEHOLDER[source]
        self.query_one("#browse", Button).disabled = source != "local"

    @on(Input.Submitted, "#model-path")
    @on(Button.Pressed, "#inspect")
    def _inspect_pressed(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        model = "demo" if self.state.model_source == "demo" else self.query_one("#model-path", Input).value.strip()
        if not model:
            self.set_status("Type a model directory or hub id first.", error=True)
            return
        self.inspect(model)

    @on(Button.Pressed, "#browse")
    def _browse(self) -> None:
        from tuneui.screens.widgets.file_picker import FilePicker

        current = self.query_one("#model-path", Input).value.strip()

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.query_one("#model-path", Input).value = str(path)
                self.inspect(str(path))

        self.app.push_screen(FilePicker(Path(current) if current else Path.home(), dirs_only=True,
                                        title="Choose a model directory (it holds config.json)"), chosen)

    def inspect(self, model: str) -> None:
        self.set_status(f"reading {model}…")
        self._inspect(model)

    @work(thread=True, exclusive=True, group="inspect")
    def _inspect(self, model: str) -> None:
        try:
            info = self.engine.inspect_model(model)
            files = self.engine.model_files(model)
        except Exception as exc:
            self.post_result(ModelInspectionFailed(model, exc))
            return
        self.post_result(ModelInspected(model, info, files))

    @on(ModelInspected)
    def _inspected(self, message: ModelInspected) -> None:
        model, info, files = message.model, message.info, message.files
        if model != self.state.config.model:
            # another model invalidates everything derived from the old one
            self.state.recommendation = None
            self.state.token_insight = None
        self.state.config.model = model
        self.state.model_info = info
        self.state.model_files = files
        self._show(info)
        self.set_status("model ready — Next picks the dataset")

    @on(ModelInspectionFailed)
    def _failed(self, message: ModelInspectionFailed) -> None:
        model, exc = message.model, message.error
        self.state.model_info = None
        text = str(exc)
        if self.state.model_source == "hub" and ("offline" in text.lower() or "cache" in text.lower()
                                                 or "reach" in text.lower()):
            text += "\nThe hub cannot be reached from here: download the model elsewhere and choose its directory."
        self.query_one("#model-info", Static).update(f"[red]Cannot use {model}:[/red] {text}")
        self.show_error(exc, "Model")

    def _show(self, info: ModelInfo) -> None:
        self.query_one("#model-info", Static).update("\n".join(model_lines(info, self.state.model_files)))

    def validate_step(self) -> str | None:
        if self.state.model_info is None:
            return "Choose a model and wait for its details (Inspect)."
        return None


SCREEN = ModelScreen
