"""The book ladder: asks above, the spread, bids below, with cumulative depth bars.

A Line API widget: each row is rendered on demand from a pre-formatted `SymbolView`, so a
repaint formats no numbers and builds no tables.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from hftui.link import LadderLevel, SymbolView

__all__ = ["Ladder", "depth_bar"]

_EIGHTHS = " ▏▎▍▌▋▊▉"


def depth_bar(value: int, largest: int, width: int) -> str:
    """A bar of `width` cells filled in proportion value/largest, to eighths of a cell."""
    if width <= 0 or largest <= 0:
        return " " * max(width, 0)
    eighths = min(width * 8, value * width * 8 // largest)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    return bar.ljust(width)


class Ladder(Widget, can_focus=True):
    """Price ladder of one symbol."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ladder--header",
        "ladder--bid",
        "ladder--ask",
        "ladder--bid-bar",
        "ladder--ask-bar",
        "ladder--spread",
        "ladder--stale",
        "ladder--message",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: SymbolView | None = None
        self.message = "waiting for engine…"

    def show(self, view: SymbolView | None, message: str = "") -> None:
        """Draw `view`, or `message` when there is nothing to draw."""
        if view is self.view and message == self.message:
            return
        self.view = view
        self.message = message
        if view is None:
            self.border_title = "book"
            self.border_subtitle = ""
        else:
            age = "-" if view.age_s is None else f"{view.age_s:.1f}s"
            self.border_title = f"{view.symbol} book"
            self.border_subtitle = f"id {view.last_update_id} · age {age}"
        self.set_class(view is not None and view.stale, "-stale")
        self.refresh()

    def _columns(self, width: int) -> tuple[int, int, int, int]:
        price, size, cum = 11, 10, 11
        bar = max(0, width - price - size - cum - 3)
        return price, size, cum, bar

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        height = self.size.height
        view = self.view
        if view is None or (not view.bids and not view.asks):
            text = self.message if view is None else "syncing…"
            style = self.get_component_rich_style("ladder--message")
            line = text.center(width) if y == height // 2 else ""
            return Strip([Segment(line.ljust(width), style)], width)
        stale = view.stale
        if y == 0:
            return self._header(width)
        rows = height - 2  # header and spread line
        ask_rows = rows // 2
        spread_row = 1 + ask_rows
        largest = max(
            view.bids[-1].cum_units if view.bids else 0,
            view.asks[-1].cum_units if view.asks else 0,
        )
        if y < spread_row:
            rank = spread_row - 1 - y  # best ask sits just above the spread line
            level = view.asks[rank] if rank < len(view.asks) else None
            return self._level(level, width, largest, "ask", stale)
        if y == spread_row:
            style = self.get_component_rich_style("ladder--stale" if stale else "ladder--spread")
            text = f" mid {view.mid}  spread {view.spread}"
            return Strip([Segment(text[:width].ljust(width), style)], width)
        rank = y - spread_row - 1
        level = view.bids[rank] if rank < len(view.bids) else None
        return self._level(level, width, largest, "bid", stale)

    def _header(self, width: int) -> Strip:
        price, size, cum, _ = self._columns(width)
        text = f"{'price':>{price}} {'size':>{size}} {'cum':>{cum}} depth"
        style = self.get_component_rich_style("ladder--header")
        return Strip([Segment(text[:width].ljust(width), style)], width)

    def _level(
        self, level: LadderLevel | None, width: int, largest: int, side: str, stale: bool
    ) -> Strip:
        if level is None:
            return Strip.blank(width)
        price, size, cum, bar = self._columns(width)
        text = f"{level.price:>{price}} {level.qty:>{size}} {level.cumulative:>{cum}} "
        style: Style = self.get_component_rich_style(
            "ladder--stale" if stale else f"ladder--{side}"
        )
        bar_style: Style = self.get_component_rich_style(
            "ladder--stale" if stale else f"ladder--{side}-bar"
        )
        segments = [
            Segment(text[:width], style),
            Segment(depth_bar(level.cum_units, largest, bar), bar_style),
        ]
        return Strip(segments).extend_cell_length(width).crop(0, width)
