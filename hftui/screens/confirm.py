"""A one-key confirmation for a trading command: y or enter goes ahead, n or escape does not."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["ConfirmScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (go ahead) or False (cancel).

    One key each way on purpose: a confirmation must be deliberate but never slow. The kill
    switch (a priority binding on the app) still works while this is open.
    """

    CSS_PATH = "confirm.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y,enter",
            "choose(True)",
            "Yes",
            id="confirm.yes",
            tooltip="Go ahead: send the command",
        ),
        Binding(
            "n,escape",
            "choose(False)",
            "No",
            id="confirm.no",
            tooltip="Cancel: send nothing",
        ),
    ]

    def __init__(self, title: str, question: str, *, note: str = "") -> None:
        """Ask before sending a command.

        Args:
            title: what would be sent, e.g. "Cancel all".
            question: the question, saying what the command will do.
            note: a line of detail under the question (e.g. what is open now).
        """
        super().__init__()
        self.title_text = title
        self.question = question
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box") as box:
            box.border_title = self.title_text
            yield Static(self.question, id="confirm-question", markup=False)
            if self.note:
                yield Static(self.note, id="confirm-note", markup=False)
            yield Static("[y/enter] yes   [n/escape] no", id="confirm-hint", markup=False)

    def action_choose(self, go: bool) -> None:
        self.dismiss(go)
