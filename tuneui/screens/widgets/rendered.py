"""One training example as the model sees it: masked (prompt) text dim, trained text highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def render_segments(segments: list[dict], limit: int = 1200) -> Text:
    text = Text()
    text.append("masked (not trained)", style="dim italic")
    text.append("  ·  ")
    text.append("trained", style="bold black on green")
    text.append("\n\n")
    used = 0
    for seg in segments:
        piece = str(seg.get("text", ""))
        if used + len(piece) > limit:
            piece = piece[: max(0, limit - used)] + "…"
        used += len(piece)
        text.append(piece, style="bold black on green" if seg.get("trained") else "dim")
        if used >= limit:
            break
    return text


class RenderedExample(Static):
    def show(self, segments: list[dict]) -> None:
        if not segments:
            self.update(Text("(no example to render)", style="dim"))
            return
        self.update(render_segments(segments))
