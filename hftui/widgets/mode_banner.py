"""The mode banner: the one line that must never be misread.

Full width, coloured by what matters most right now: the kill latch, then a dead engine,
then the trading mode (observe calm, paper and live in alarm colours). The words say the
same as the colours, so it reads on a terminal without colour too.
"""

from __future__ import annotations

from textual.widgets import Static

from hftui.link import EngineStatus, EngineView
from hftui.protocol import Mode

__all__ = ["ModeBanner"]

_MODE_CLASSES = ("-observe", "-paper", "-live", "-killed", "-down", "-waiting")
_MODE_CLASS = {Mode.OBSERVE: "-observe", Mode.PAPER: "-paper", Mode.LIVE: "-live"}


def banner_text(view: EngineView) -> tuple[str, str]:
    """The banner's text and its CSS class for `view`."""
    if view.status is EngineStatus.WAITING:
        return f" WAITING FOR ENGINE  │  pid {view.pid} ", "-waiting"
    mode = f"KILLED · {view.mode.name}" if view.killed else view.mode.name
    if view.alive:
        engine = f"engine {view.status} pid {view.pid}"
    else:
        engine = f"ENGINE {view.status.upper()} (pid {view.pid})"
    text = f" {mode}  │  {view.venue}  │  {engine} "
    if view.read_only:
        who = f"pid {view.controller_pid} controls" if view.controller_pid else "T takes control"
        text += f"│  READ-ONLY ({who}) "
    if view.killed:
        return text, "-killed"
    if not view.alive:
        return text, "-down"
    return text, _MODE_CLASS[view.mode]


class ModeBanner(Static):
    """Mode, kill latch, venue and engine state, full width, in the mode's colours."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._state = ("", "")

    def show(self, view: EngineView) -> None:
        state = banner_text(view)
        if state == self._state:
            return
        self._state = state
        text, mode_class = state
        self.remove_class(*_MODE_CLASSES)
        self.add_class(mode_class)
        self.update(text)

    @property
    def text(self) -> str:
        """What the banner says now."""
        return self._state[0]
