"""The book ladder: asks above, the spread, bids below, with cumulative depth bars and, on
a wide ladder, each level's distance from the mid in ticks.

A Line API widget: each row is rendered on demand from a pre-formatted `SymbolView`, so a
repaint formats no numbers and builds no tables. It repaints only when the book, its
staleness, its age as shown, the engine note, the trader's own orders or the cursor change.

The first column marks the trader's own open orders at their price (B buy, S sell). Focused,
up/down (k/j) move a cursor over the levels: order entry starts at the price under it. The
cursor holds a price, not a row, so it stays on its level while the book moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.strip import Strip

from hftui.link import LadderLevel, SymbolView
from hftui.protocol import Side, format_units
from hftui.widgets.lines import DrawnLines

__all__ = ["Ladder", "depth_bar", "level_units", "mid_distances"]

_EIGHTHS = " ▏▎▍▌▋▊▉"
_GAP = 2  # spaces between columns
_MIN_BAR = 4  # below this the cumulative column makes way for the bar
_MARK = 3  # the cursor and own-order marker column, then a space
_DISTANCE_FROM = 60  # ladder width from which the distance column shows; it goes first
_DISTANCE_TITLE = "ticks"


def level_units(price: str, decimals: int) -> int:
    """A ladder price (as `format_units` wrote it) back in price units."""
    whole, _, frac = price.partition(".")
    sign = -1 if whole.startswith("-") else 1
    scale: int = 10**decimals
    return sign * (abs(int(whole)) * scale + int(frac.ljust(decimals, "0")[:decimals] or "0"))


def mid_distances(view: SymbolView, levels: list[LadderLevel]) -> list[str]:
    """Each level's distance from the mid in ticks ("0.5", "3"), "" without a two-sided book.

    Halves only when the mid sits between two ticks (an odd spread), so a column holds
    either whole ticks or all halves.
    """
    tick = max(1, view.tick_units)
    if view.bid_units < 0 or view.ask_units < 0:
        return [""] * len(levels)
    twice_mid = view.bid_units + view.ask_units  # in half units: no rounding
    half = twice_mid % (2 * tick) != 0
    out = []
    for level in levels:
        apart = abs(2 * level_units(level.price, view.price_decimals) - twice_mid)
        out.append(f"{apart / (2 * tick):.1f}" if half else str(apart // (2 * tick)))
    return out


def depth_bar(value: int, largest: int, width: int) -> str:
    """A bar of `width` cells filled in proportion value/largest, to eighths of a cell.

    Args:
        value: the quantity this row stands for.
        largest: the quantity that fills the whole width.
        width: cells available.

    Returns:
        Exactly `width` characters: full blocks, one partial block, then spaces.
    """
    if width <= 0 or largest <= 0:
        return " " * max(width, 0)
    eighths = min(width * 8, max(0, value) * width * 8 // largest)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    return bar.ljust(width)


class Ladder(DrawnLines, can_focus=True):
    """Price ladder of one symbol."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(1)", "Level up", show=False, tooltip="Ladder: cursor a level up"),
        Binding(
            "down,j", "move(-1)", "Level down", show=False, tooltip="Ladder: cursor a level down"
        ),
        Binding(
            "escape",
            "clear_cursor",
            "Clear level",
            show=False,
            tooltip="Ladder: drop the cursor (tickets start at the touch)",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ladder--cursor",
        "ladder--own",
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
        self.own: Mapping[int, Side] = {}  # price units -> side of the trader's open orders
        self.cursor: int | None = None  # price units of the level under the cursor
        self._key: tuple[object, ...] = ()
        self.border_title = "book"

    @property
    def cursor_price(self) -> str | None:
        """The price the cursor holds, or None without one. Kept when its level empties:
        the trader chose the price, not the depth there."""
        view = self.view
        if view is None or self.cursor is None:
            return None
        return format_units(self.cursor, view.price_decimals)

    def _prices(self, view: SymbolView) -> list[tuple[LadderLevel, int]]:
        # The levels on screen with their prices in units, highest first (asks, then bids).
        asks, bids = self._shown(view)
        levels = [*reversed(view.asks[:asks]), *view.bids[:bids]]
        return [(level, level_units(level.price, view.price_decimals)) for level in levels]

    def _shown(self, view: SymbolView) -> tuple[int, int]:
        # How many asks and bids fit: all rows but the header and the spread line.
        rows = max(0, self.size.height - 2)
        ask_rows = rows // 2
        return min(ask_rows, len(view.asks)), min(rows - ask_rows, len(view.bids))

    def action_move(self, step: int) -> None:
        """Move the cursor `step` levels up (positive) or down; start at the touch."""
        view = self.view
        if view is None or not (view.bids or view.asks):
            self.app.bell()
            return
        prices = [units for _, units in self._prices(view)]  # high to low
        if not prices:
            self.app.bell()
            return
        if self.cursor is None or self.cursor not in prices:
            best = view.ask_units if step > 0 else view.bid_units
            start = best if best >= 0 else prices[0]
            self.cursor = start if self.cursor is None else self._nearest(prices, self.cursor)
        else:
            k = prices.index(self.cursor) - step
            self.cursor = prices[max(0, min(len(prices) - 1, k))]
        self._key = ()
        self.refresh()

    @staticmethod
    def _nearest(prices: list[int], units: int) -> int:
        return min(prices, key=lambda p: abs(p - units))

    def action_clear_cursor(self) -> None:
        self.cursor = None
        self._key = ()
        self.refresh()

    def show(
        self, view: SymbolView | None, message: str = "", own: Mapping[int, Side] | None = None
    ) -> None:
        """Draw `view`; `message` says why there is no book, or why it is out of date.

        Args:
            view: the selected symbol, or None when there is none yet.
            message: shown instead of an empty ladder, or on the spread line of a book
                that can no longer be trusted (the engine is down); "" when all is well.
            own: the trader's open orders on this symbol: price units -> side.
        """
        stale = view is None or view.stale or bool(message)
        own = own or {}
        if view is not None and self.view is not None and view.symbol != self.view.symbol:
            self.cursor = None  # another symbol, another grid
        key = (
            (view.symbol, view.seq, view.age, view.synced) if view else None,
            stale,
            message,
            tuple(sorted(own.items())),
            self.cursor,
        )
        if key == self._key:
            return
        self._key = key
        self.view = view
        self.message = message
        self.own = own
        if view is None:
            self.set_borders("book", "")
        else:
            if not view.synced:
                state = "syncing"
            elif view.stale:
                state = f"STALE {view.age}"
            else:
                state = f"age {view.age}"
            self.set_borders(f"{view.symbol} book", f"id {view.last_update_id} · {state}")
        self.set_class(stale, "-stale")
        self.refresh()

    def _columns(self, view: SymbolView, width: int, distance: int) -> _Columns:
        # Columns as wide as the widest value; whatever is left draws the depth bar. Narrow,
        # the distance goes first (it is only on a ladder from 60 wide), then the cumulative.
        price, size, cum = view.price_width, view.qty_width, view.cum_width
        fixed = _MARK + price + _GAP + size + _GAP
        if width < _DISTANCE_FROM or width - fixed - cum - _GAP - distance - _GAP < _MIN_BAR:
            distance = 0
        after = distance + _GAP if distance else 0  # the distance sits right of the bar
        if width - fixed - cum - _GAP - after < _MIN_BAR:
            cum = 0
        used = fixed + (cum + _GAP if cum else 0) + after
        return price, size, cum, max(0, width - used - 1), distance

    def draw_key(self) -> object:
        return (self.view, self.message, self.own, self.cursor)

    def draw(self, width: int, height: int) -> list[Strip]:
        view = self.view
        if view is None or (not view.bids and not view.asks):
            text = self.message or ("syncing…" if view is not None and not view.synced else "")
            if view is not None and view.synced and not text:
                text = "empty book"
            style = self.part_style("ladder--message")
            blank = Strip([Segment(" " * width, style)], width)
            lines = [blank] * height
            if height:
                lines[height // 2] = Strip(
                    [Segment(text.center(width)[:width].ljust(width), style)], width
                )
            return lines
        stale = view.stale or bool(self.message)
        rows = max(0, height - 2)  # all but the header and the spread line
        spread_row = 1 + rows // 2
        shown_asks, shown_bids = self._shown(view)
        # The bars fill the width at the deepest level on screen, so they use it at any height.
        largest = max(
            view.asks[shown_asks - 1].cum_units if shown_asks else 0,
            view.bids[shown_bids - 1].cum_units if shown_bids else 0,
        )
        shown = [*view.asks[:shown_asks], *view.bids[:shown_bids]]
        distances: dict[str, str] = {}  # price -> ticks from the mid
        distance = 0
        if width >= _DISTANCE_FROM:
            prices = (level.price for level in shown)
            distances = dict(zip(prices, mid_distances(view, shown), strict=True))
            distance = max(len(_DISTANCE_TITLE), *map(len, distances.values()))
        columns = self._columns(view, width, distance)
        if not columns[4]:
            distances = {}
        lines = [self._header(columns, width)]
        paint = _Paint(self, stale)
        blank = Strip.blank(width)
        for y in range(1, height):
            if y < spread_row:
                rank = spread_row - 1 - y  # best ask sits just above the spread line
                level = view.asks[rank] if rank < shown_asks else None
                side = "ask"
            elif y == spread_row:
                lines.append(self._spread(view, width, stale))
                continue
            else:
                rank = y - spread_row - 1
                level = view.bids[rank] if rank < shown_bids else None
                side = "bid"
            if level is None:
                lines.append(blank)
            else:
                far = distances.get(level.price, "")
                lines.append(self._level(view, level, columns, width, largest, side, paint, far))
        return lines[:height]

    def _header(self, columns: _Columns, width: int) -> Strip:
        price, size, cum, bar, distance = columns
        gap = " " * _GAP
        text = f"{'':{_MARK}}{'price':>{price}}{gap}{'size':>{size}}{gap}"
        if cum:
            text += f"{'cum':>{cum}}{gap}"
        if distance:  # the bar's room is at least _MIN_BAR here, "depth" may be cut
            text += f"{'depth'[:bar]:<{bar}}{gap}{_DISTANCE_TITLE:>{distance}}"
        elif bar:
            text += "depth"
        style = self.part_style("ladder--header")
        return Strip([Segment(text[:width].ljust(width), style)], width)

    def _spread(self, view: SymbolView, width: int, stale: bool) -> Strip:
        if self.message:
            text = f" {self.message} · last mid {view.mid}"
        else:
            text = f" mid {view.mid}  spread {view.spread}"
        style = self.part_style("ladder--stale" if stale else "ladder--spread")
        return Strip([Segment(text[:width].ljust(width), style)], width)

    def _level(
        self,
        view: SymbolView,
        level: LadderLevel,
        columns: _Columns,
        width: int,
        largest: int,
        side: str,
        paint: _Paint,
        far: str = "",
    ) -> Strip:
        price, size, cum, bar, distance = columns
        gap = " " * _GAP
        # The price back in units only to match the cursor and own orders, when there are any.
        units = (
            level_units(level.price, view.price_decimals)
            if self.cursor is not None or self.own
            else None
        )
        here = units is not None and units == self.cursor
        mine = self.own.get(units) if units is not None else None
        marker = (">" if here else " ") + ("B" if mine is Side.BUY else "S" if mine else " ") + " "
        text = f"{level.price:>{price}}{gap}{level.qty:>{size}}{gap}"
        if cum:
            text += f"{level.cumulative:>{cum}}{gap}"
        style, bar_style, own_style = paint.sides[side]
        mark_style = own_style if mine else style
        if here:
            style, mark_style = style + paint.cursor, mark_style + paint.cursor
        segments = [Segment(marker, mark_style), Segment(text, style)]
        if bar:
            segments.append(Segment(depth_bar(level.cum_units, largest, bar), bar_style))
        if distance:
            segments.append(Segment(f"{gap}{far:>{distance}}", style))
        # Every character here is one cell wide (digits, the marks, block elements): the
        # length is known without measuring, and a row that fits is padded, not cropped.
        length = len(marker) + len(text) + bar + (_GAP + distance if distance else 0)
        if length <= width:
            if length < width:
                segments.append(Segment(" " * (width - length)))
            return Strip(segments, width)
        return Strip(segments).crop(0, width)


# Widths of the price, size, cumulative, depth bar and distance columns (0: not shown).
_Columns = tuple[int, int, int, int, int]


class _Paint:
    """The ladder's row styles for one drawing: looked up once, not once per row."""

    def __init__(self, ladder: Ladder, stale: bool) -> None:
        get = ladder.part_style
        own = get("ladder--own")
        self.cursor = get("ladder--cursor")
        self.sides: dict[str, tuple[Style, Style, Style]] = {}
        for side in ("ask", "bid"):
            style = get("ladder--stale" if stale else f"ladder--{side}")
            bar_style = get("ladder--stale" if stale else f"ladder--{side}-bar")
            self.sides[side] = (style, bar_style, style + own)
