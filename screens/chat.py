"""Step 8: chat with the tuned model (a later issue wires the real chat here)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from screens.base import StepScreen


class ChatScreen(StepScreen):
    STEP = "chat"

    def compose_body(self) -> ComposeResult:
        yield Static(
            "[b]Chat — coming next[/b]\n\nHere you will talk to your tuned model and the base model side by "
            "side, with the adapter switchable on and off, to see what the fine-tune changed.\n\n"
            "Until then: the adapter is in the run folder shown on the Train step; the command line "
            "`tuneui chat RUN_DIR` is the same feature without the wizard.", classes="panel")


SCREEN = ChatScreen
