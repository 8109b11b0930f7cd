"""Quit confirmation: stop the engine too, leave it running, or cancel."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["QuitScreen"]


class QuitScreen(ModalScreen[str | None]):
    """Dismisses with "stop", "leave", or None (cancel)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s,y",
            "choose('stop')",
            "Stop engine",
            id="quit.stop",
            tooltip="Stop the engine and quit",
        ),
        Binding(
            "l,n",
            "choose('leave')",
            "Leave running",
            id="quit.leave",
            tooltip="Quit the TUI and leave the engine running",
        ),
        Binding(
            "enter",
            "default",
            "Default",
            id="quit.default",
            show=False,
            tooltip="The highlighted choice",
        ),
        Binding("escape", "choose('')", "Cancel", id="quit.cancel", tooltip="Back to the app"),
    ]

    def __init__(self, spawned: bool) -> None:
        super().__init__()
        self.spawned = spawned

    def compose(self) -> ComposeResult:
        if self.spawned:
            question = "This TUI started the engine. Stop the engine too?"
            default = "[s/y] stop engine and quit (default)   [l/n] leave it running"
        else:
            question = "The engine was running before this TUI. Leave it running?"
            default = "[l/n] leave it running (default)   [s/y] stop engine and quit"
        with Vertical(id="quit-box"):
            yield Static(question, id="quit-question")
            yield Static(default, id="quit-choices", markup=False)
            yield Static("escape cancels", id="quit-hint")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)

    def action_default(self) -> None:
        self.dismiss("stop" if self.spawned else "leave")
