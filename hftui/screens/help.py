"""Help: every key binding of the app, generated from the bindings themselves."""

from __future__ import annotations

from typing import ClassVar, TypeAlias

from rich.console import Group, RenderableType
from rich.table import Table
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
        keys = max((len(k) for k, _ in self.rows), default=4) + 2
        text = max((len(t) for _, t in self.rows), default=20)
        # A grid per section, the keys column equally wide in all: on a narrow terminal a
        # long description wraps under itself, beside its keys, instead of being cut.
        parts: list[RenderableType] = []
        for n, (heading, rows) in enumerate(self.sections):
            parts.append(Text(("\n" if n else "") + heading, style="bold"))
            grid = Table.grid(padding=(0, 2))
            grid.add_column(no_wrap=True, min_width=keys)
            grid.add_column(overflow="fold")
            for k, t in rows:
                grid.add_row(f"  {k}", t)
            parts.append(grid)
        with VerticalScroll(id="help-box") as box:
            # As wide as the longest row (and the padding, border and scrollbar around it);
            # the stylesheet's max-width keeps it on screen, and the rows wrap inside.
            box.styles.width = keys + 2 + text + 2 * 2 + 2 + 2
            yield Static("hftui keys", id="help-title")
            yield Static(Group(*parts), id="help-body")
            yield Static("escape or ? closes", id="help-hint")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
