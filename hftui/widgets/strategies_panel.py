"""The strategies on the dashboard: one row each, its state coloured, then its figures.

A compact view of the snapshot's strategies block (the `S` screen has all of it and the
keys): name, state (running, paused, failed), its own P&L, intents, open orders and fills,
and why it is paused or failed, as the width allows (see `fit_columns`). Like the other
panels it says how old its data is and greys out when the engine stops publishing.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.segment import Segment
from textual.strip import Strip

from hftui.link import EngineView, age_text
from hftui.protocol import StrategyFigures
from hftui.widgets.lines import DrawnLines
from hftui.widgets.positions import Column, fit_columns, signed

__all__ = ["StrategiesPanel", "strategy_net"]

_GAP: Final = 2
_STATE: Final = {
    "running": "strategies--running",
    "paused": "strategies--paused",
    "failed": "strategies--failed",
}


def strategy_net(row: StrategyFigures) -> float:
    """Its P&L net of fees, from its own fills (as the strategies screen shows it)."""
    return row.realized + row.unrealized - row.fees


_COLUMNS: Final[tuple[Column[StrategyFigures], ...]] = (
    Column("strategy", lambda r: r.name, 9, left=True),
    Column("state", lambda r: r.state, 8, left=True),
    Column("P&L", lambda r: signed(strategy_net(r)), 7),
    Column("intents", lambda r: str(r.intents), 5),
    Column("open", lambda r: str(r.open_orders), 4),
    Column("fills", lambda r: str(r.fills), 3),
    Column("why", lambda r: r.why or "-", 1, left=True),
)


class StrategiesPanel(DrawnLines):
    """The engine's strategies, one row each: the state in its colour, then the figures."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "strategies--header",
        "strategies--row",
        "strategies--running",
        "strategies--paused",
        "strategies--failed",
        "strategies--up",
        "strategies--down",
        "strategies--stale",
        "strategies--message",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: tuple[StrategyFigures, ...] = ()
        self.message = "waiting for engine…"
        self.stale = True
        self._key: object = None
        self.border_title = "strategies"

    def show(self, view: EngineView) -> None:
        """Draw the strategies of `view` (nothing is redrawn while they show the same)."""
        stale = not view.alive
        rows = view.strategies
        if rows:
            message = ""
        elif not view.alive and not view.symbols:
            message = "waiting for engine…"
        else:
            message = "no strategies enabled"
        age = age_text(view.heartbeat_age_s)
        key = (rows, message, stale, age)
        if key == self._key:
            return
        if len(rows) != len(self.rows) or self._key is None:
            # As tall as its rows (the stylesheet caps it): the alerts below keep the rest.
            self.styles.height = 2 + (1 + len(rows) if rows else 1)
        self._key = key
        self.rows, self.message, self.stale = rows, message, stale
        running = sum(r.state == "running" for r in rows)
        title = f"strategies {running}/{len(rows)} running" if rows else "strategies"
        self.set_borders(title, f"STALE {age}" if stale else f"age {age}")
        self.set_class(stale, "-stale")
        self.refresh()

    def draw_key(self) -> object:
        return self._key

    def draw(self, width: int, height: int) -> list[Strip]:
        if self.message or not self.rows:
            style = self.part_style("strategies--stale" if self.stale else "strategies--message")
            empty = Strip([Segment(" " * width, style)], width)
            lines = [empty] * height
            if height:
                note = self.message.center(width)[:width].ljust(width)
                lines[(height - 1) // 2] = Strip([Segment(note, style)], width)
            return lines
        columns = fit_columns(_COLUMNS, self.rows, width, _GAP)
        header = " " + (" " * _GAP).join(
            c.title.ljust(w) if c.left else c.title.rjust(w) for c, w in columns
        )
        style = self.part_style("strategies--stale" if self.stale else "strategies--header")
        lines = [Strip([Segment(header[:width].ljust(width), style)], width)]
        room = height - 1
        shown = self.rows if len(self.rows) <= room else self.rows[: max(0, room - 1)]
        for row in shown:
            lines.append(self._row(row, columns, width))
        if len(shown) < len(self.rows) and room > 0:
            more = f" +{len(self.rows) - len(shown)} more: S lists them all"
            style = self.part_style("strategies--stale" if self.stale else "strategies--message")
            lines.append(Strip([Segment(more[:width].ljust(width), style)], width))
        blank = Strip.blank(width, self.rich_style)
        lines += [blank] * (height - len(lines))
        return lines[:height]

    def _row(
        self, row: StrategyFigures, columns: list[tuple[Column[StrategyFigures], int]], width: int
    ) -> Strip:
        # The state and the P&L in their colours, the rest plain (all grey when stale).
        plain = self.part_style("strategies--stale" if self.stale else "strategies--row")
        net = strategy_net(row)
        segments: list[Segment] = [Segment(" ", plain)]
        for k, (column, w) in enumerate(columns):
            text = column.text(row)
            cell = text.ljust(w) if column.left else text.rjust(w)
            style = plain
            if not self.stale and column.title == "state":
                style = self.part_style(_STATE.get(row.state, "strategies--row"))
            elif not self.stale and column.title == "P&L" and net:
                style = self.part_style("strategies--up" if net > 0 else "strategies--down")
            if k:
                segments.append(Segment(" " * _GAP, plain))
            segments.append(Segment(cell, style))
        # Spaces before a cell end the segment before it (unseen: no background), so a
        # segment never starts with them: an SVG text run, as the snapshots are, drops them.
        for k in range(len(segments) - 1, 0, -1):
            segment = segments[k]
            text = segment.text
            body = text.lstrip(" ")
            if len(body) < len(text):
                before = segments[k - 1]
                segments[k - 1] = Segment(before.text + text[: len(text) - len(body)], before.style)
                if body:
                    segments[k] = Segment(body, segment.style)
                else:
                    del segments[k]
        length = sum(len(s.text) for s in segments)
        if length < width:
            segments.append(Segment(" " * (width - length), plain))
            return Strip(segments, width)
        return Strip(segments).crop(0, width)
