"""What a wizard screen may ask of the app that hosts it, as a Protocol.

Screens are typed against this rather than against TuneApp, so that app.py (which builds the steps)
and the steps (which call back into the app) do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

from textual.screen import Screen

from tuneui.contract.facade import Engine
from tuneui.contract.loop import GenerationSettings
from tuneui.screens.state import WizardState


class WizardHost(Protocol):
    state: WizardState
    engine: Engine
    clock: Callable[[], float]
    poll_interval: float
    demo: bool
    chat_settings: GenerationSettings | None

    def go_to(self, step: str) -> None: ...

    def go_next(self, step: str) -> None: ...

    def go_prev(self, step: str) -> None: ...

    def open_train(self, action: str, run_dir: Path | None = None) -> None: ...


def host(screen: Screen) -> WizardHost:
    """The app a screen runs in (TuneApp, checked against WizardHost by mypy in app.py)."""
    return cast(WizardHost, screen.app)
