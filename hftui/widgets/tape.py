"""The trade tape: newest trade first, coloured by the taker's side (Line API).

It repaints only when a trade arrives, the symbol changes, or the data turns stale.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip

from hftui.link import SymbolView, TradeRow
from hftui.widgets.lines import DrawnLines

__all__ = ["Tape"]

_TIME = 12  # HH:MM:SS.mmm


class Tape(DrawnLines):
    """Recent trades of one symbol."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tape--header",
        "tape--buy",
        "tape--sell",
        "tape--stale",
        "tape--message",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trades: tuple[TradeRow, ...] = ()
        self.stale = True
        self._widths = (5, 3)
        self._key: tuple[object, ...] = ()
        self.border_title = "trades"

    def show(self, view: SymbolView | None, stale: bool = False) -> None:
        """Draw the trades of `view`, greyed out if it (or the caller) says stale."""
        stale = stale or view is None or view.stale
        key = (view.symbol, view.trade_count) if view else None, stale
        if key == self._key:
            return
        self._key = key
        self.trades = view.trades if view is not None else ()
        self._widths = (
            (view.trade_price_width, view.trade_qty_width) if view is not None else (5, 3)
        )
        self.stale = stale
        self.set_borders(f"{view.symbol} trades" if view is not None else "trades")
        self.set_class(stale, "-stale")
        self.refresh()

    def draw_key(self) -> object:
        return (self.trades, self._widths, self.stale)

    def draw(self, width: int, height: int) -> list[Strip]:
        price, qty = self._widths
        # Full BUY/SELL where it fits, B/S on a narrow terminal.
        side = 4 if width >= _TIME + price + qty + 4 + 4 else 1
        text = f" {'time UTC':<{_TIME}} {'side' if side > 1 else '':<{side}} "
        text += f"{'price':>{price}} {'qty':>{qty}}"
        header = self.part_style("tape--header")
        lines = [Strip([Segment(text[:width].ljust(width), header)], width)]
        if not self.trades:
            style = self.part_style("tape--message")
            blank = Strip([Segment(" " * width, style)], width)
            lines += [blank] * (height - 1)
            if height > 2:
                note = "no trades yet".center(width)[:width].ljust(width)
                lines[2] = Strip([Segment(note, style)], width)
            return lines[:height]
        if self.stale:
            buy = sell = self.part_style("tape--stale")
        else:
            buy = self.part_style("tape--buy")
            sell = self.part_style("tape--sell")
        for trade in self.trades[: max(0, height - 1)]:
            text = f" {trade.time:<{_TIME}} {trade.side[:side]:<{side}} "
            text += f"{trade.price:>{price}} {trade.qty:>{qty}}"
            style = buy if trade.side == "BUY" else sell
            lines.append(Strip([Segment(text[:width].ljust(width), style)], width))
        blank = Strip.blank(width)
        lines += [blank] * (height - len(lines))
        return lines[:height]
