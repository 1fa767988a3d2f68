"""The row of wizard steps at the top of every screen, the current one highlighted."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from tuneui.screens.state import STEPS


def steps_text(current: str, width: int) -> Text:
    """Full titles when they fit; otherwise numbers only, except the current step's title."""
    names = [name for name, _ in STEPS]
    here = names.index(current) if current in names else -1
    for short in (False, True):
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (_name, title) in enumerate(STEPS):
            if i:
                text.append(" › " if not short else " ", style="dim")
            label = f"{i + 1} {title}" if (i == here or not short) else f"{i + 1}"
            if i == here:
                text.append(f" {label} ", style="bold reverse")
            else:
                text.append(label, style="" if i < here else "dim")
        if text.cell_len <= width or short:
            return text
    return text


class StepBar(Widget):
    DEFAULT_CSS = "StepBar { height: 1; }"

    def __init__(self, current: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current = current

    def render(self) -> Text:
        return steps_text(self.current, max(10, self.size.width - 2))
