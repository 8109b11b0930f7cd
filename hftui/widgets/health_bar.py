"""One line of feed health: per-symbol feed state, rate, gaps, resyncs, bad frames."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hftui.link import EngineView
from hftui.protocol import FeedState

__all__ = ["HealthBar"]

_STATE_STYLE = {
    FeedState.LIVE: "green",
    FeedState.SYNCING: "yellow",
    FeedState.CONNECTING: "yellow",
    FeedState.STALE: "bold red",
    FeedState.DOWN: "bold red",
}


class HealthBar(Static):
    """Feed health of every symbol, and the engine's stream counters."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._plain = ""

    def show(self, view: EngineView | None) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if view is None:
            text.append(" no engine", style="bold red")
        elif not view.alive:
            # Whatever the feeds last said is no longer true: say so instead of repeating it.
            text.append(f" engine {view.status}: feed state unknown", style="bold red")
            if view.status != "stopping":
                text.append(" │ q quits; run hftui to start a new engine")
        else:
            for symbol in view.symbols:
                state = symbol.feed_state
                text.append(f" {symbol.symbol} ", style="bold")
                text.append(state.label, style=_STATE_STYLE[state])
            gaps = sum(s.gaps for s in view.symbols)
            resyncs = sum(s.resyncs for s in view.symbols)
            text.append(f" │ {view.msgs_per_s:.0f} msg/s │ gaps {gaps} resyncs {resyncs}")
            bad = f" │ bad {view.bad_frames}"
            text.append(bad, style="bold red" if view.bad_frames else "")
            text.append(f" │ reconnects {view.reconnects}")
        if text.plain == self._plain:
            return
        self._plain = text.plain
        self.update(text)
