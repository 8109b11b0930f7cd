"""The trade tape: newest trade first, coloured by the taker's side (Line API).

It repaints only when a trade arrives, the symbol changes, or the data turns stale.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from hftui.link import SymbolView, TradeRow

__all__ = ["Tape"]

_TIME = 12  # HH:MM:SS.mmm


class Tape(Widget):
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
        self.border_title = f"{view.symbol} trades" if view is not None else "trades"
        self.set_class(stale, "-stale")
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        price, qty = self._widths
        # Full BUY/SELL where it fits, B/S on a narrow terminal.
        side = 4 if width >= _TIME + price + qty + 4 + 4 else 1
        if y == 0:
            text = f" {'time UTC':<{_TIME}} {'side' if side > 1 else '':<{side}} "
            text += f"{'price':>{price}} {'qty':>{qty}}"
            style = self.get_component_rich_style("tape--header")
            return Strip([Segment(text[:width].ljust(width), style)], width)
        if not self.trades:
            style = self.get_component_rich_style("tape--message")
            line = "no trades yet".center(width) if y == 2 else ""
            return Strip([Segment(line[:width].ljust(width), style)], width)
        k = y - 1
        if k >= len(self.trades):
            return Strip.blank(width)
        trade = self.trades[k]
        text = f" {trade.time:<{_TIME}} {trade.side[:side]:<{side}} "
        text += f"{trade.price:>{price}} {trade.qty:>{qty}}"
        if self.stale:
            style = self.get_component_rich_style("tape--stale")
        else:
            style = self.get_component_rich_style(
                "tape--buy" if trade.side == "BUY" else "tape--sell"
            )
        return Strip([Segment(text[:width].ljust(width), style)], width)
