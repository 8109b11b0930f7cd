"""Help: every key binding of the app, generated from the bindings themselves."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """A modal table of keys and what they do; `escape` or `?` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,question_mark",
            "dismiss_help",
            "Close",
            id="help.close",
            tooltip="Close the help",
        ),
    ]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.rows), default=4)
        lines = "\n".join(f"  {key:<{width}}  {text}" for key, text in self.rows)
        with Vertical(id="help-box"):
            yield Static("[b]hftui keys[/b]", id="help-title")
            yield Static(lines, id="help-body", markup=False)
            yield Static("escape or ? closes", id="help-hint")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
