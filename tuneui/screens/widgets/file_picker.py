"""A keyboard-friendly file/directory picker: a filtered DirectoryTree in a modal."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt", ".md", ".arrow")


class FilteredTree(DirectoryTree):
    def __init__(self, path: Path, *, suffixes: tuple[str, ...] | None, dirs_only: bool, **kwargs: Any) -> None:
        self.suffixes = suffixes
        self.dirs_only = dirs_only
        self.needle = ""
        super().__init__(path, **kwargs)

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        out = []
        for p in paths:
            if p.name.startswith("."):
                continue
            try:
                is_dir = p.is_dir()
            except OSError:
                continue
            if is_dir:
                out.append(p)
                continue
            if self.dirs_only:
                continue
            if self.suffixes and p.suffix.lower() not in self.suffixes:
                continue
            if self.needle and self.needle not in p.name.lower():
                continue
            out.append(p)
        return out


class FilePicker(ModalScreen[Path | None]):
    """Returns the chosen path, or None when cancelled (Esc)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+u", "up", "Parent folder")]

    def __init__(self, start: Path | None = None, *, title: str = "Choose a file",
                 suffixes: tuple[str, ...] | None = DATA_SUFFIXES, dirs_only: bool = False) -> None:
        super().__init__()
        start = Path(start or Path.cwd()).expanduser()
        if start.is_file():
            start = start.parent
        self.root = start if start.is_dir() else Path.cwd()
        self.title_text = title
        self.suffixes = suffixes
        self.dirs_only = dirs_only
        self.chosen: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(self.title_text, classes="panel-title")
            with Horizontal(classes="inline-form"):
                yield Input(str(self.root), id="picker-root", placeholder="folder to browse")
                if not self.dirs_only:
                    yield Input(placeholder="filter names", id="picker-filter")
            yield FilteredTree(self.root, suffixes=self.suffixes, dirs_only=self.dirs_only, id="picker-tree")
            hint = ("Enter on a folder opens it; 'Choose' takes the highlighted folder." if self.dirs_only
                    else f"Showing {' '.join(self.suffixes or ('all files',))}. Enter picks a file.")
            yield Static(hint, id="picker-hint", classes="muted")
            with Horizontal(classes="button-row"):
                yield Button("Choose", id="picker-choose", variant="primary")
                yield Button("Cancel", id="picker-cancel")

    def on_mount(self) -> None:
        self.query_one(FilteredTree).focus()

    @on(Input.Submitted, "#picker-root")
    def _new_root(self, event: Input.Submitted) -> None:
        path = Path(event.value).expanduser()
        if not path.is_dir():
            self.notify(f"{path}: not a folder", severity="warning")
            return
        self.root = path
        self.query_one(FilteredTree).path = path

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        tree = self.query_one(FilteredTree)
        tree.needle = event.value.strip().lower()
        tree.reload()

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        if not self.dirs_only:
            self.dismiss(Path(event.path))

    @on(DirectoryTree.DirectorySelected)
    def _dir(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.chosen = Path(event.path)

    @on(Button.Pressed, "#picker-choose")
    def _choose(self) -> None:
        tree = self.query_one(FilteredTree)
        node = tree.cursor_node
        path = Path(node.data.path) if node is not None and node.data is not None else self.chosen
        if path is None:
            path = self.root
        if self.dirs_only and path.is_file():
            path = path.parent
        if not self.dirs_only and path.is_dir():
            self.notify("Highlight a file (Enter opens folders).", severity="warning")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#picker-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_up(self) -> None:
        self.root = self.root.parent
        self.query_one("#picker-root", Input).value = str(self.root)
        self.query_one(FilteredTree).path = self.root
