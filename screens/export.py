"""Step 9: export the result (a later issue wires the real export here)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from screens.base import StepScreen


class ExportScreen(StepScreen):
    STEP = "export"
    NEXT_LABEL = ""

    def compose_body(self) -> ComposeResult:
        yield Static(
            "[b]Export — coming next[/b]\n\nHere you will save the adapter or a merged model, with a model "
            "card and the exact command that reproduces the run.\n\nUntil then: `tuneui export RUN_DIR -o DIR` "
            "(or copy the run folder's adapter/ directory, a standard PEFT adapter).", classes="panel")


SCREEN = ExportScreen
