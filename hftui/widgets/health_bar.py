"""One line of feed health: per-symbol feed state, stream, rate, gaps, resyncs, bad frames,
and the tick-to-order of the recent strategy orders.

The line is made of pieces in order of importance; when the terminal is narrow the least
important go first (tick-to-order, then venue and engine, which the mode banner also shows),
and the per-symbol states fold into a count that still names every symbol that is not live.
"""

from __future__ import annotations

from typing import ClassVar, TypeAlias

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from hftui.link import EngineStatus, EngineView, age_text
from hftui.protocol import FeedState

__all__ = ["HealthBar"]

_SEPARATOR = " │ "

_STATE_CLASS = {
    FeedState.LIVE: "health-bar--ok",
    FeedState.SYNCING: "health-bar--warn",
    FeedState.CONNECTING: "health-bar--warn",
    FeedState.STALE: "health-bar--bad",
    FeedState.DOWN: "health-bar--bad",
}

# A piece: (importance, [(text, component class or "")]); the least important goes first.
_Piece: TypeAlias = tuple[int, list[tuple[str, str]]]


def _feeds(view: EngineView, compact: bool) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    if not compact:
        for k, symbol in enumerate(view.symbols):
            state = symbol.feed_state
            name = f" {symbol.symbol} " if k else f"{symbol.symbol} "
            parts += [(name, ""), (state.label, _STATE_CLASS[state])]
        return parts
    live = sum(s.feed_state is FeedState.LIVE for s in view.symbols)
    worst = "health-bar--ok" if live == len(view.symbols) else "health-bar--bad"
    parts.append((f"feeds {live}/{len(view.symbols)} live", worst))
    for symbol in view.symbols:
        if symbol.feed_state is not FeedState.LIVE:
            parts.append((f" {symbol.symbol} {symbol.feed_state.label}", worst))
    return parts


def _reconciled(view: EngineView) -> list[tuple[str, str]]:
    # The last check of orders and positions against the venue (live keys only).
    if view.reconciled_age_s is None:
        return []  # no venue account to check (observe without keys), or not yet
    text = f"reconciled {age_text(view.reconciled_age_s)} ago"
    if view.reconcile_mismatches:
        return [(f"{text}, {view.reconcile_mismatches} mismatch", "health-bar--bad")]
    return [(text, "")]


def _duration(ns: int) -> str:
    if ns < 1_000_000:
        return f"{ns / 1e3:.0f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e9:.1f}s"


def _tick_to_order(view: EngineView) -> list[tuple[str, str]]:
    # Frame received to strategy order handed over: median and p99 of the recent orders.
    if not view.t2o_p50_ns:
        return []  # no strategy has traded (paper or live) since the engine started
    return [(f"t2o {_duration(view.t2o_p50_ns)} p99 {_duration(view.t2o_p99_ns)}", "")]


def _pieces(view: EngineView | None, compact: bool) -> list[_Piece]:
    if view is None or view.status is EngineStatus.WAITING:
        return [(9, [("waiting for the engine's first snapshot", "health-bar--warn")])]
    if not view.alive:
        # Whatever the feeds last said is no longer true: say so instead of repeating it.
        pieces: list[_Piece] = [
            (9, [(f"engine {view.status}: feed state unknown", "health-bar--bad")])
        ]
        if view.status is not EngineStatus.STOPPING:
            pieces.append((1, [("E restarts or reattaches · q quits", "")]))
        return pieces
    if view.status is EngineStatus.STARTING or not view.symbols:
        return [
            (9, [(f"engine {view.status}: no feeds yet", "health-bar--warn")]),
            (2, [(view.venue, "")]),
        ]
    gaps = sum(s.gaps for s in view.symbols)
    resyncs = sum(s.resyncs for s in view.symbols)
    if view.ws_connected:
        stream = ("stream up", "health-bar--ok")
    else:
        stream = ("STREAM DOWN", "health-bar--bad")
    pieces = [
        (9, _feeds(view, compact)),
        (8, [stream]),
        (7, [(f"{view.msgs_per_s:.0f} msg/s", "")]),
        (6, [(f"gaps {gaps} resyncs {resyncs}", "health-bar--warn" if gaps else "")]),
        (5, [(f"bad {view.bad_frames}", "health-bar--bad" if view.bad_frames else "")]),
        (4, [(f"reconnects {view.reconnects}", "health-bar--warn" if view.reconnects else "")]),
        (5, _reconciled(view)),
        (3, [(f"engine {view.status} {view.uptime}".rstrip(), "")]),
        (2, [(view.venue, "")]),
        (1, _tick_to_order(view)),
    ]
    return [piece for piece in pieces if piece[1]]


def _length(pieces: list[_Piece]) -> int:
    text = sum(len(t) for _, parts in pieces for t, _ in parts)
    return 1 + text + len(_SEPARATOR) * (len(pieces) - 1)


def fit(view: EngineView | None, width: int) -> list[tuple[str, str]]:
    """The parts of the health line that fit `width` cells, most important kept.

    Returns:
        (text, component class) pairs in display order, separators included.
    """
    pieces = _pieces(view, compact=False)
    if _length(pieces) > width:
        pieces = _pieces(view, compact=True)
    while len(pieces) > 1 and _length(pieces) > width:
        pieces.remove(min(pieces, key=lambda piece: piece[0]))
    line: list[tuple[str, str]] = [(" ", "")]
    for k, (_, parts) in enumerate(pieces):
        if k:
            line.append((_SEPARATOR, "health-bar--separator"))
        line += parts
    return line


class HealthBar(Widget):
    """Feed health of every symbol, and the engine's stream counters."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "health-bar--ok",
        "health-bar--warn",
        "health-bar--bad",
        "health-bar--separator",
    }

    DEFAULT_CSS = """
    HealthBar { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: EngineView | None = None
        self._key: object = ()

    def show(self, view: EngineView | None) -> None:
        # Only what this line draws decides whether it repaints.
        key = (
            None
            if view is None
            else (
                view.status,
                view.venue,
                view.uptime,
                view.ws_connected,
                round(view.msgs_per_s),
                view.bad_frames,
                view.reconnects,
                tuple((s.symbol, s.feed_state, s.gaps, s.resyncs) for s in view.symbols),
                _tick_to_order(view),
            )
        )
        if key == self._key:
            return
        self._key = key
        self.view = view
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y:
            return Strip.blank(width)
        base = self.rich_style
        segments = [
            Segment(text, base + self.get_component_rich_style(cls) if cls else base)
            for text, cls in fit(self.view, width)
        ]
        return Strip(segments).extend_cell_length(width, base).crop(0, width)
