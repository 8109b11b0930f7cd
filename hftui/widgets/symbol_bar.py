"""The symbol selector line: every symbol with its number key, the selected one marked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

__all__ = ["SymbolBar"]


class SymbolBar(Static):
    """`1 BTCUSDT  2 ETHUSDT ...` with the selected symbol highlighted."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._state: tuple[tuple[str, ...], int] = ((), -1)

    def show(self, symbols: tuple[str, ...], selected: int) -> None:
        if (symbols, selected) == self._state:
            return
        self._state = (symbols, selected)
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, symbol in enumerate(symbols):
            label = f" {i + 1} {symbol} "
            text.append(label, style="reverse bold" if i == selected else "")
            text.append(" ")
        self.update(text)
