"""The trade tape: newest trade first, coloured by the taker's side (Line API)."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from hftui.link import SymbolView, TradeRow

__all__ = ["Tape"]


class Tape(Widget):
    """Recent trades of one symbol."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tape--header",
        "tape--buy",
        "tape--sell",
        "tape--stale",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trades: tuple[TradeRow, ...] = ()
        self.stale = True
        self.border_title = "trades"

    def show(self, view: SymbolView | None) -> None:
        trades = view.trades if view is not None else ()
        stale = view is None or view.stale
        if trades == self.trades and stale == self.stale:
            return
        self.trades = trades
        self.stale = stale
        self.set_class(stale, "-stale")
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        wide = width >= 40  # narrow terminals get B/S instead of BUY/SELL
        side_width = 4 if wide else 1
        if y == 0:
            text = (
                f"{'time UTC':<12} {'side' if wide else '':<{side_width}} {'price':>10} {'qty':>8}"
            )
            style = self.get_component_rich_style("tape--header")
            return Strip([Segment(text[:width].ljust(width), style)], width)
        k = y - 1
        if k >= len(self.trades):
            return Strip.blank(width)
        trade = self.trades[k]
        side = trade.side if wide else trade.side[0]
        text = f"{trade.time:<12} {side:<{side_width}} {trade.price:>10} {trade.qty:>8}"
        if self.stale:
            style = self.get_component_rich_style("tape--stale")
        else:
            style = self.get_component_rich_style(
                "tape--buy" if trade.side == "BUY" else "tape--sell"
            )
        return Strip([Segment(text[:width].ljust(width), style)], width)
