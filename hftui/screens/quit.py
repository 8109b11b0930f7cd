"""Quit confirmation: stop the engine too, leave it running, or cancel."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["QuitScreen", "left_alone_text"]


class QuitScreen(ModalScreen[str | None]):
    """Dismisses with "stop", "leave", or None (cancel).

    The default (enter) is what the situation suggests: stop an engine this TUI started,
    leave one it attached to. Both are always offered.
    """

    CSS_PATH = "quit.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s,y",
            "choose('stop')",
            "Stop engine",
            id="quit.stop",
            tooltip="Stop the engine and quit",
        ),
        Binding(
            "l,n",
            "choose('leave')",
            "Leave running",
            id="quit.leave",
            tooltip="Quit the TUI and leave the engine running",
        ),
        Binding(
            "enter",
            "default",
            "Default",
            id="quit.default",
            show=False,
            tooltip="The default choice (marked in the dialog)",
        ),
        Binding("escape", "choose('')", "Cancel", id="quit.cancel", tooltip="Back to the app"),
    ]

    def __init__(self, spawned: bool, engine_alive: bool = True, left_alone: str = "") -> None:
        """Ask how to quit.

        Args:
            spawned: this TUI started the engine, so stopping it is the default.
            engine_alive: False adds that the engine is not responding (stop then ends it
                for good; leave keeps whatever is left of it).
            left_alone: what the engine will do once left without its TUI (the dead-man
                policy, see `left_alone_text`); "" says nothing.
        """
        super().__init__()
        self.spawned = spawned
        self.engine_alive = engine_alive
        self.left_alone = left_alone

    def compose(self) -> ComposeResult:
        if self.spawned:
            question = "This TUI started the engine. Stop the engine too?"
            choices = "[s/y] stop engine and quit (default)   [l/n] leave it running"
        else:
            question = "The engine was running before this TUI. Leave it running?"
            choices = "[l/n] leave it running (default)   [s/y] stop engine and quit"
        if not self.engine_alive:
            question += "\nThe engine is not responding."
        with Vertical(id="quit-box"):
            yield Static(question, id="quit-question", markup=False)
            yield Static(choices, id="quit-choices", markup=False)
            if self.left_alone:  # wrapped to the choices' width, which sets the box's
                note = textwrap.fill(self.left_alone, max(40, len(choices)), break_on_hyphens=False)
                yield Static(note, id="quit-left-alone", markup=False)
            yield Static("enter takes the default, escape cancels", id="quit-hint")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)

    def action_default(self) -> None:
        self.dismiss("stop" if self.spawned else "leave")


def left_alone_text(cancel: bool, after_s: float, controls: bool) -> str:
    """What leaving the engine running means for a TUI in control of it: its dead-man's
    switch fires once this TUI's heartbeats stop. A watching TUI's leaving changes nothing."""
    if not controls:
        return ""
    if cancel:
        return (
            f"Left running, {after_s:g}s after this TUI quits the engine cancels every open "
            "order and drops to observe (dead-man policy cancel); `hftui attach` to come back."
        )
    return (
        "Left running, the engine keeps trading without a TUI (dead-man policy keep); "
        "`hftui attach` to come back."
    )
