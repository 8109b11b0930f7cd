"""Help: every key binding of the app, generated from the bindings themselves."""

from __future__ import annotations

from typing import ClassVar, TypeAlias

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "HelpSection"]

# A heading and its (keys, what they do) rows.
HelpSection: TypeAlias = tuple[str, list[tuple[str, str]]]


class HelpScreen(ModalScreen[None]):
    """A modal table of keys and what they do; `escape` or `?` closes it."""

    CSS_PATH = "help.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,question_mark",
            "dismiss_help",
            "Close",
            id="help.close",
            tooltip="Close the help",
        ),
    ]

    def __init__(self, sections: list[HelpSection]) -> None:
        super().__init__()
        self.sections = sections

    @property
    def rows(self) -> list[tuple[str, str]]:
        """Every (keys, description) row, all sections together."""
        return [row for _, rows in self.sections for row in rows]

    def compose(self) -> ComposeResult:
        width = max((len(keys) for keys, _ in self.rows), default=4)
        body = Text(no_wrap=True, overflow="ellipsis")
        for n, (heading, rows) in enumerate(self.sections):
            body.append(("\n" if n else "") + heading + "\n", style="bold")
            for keys, text in rows:
                body.append(f"  {keys:<{width}}  {text}\n")
        body.rstrip()
        with VerticalScroll(id="help-box"):
            yield Static("hftui keys", id="help-title")
            yield Static(body, id="help-body")
            yield Static("escape or ? closes", id="help-hint")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
