"""Step 9: export the result: the adapter (or a merged model) with a model card, run.toml and the
command that reproduces the run; optionally GGUF with an Ollama Modelfile, and a push to the Hugging Face hub.

The export runs in a thread worker; the screen shows what was written and anything to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from tuneui.contract.loop import GGUF_QUANTS, ExportOptions, ExportResult
from tuneui.screens.base import StepScreen

QUANT_CHOICES = {
    "q8_0": "q8_0: near-lossless, half the f16 size",
    "q4_k_m": "q4_k_m: about 30% of f16, small quality loss",
    "f16": "f16: unquantised",
    "bf16": "bf16: unquantised, bfloat16",
}


@dataclass
class GgufChecked(Message):
    converter: Path | None


@dataclass
class Exported(Message):
    result: ExportResult


@dataclass
class ExportFailed(Message):
    error: Exception


class ExportScreen(StepScreen):
    STEP = "export"
    NEXT_LABEL = ""
    BINDINGS = [Binding("ctrl+e", "evaluate", "Evaluation", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.exporting = False
        self._shown_run: Path | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("No run to export yet: finish a run on the Train step, or open one from Welcome.",
                     id="export-run")
        with Vertical(classes="panel", id="export-form"):
            yield Label("What to write", classes="panel-title")
            yield Checkbox("Merge the adapter into the base model (a standalone model; larger)", id="merge")
            yield Static("This run trained the whole model: the export is a complete model (nothing to merge).",
                         id="merge-note", classes="muted")
            with Horizontal(classes="inline-form"):
                yield Checkbox("Also write GGUF + Ollama Modelfile", id="gguf")
                yield Select([(QUANT_CHOICES[q], q) for q in GGUF_QUANTS], value=GGUF_QUANTS[0], allow_blank=False,
                             id="quant")
            yield Static("", id="gguf-note", classes="muted")
            with Horizontal(classes="inline-form"):
                yield Label("Folder  ")
                yield Input(placeholder="where to write the export", id="export-dir")
            with Horizontal(classes="inline-form"):
                yield Label("Hub     ")
                yield Input(placeholder="optional: user/repo to push to, with your existing `hf auth login`",
                            id="hub-repo")
            with Horizontal(classes="button-row"):
                yield Button("Export", id="do-export", variant="primary", disabled=True)
                yield Button("Evaluation report", id="open-eval")
        yield Static("", id="export-result", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#export-result", Static).display = False
        self.query_one("#merge-note", Static).display = False
        self._check_gguf()
        self.refresh_from_state()

    def _trained_an_adapter(self, run: Path) -> bool:
        """Merging only means something for an adapter; a run whose run.toml cannot be read (an adapter
        folder opened directly) is taken to be one."""
        try:
            return self.engine.load_run_config(run).uses_peft
        except Exception:  # noqa: BLE001 - the question is only which words to show
            return True

    def refresh_from_state(self) -> None:
        if not self.is_mounted:
            return
        run = self.state.run_dir
        if run is None or Path(run) == self._shown_run:
            return
        self._shown_run = Path(run)
        self.query_one("#export-run", Static).update(
            f"Exporting [b]{escape(Path(run).name)}[/b] ({escape(str(run))}); the run folder itself is not changed.")
        self.query_one("#export-dir", Input).value = str(Path(run).parent / f"{Path(run).name}-export")
        adapter = self._trained_an_adapter(Path(run))
        merge = self.query_one("#merge", Checkbox)
        merge.display = adapter
        if not adapter:
            merge.value = False
        self.query_one("#merge-note", Static).display = not adapter
        self.query_one("#do-export", Button).disabled = False

    @work(thread=True, exclusive=True, group="gguf")
    def _check_gguf(self) -> None:
        self.post_result(GgufChecked(self.engine.gguf_converter()))

    @on(GgufChecked)
    def _gguf_checked(self, message: GgufChecked) -> None:
        found = message.converter
        note = ("For llama.cpp, Ollama and LM Studio. Llama-family models are written by tuneui; others use "
                + (f"llama.cpp's converter ({found})." if found else
                   "llama.cpp's converter (set LLAMA_CPP_DIR to a llama.cpp checkout)."))
        self.query_one("#gguf-note", Static).update(escape(note))

    @on(Button.Pressed, "#do-export")
    def _export_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.start_export()

    @on(Button.Pressed, "#open-eval")
    def _eval_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_evaluate()

    def start_export(self) -> None:
        run = self.state.run_dir
        out = self.query_one("#export-dir", Input).value.strip()
        if run is None or self.exporting:
            return
        if not out:
            self.set_status("Choose a folder to write the export to.", error=True)
            return
        quant = self.query_one("#quant", Select).value
        options = ExportOptions(merge=self.query_one("#merge", Checkbox).value,
                                gguf=self.query_one("#gguf", Checkbox).value,
                                quant=quant if isinstance(quant, str) else GGUF_QUANTS[0],
                                push_to_hub=self.query_one("#hub-repo", Input).value.strip() or None)
        self.exporting = True
        self.query_one("#do-export", Button).disabled = True
        self.set_status("exporting… (a merge loads the model)")
        self._export(Path(run), Path(out).expanduser(), options)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, run: Path, out: Path, options: ExportOptions) -> None:
        try:
            self.post_result(Exported(self.engine.export_run(run, out, options)))
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            self.post_result(ExportFailed(exc))

    @on(ExportFailed)
    def _failed(self, message: ExportFailed) -> None:
        self.exporting = False
        self.query_one("#do-export", Button).disabled = False
        self.show_error(message.error, "Export")

    @on(Exported)
    def _done(self, message: Exported) -> None:
        result = message.result
        self.exporting = False
        self.query_one("#do-export", Button).disabled = False
        self.set_status("")
        what = {"adapter": "LoRA adapter", "merged": "merged model", "full": "model"}.get(result.kind, "run")
        lines = [f"[b]Exported the {what}[/b] to {escape(str(result.out_dir))}", ""]
        lines += [f"  {escape(name)}" for name in result.files]
        lines += ["", "Reproduce headless:  [b]tuneui train run.toml -o RUN_DIR[/b]  (run.toml is in the export)"]
        if result.gguf:
            lines.append(f"GGUF ({escape(result.quant or '')}): {escape(str(result.gguf))}")
            if "Modelfile" in result.files:
                lines.append(f"Ollama:  [b]cd {escape(str(result.out_dir))} && ollama create NAME -f Modelfile[/b]")
        if result.hub_url:
            lines.append(f"Pushed: {escape(result.hub_url)}")
        lines += [f"[dim]note: {escape(n)}[/dim]" for n in result.notes]
        box = self.query_one("#export-result", Static)
        box.update("\n".join(lines))
        box.display = True
        self.notify(f"Written to {result.out_dir}", title="Export done")

    def action_evaluate(self) -> None:
        from tuneui.screens.evaluate import EvaluateScreen

        self.app.push_screen(EvaluateScreen(self.state.run_dir))


SCREEN = ExportScreen
