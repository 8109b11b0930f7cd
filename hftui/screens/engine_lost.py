"""The engine is gone: restart it, reattach to one that runs again, keep watching, or quit.

Shown when the engine said it stopped and went quiet, or went quiet without a word for a
while. Positions and open orders at the venue are not the TUI's to judge from here: the
dialog says what still protects them (the kill latch survives in its file, the venue's
countdown cancels live orders of a dead engine when configured).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["EngineLostScreen"]


class EngineLostScreen(ModalScreen[str | None]):
    """Dismisses with "restart", "reattach", "quit", or None (keep watching)."""

    CSS_PATH = "engine_lost.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "r", "choose('restart')", "Restart", id="lost.restart", tooltip="Start a new engine"
        ),
        Binding(
            "a",
            "choose('reattach')",
            "Reattach",
            id="lost.reattach",
            tooltip="Open the engine that runs now (started elsewhere)",
        ),
        Binding("w,escape", "choose('')", "Watch", id="lost.watch", tooltip="Keep this screen"),
        Binding("q", "choose('quit')", "Quit", id="lost.quit", tooltip="Quit the TUI"),
    ]

    def __init__(self, why: str, running_elsewhere: bool) -> None:
        """Args:
        why: what the TUI saw, e.g. "the engine (pid 123) stopped".
        running_elsewhere: another engine of this instance runs now (reattach is the
            default then, restart otherwise).
        """
        super().__init__()
        self.why = why
        self.running_elsewhere = running_elsewhere

    def compose(self) -> ComposeResult:
        if self.running_elsewhere:
            choices = "[a] reattach to the engine running now   [w] keep watching   [q] quit"
        else:
            choices = "[r] restart the engine   [w] keep watching   [q] quit"
        with Vertical(id="lost-box"):
            yield Static(f"ENGINE LOST: {self.why}", id="lost-title", markup=False)
            yield Static(
                "Orders already at the venue stay there: a kill latch survives a restart, and "
                "a new engine recovers and manages what it finds open.",
                id="lost-text",
                markup=False,
            )
            yield Static(choices, id="lost-choices", markup=False)

    def action_choose(self, choice: str) -> None:
        if choice == "restart" and self.running_elsewhere:
            choice = "reattach"  # never two engines of one instance
        elif choice == "reattach" and not self.running_elsewhere:
            self.notify("no engine runs now: [r] restarts one", severity="warning")
            return
        self.dismiss(choice or None)
