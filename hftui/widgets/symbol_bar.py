"""The symbol selector line: every symbol with its number key, the selected one marked."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

__all__ = ["SymbolBar"]


class SymbolBar(Widget):
    """`1 BTCUSDT  2 ETHUSDT ...` with the selected symbol highlighted."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"symbol-bar--selected"}

    DEFAULT_CSS = """
    SymbolBar { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.symbols: tuple[str, ...] = ()
        self.selected = -1

    def show(self, symbols: tuple[str, ...], selected: int) -> None:
        if (symbols, selected) == (self.symbols, self.selected):
            return
        self.symbols, self.selected = symbols, selected
        self.refresh()

    def render(self) -> Text:
        chosen = self.get_component_rich_style("symbol-bar--selected", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, symbol in enumerate(self.symbols):
            text.append(f" {i + 1} {symbol} ", style=chosen if i == self.selected else "")
            text.append(" ")
        return text
