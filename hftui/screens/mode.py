"""Mode switch: observe, paper or live. Down is one key; live needs the typed word LIVE."""

from __future__ import annotations

from typing import ClassVar, Final

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from hftui.protocol import Mode, SetMode

__all__ = ["LIVE_WORD", "ModeScreen"]

LIVE_WORD: Final = "LIVE"  # what the engine expects in `SetMode.confirm` to go live

_WHAT: Final = {
    Mode.OBSERVE: "watch only: strategies run, nothing is sent",
    Mode.PAPER: "simulated orders against the live book",
    Mode.LIVE: "real orders on {venue}: l, type LIVE, enter",
}


class ModeScreen(ModalScreen[SetMode | None]):
    """Dismisses with the `SetMode` command to send, or None (cancel).

    The engine decides: it refuses a step up of more than one mode, live without keys or
    without the word LIVE, and any step up while killed. The dialog asks for the word
    itself too, so a stray key can never start live trading, and says at once when it can
    see that live would be refused.
    """

    CSS_PATH = "mode.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "o",
            "choose('observe')",
            "Observe",
            id="mode.observe",
            tooltip="Observe: instant, nothing is sent",
        ),
        Binding(
            "p",
            "choose('paper')",
            "Paper",
            id="mode.paper",
            tooltip="Paper: simulated orders",
        ),
        Binding(
            "l",
            "live",
            "Live",
            id="mode.live",
            tooltip="Live: then type LIVE and enter",
        ),
        Binding("escape", "cancel", "Cancel", id="mode.cancel", tooltip="Keep the mode"),
    ]

    def __init__(self, mode: Mode, *, killed: bool, has_keys: bool, venue: str) -> None:
        """Offer the modes.

        Args:
            mode: the engine's mode now.
            killed: the kill latch is set (the engine refuses every step up).
            has_keys: the engine says live is possible (keys, or the local demo account).
            venue: where live orders would go.
        """
        super().__init__()
        self.mode = mode
        self.killed = killed
        self.has_keys = has_keys
        self.venue = venue or "the venue"

    def compose(self) -> ComposeResult:
        keys = "found: live is possible" if self.has_keys else "none reported: live needs keys"
        with Vertical(id="mode-box") as box:
            box.border_title = "Trading mode"
            yield Static(
                f"Now {self.mode.name} on {self.venue}. API keys: {keys}.",
                id="mode-now",
                markup=False,
            )
            if self.killed:
                yield Static(
                    "KILLED: the engine refuses to go up until re-armed (R).",
                    id="mode-killed",
                    markup=False,
                )
            for mode in Mode:
                what = _WHAT[mode].format(venue=self.venue)
                now = "  ◀ now" if mode is self.mode else ""
                row = Static(
                    f"{mode.label[0]}  {mode.label:<8} {what}{now}",
                    id=f"mode-{mode.label}",
                    classes="mode-row",
                    markup=False,
                )
                row.set_class(mode is self.mode, "-current")
                yield row
            yield Input(
                placeholder="press l, then type LIVE and enter",
                id="mode-confirm",
                disabled=True,
                max_length=len(LIVE_WORD) + 8,
            )
            yield Static("", id="mode-error", markup=False)
            yield Static(
                "Down is instant; up goes one step at a time. escape cancels.",
                id="mode-hint",
                markup=False,
            )

    def action_choose(self, label: str) -> None:
        self.dismiss(SetMode(Mode[label.upper()]))

    def live_refusal(self) -> str:
        """Why the engine would refuse live from here, as far as this dialog knows ("" if
        it would not): said at once, before the trader types the word for nothing."""
        if self.killed:
            return "KILLED: re-arm (R) first; every step up is refused until then"
        if self.mode is Mode.OBSERVE:
            return "one step at a time: p for paper now, then m and l for live"
        if not self.has_keys:
            return "no API keys reported: add them (A) first"
        return ""

    def action_live(self) -> None:
        if self.mode is Mode.LIVE:
            self.dismiss(SetMode(Mode.LIVE))  # already live: the engine says so
            return
        why = self.live_refusal()
        if why:
            self.query_one("#mode-error", Static).update(why)
            return
        confirm = self.query_one("#mode-confirm", Input)
        confirm.disabled = False
        confirm.placeholder = "type LIVE and press enter (escape cancels)"
        confirm.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#mode-confirm")
    def go_live_if_confirmed(self, event: Input.Submitted) -> None:
        if event.value == LIVE_WORD:
            self.dismiss(SetMode(Mode.LIVE, confirm=LIVE_WORD))
            return
        self.query_one("#mode-error", Static).update(
            f"{event.value!r} is not {LIVE_WORD} (in capitals): not sent"
        )
        event.input.clear()
