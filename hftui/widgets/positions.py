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
from textual.widget import Widget

from hftui.link import EngineView, SymbolView, age_text
from hftui.protocol import Mode

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


class PositionsPanel(Widget):
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
        if not view.symbols:
            message = "waiting for engine…" if not view.alive else "connecting…"
        elif view.mode is Mode.OBSERVE and not any(map(_has_activity, view.symbols)):
            message = "no live positions"
        else:
            message = ""
        age = age_text(view.heartbeat_age_s)
        key = (
            tuple((s.symbol, s.seq) for s in rows),
            totals,
            message,
            stale,
            age,
            view.mode,
        )
        if key == self._key:
            return
        self._key = key
        self.rows, self.totals, self.message, self.stale = rows, totals, message, stale
        # Observe trades nothing of its own: the engine shows the live account then.
        book = "live" if view.mode is Mode.OBSERVE else view.mode.label
        self.border_title = f"positions · {book}"
        self.border_subtitle = f"STALE {age}" if stale else f"age {age}"
        self.set_class(stale, "-stale")
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        if y == height - 1 and height >= 2:
            return self._totals(width)
        if self.message or not self.rows:
            style = self.get_component_rich_style(
                "positions--stale" if self.stale else "positions--message"
            )
            line = self.message.center(width) if y == (height - 1) // 2 else ""
            return Strip([Segment(line[:width].ljust(width), style)], width)
        columns = fit_columns(_COLUMNS, self.rows, width)
        if y == 0:
            text = join_cells([(c.title, w, c.left) for c, w in columns])
            style = self.get_component_rich_style(
                "positions--stale" if self.stale else "positions--header"
            )
            return Strip([Segment(text[:width].ljust(width), style)], width)
        k = y - 1
        if k >= len(self.rows) or y >= height - 1:
            return Strip.blank(width, self.rich_style)
        row = self.rows[k]
        text = join_cells([(c.text(row), w, c.left) for c, w in columns])
        net = row.unrealized + row.realized - row.fees + row.funding
        if net > 0:
            name = "positions--up"
        elif net < 0:
            name = "positions--down"
        else:
            name = "positions--row"
        style = self.get_component_rich_style("positions--stale" if self.stale else name)
        return Strip([Segment(text[:width].ljust(width), style)], width)

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
        style = self.get_component_rich_style(
            "positions--stale" if self.stale else "positions--total"
        )
        return Strip([Segment(text[:width].ljust(width), style)], width)
