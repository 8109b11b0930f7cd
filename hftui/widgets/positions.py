"""Positions and P&L: per symbol position, entry, mark and P&L, then today's totals.

Everything comes from the engine's snapshot in the current mode. The panel says how old
its data is (the engine's heartbeat) and greys out when the engine stops publishing: a P&L
that may be wrong must not look like one that is right. Columns fit the width: the least
important go first on a narrow terminal (see `fit_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from rich.segment import Segment
from textual.strip import Strip

from hftui.link import EngineView, SymbolView, age_text
from hftui.protocol import Mode
from hftui.widgets.lines import DrawnLines

__all__ = ["Column", "PositionsPanel", "fit_columns", "signed"]

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Column(Generic[Row]):
    """One table column: its heading, how a row shows in it, and how much it matters."""

    title: str
    text: Callable[[Row], str]
    importance: int  # the lowest goes first when the width runs out
    left: bool = False  # left-aligned (names); numbers align right


def fit_columns(
    columns: Sequence[Column[Row]], rows: Sequence[Row], width: int, gap: int = 2
) -> list[tuple[Column[Row], int]]:
    """The columns that fit `width` with their widths, in their original order.

    Each is as wide as its widest cell or its title; the least important are dropped until
    the rest fit, always keeping the most important one.
    """
    sized = [(c, max([len(c.title), *(len(c.text(r)) for r in rows)])) for c in columns]
    while len(sized) > 1 and sum(w for _, w in sized) + gap * (len(sized) - 1) + 1 > width:
        weakest = min(range(len(sized)), key=lambda k: sized[k][0].importance)
        del sized[weakest]
    return sized


def join_cells(cells: Sequence[tuple[str, int, bool]], gap: int = 2) -> str:
    """One line of cells `(text, width, left-aligned)`, a leading space, `gap` between."""
    parts = [text.ljust(width) if left else text.rjust(width) for text, width, left in cells]
    return " " + (" " * gap).join(parts)


def signed(value: float) -> str:
    """Money with its sign, to the cent: "+1.23", "-0.40", "0.00"."""
    text = f"{value:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


_COLUMNS: tuple[Column[SymbolView], ...] = (
    Column("symbol", lambda s: s.symbol, 9, left=True),
    Column("position", lambda s: s.position if s.position_units else "flat", 8),
    Column("entry", lambda s: s.entry, 5),
    Column("mark", lambda s: s.mark, 3),
    Column("unreal", lambda s: signed(s.unrealized), 7),
    Column("real", lambda s: signed(s.realized), 6),
    Column("fees", lambda s: f"{s.fees:.2f}", 2),
    Column("fund", lambda s: signed(s.funding), 1),
)


def _has_activity(symbol: SymbolView) -> bool:
    return bool(
        symbol.position_units
        or symbol.realized
        or symbol.unrealized
        or symbol.fees
        or symbol.funding
        or symbol.open_orders
    )


def _tone(symbol: SymbolView) -> str:
    # Green in profit, red at a loss, after fees and funding.
    net = symbol.unrealized + symbol.realized - symbol.fees + symbol.funding
    if net > 0:
        return "positions--up"
    if net < 0:
        return "positions--down"
    return "positions--row"


def _title(book: str, wallet: float | None, width: int) -> str:
    """The panel's title: the wallet in it (the totals line fills up first when narrow),
    shortened rather than cut through the number when the panel is narrow."""
    if wallet is None:
        return f"positions · {book}"
    figure = f"wallet {wallet:,.2f}"
    room = width - 6  # the corners and the title's padding
    for title in (f"positions · {book} · {figure}", f"{book} · {figure}"):
        if len(title) <= room:
            return title
    return f"positions · {book}"


class PositionsPanel(DrawnLines):
    """Positions and P&L of every symbol: the shown one first, then those with any."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "positions--header",
        "positions--row",
        "positions--up",
        "positions--down",
        "positions--total",
        "positions--stale",
        "positions--message",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: tuple[SymbolView, ...] = ()
        self.totals = (0.0, 0.0, 0.0, 0.0, 0.0)  # today, realized, unrealized, fees, funding
        self.message = "waiting for engine…"
        self.stale = True
        self._key: object = None
        self.border_title = "positions"

    def show(self, view: EngineView, selected: str | None) -> None:
        """Draw the positions of `view`; `selected` (the shown symbol) is listed first.

        Args:
            view: the engine's state this frame.
            selected: the symbol the ladder shows, or None before there is one.
        """
        stale = not view.alive
        # The shown symbol, then those with something in them, then the rest (as space allows).
        ordered = [s for s in view.symbols if s.symbol == selected]
        others = [s for s in view.symbols if s.symbol != selected]
        ordered += [s for s in others if _has_activity(s)]
        ordered += [s for s in others if not _has_activity(s)]
        rows = tuple(ordered)
        totals = (view.daily_pnl, view.realized, view.unrealized, view.fees, view.funding)
        # Paper figures are not the live account's: no live wallet beside them.
        wallet = None if view.mode is Mode.PAPER else view.wallet
        if not view.symbols:
            message = "waiting for engine…" if not view.alive else "connecting…"
        elif view.mode is Mode.OBSERVE and not any(map(_has_activity, view.symbols)):
            message = "no live positions"
        else:
            message = ""
        age = age_text(view.heartbeat_age_s)
        # Keyed by what the rows show, not by their blocks' sequence numbers: a book that
        # moves every frame leaves its position line as it was, and the panel unpainted.
        key = (
            tuple((tuple(c.text(s) for c in _COLUMNS), _tone(s)) for s in rows),
            totals,
            wallet,
            message,
            stale,
            age,
            view.mode,
            self.size.width,  # the title is fitted to it
        )
        if key == self._key:
            return
        self._key = key
        self.rows, self.totals, self.message, self.stale = rows, totals, message, stale
        # Observe trades nothing of its own: the engine shows the live account then.
        book = "live" if view.mode is Mode.OBSERVE else view.mode.label
        self.set_borders(
            _title(book, wallet, self.size.width), f"STALE {age}" if stale else f"age {age}"
        )
        self.set_class(stale, "-stale")
        self.refresh()

    def draw_key(self) -> object:
        return self._key

    def draw(self, width: int, height: int) -> list[Strip]:
        blank = Strip.blank(width, self.rich_style)
        if self.message or not self.rows:
            style = self.part_style("positions--stale" if self.stale else "positions--message")
            empty = Strip([Segment(" " * width, style)], width)
            lines = [empty] * height
            if height:
                note = self.message.center(width)[:width].ljust(width)
                lines[(height - 1) // 2] = Strip([Segment(note, style)], width)
        else:
            columns = fit_columns(_COLUMNS, self.rows, width)
            text = join_cells([(c.title, w, c.left) for c, w in columns])
            style = self.part_style("positions--stale" if self.stale else "positions--header")
            lines = [Strip([Segment(text[:width].ljust(width), style)], width)]
            for row in self.rows[: max(0, height - 2)]:
                text = join_cells([(c.text(row), w, c.left) for c, w in columns])
                name = "positions--stale" if self.stale else _tone(row)
                style = self.part_style(name)
                lines.append(Strip([Segment(text[:width].ljust(width), style)], width))
            lines += [blank] * (height - len(lines))
        if height >= 2:
            lines[height - 1] = self._totals(width)
        return lines[:height]

    def _totals(self, width: int) -> Strip:
        today, realized, unrealized, fees, funding = self.totals
        # Today's P&L first: on a narrow terminal it is the one figure that must show; the
        # others follow while whole ones fit, never cut through a number.
        text = f" today {signed(today)}"
        for piece in (
            f"real {signed(realized)}",
            f"unreal {signed(unrealized)}",
            f"fees {fees:.2f}",
            f"funding {signed(funding)}",
        ):
            if len(text) + 2 + len(piece) > width:
                break
            text += f"  {piece}"
        style = self.part_style("positions--stale" if self.stale else "positions--total")
        return Strip([Segment(text[:width].ljust(width), style)], width)
