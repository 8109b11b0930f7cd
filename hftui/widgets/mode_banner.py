"""The mode banner: the one line that must never be misread."""

from __future__ import annotations

from textual.widgets import Static

from hftui.link import EngineView
from hftui.protocol import Mode

__all__ = ["ModeBanner"]

_MODE_CLASSES = ("-observe", "-paper", "-live", "-killed", "-down")


class ModeBanner(Static):
    """Mode, kill latch, venue and engine state, full width, in the mode's colours."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._text = ""

    def show(self, view: EngineView | None) -> None:
        if view is None:
            text, mode_class = " WAITING FOR ENGINE ", "-down"
        else:
            mode = view.mode.name
            if view.killed:
                mode = f"KILLED · {mode}"
            engine = f"engine {view.status} pid {view.pid}"
            if not view.alive:
                engine = f"ENGINE {view.status.upper()}"
            text = f" {mode}  │  {view.venue}  │  {engine} "
            if view.killed:
                mode_class = "-killed"
            elif not view.alive:
                mode_class = "-down"
            else:
                mode_class = {Mode.OBSERVE: "-observe", Mode.PAPER: "-paper"}.get(
                    view.mode, "-live"
                )
        if text == self._text and self.has_class(mode_class):
            return
        self._text = text
        self.remove_class(*_MODE_CLASSES)
        self.add_class(mode_class)
        self.update(text)
