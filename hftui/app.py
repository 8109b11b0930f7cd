"""The hftui Textual application: polls the engine link at a fixed rate and routes keys.

The app owns no trading state: everything it shows comes from `EngineLink.poll()`, once per
frame, whatever the feed rate. Trading keys become commands on the engine's command ring
(`CommandLink`); the engine's answers and alerts come back on its event ring, read once per
frame too, and are shown as notifications and on the dashboard's notice line.

The kill switch is a priority binding, so it works from every screen and dialog, even with
an input focused, and it never asks first. Everything else that trades asks once. `run()`
returns "stop" (stop the engine too) or "leave" (leave it running); None only if the app
ended without asking (a crash or a signal).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from hftui.link import CommandLink, EngineLink, EngineView, Notice
from hftui.protocol import (
    CancelAll,
    Command,
    Flatten,
    Kill,
    Mode,
    Rearm,
    ReloadRisk,
    SetMode,
    TakeControl,
)
from hftui.screens.confirm import ConfirmScreen
from hftui.screens.dashboard import DashboardScreen
from hftui.screens.help import HelpScreen, HelpSection
from hftui.screens.mode import ModeScreen
from hftui.screens.quit import QuitScreen

if TYPE_CHECKING:
    from hftui.remote import EngineControl

__all__ = ["HftuiApp"]

_TOASTS_PER_FRAME = 3
_HEARTBEAT_S = 0.5  # the engine's dead-man's switch waits several of these (dead_man_after_s)


class HftuiApp(App[str]):
    """Keyboard-first workstation over one engine."""

    CSS_PATH = "app.tcss"
    TITLE = "hftui"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            # Priority: checked before any screen or focused input, so no dialog can swallow
            # it (an Input binds ctrl+k to "delete to the end of the line").
            "ctrl+k",
            "kill",
            "Kill",
            id="app.kill",
            priority=True,
            tooltip="Kill now, from anywhere: observe, cancel all",
        ),
        Binding(
            "K",
            "kill_flatten_prompt",
            "Kill+flatten",
            id="app.kill_flatten",
            show=False,
            tooltip="Kill, then close every position (asks first)",
        ),
        Binding(
            "R",
            "rearm_prompt",
            "Re-arm",
            id="app.rearm",
            show=False,
            tooltip="Re-arm after a kill (asks first)",
        ),
        Binding("m", "mode_prompt", "Mode", id="app.mode", tooltip="Switch observe / paper / live"),
        Binding(
            "C",
            "cancel_all_prompt",
            "Cancel all",
            id="app.cancel_all",
            show=False,
            tooltip="Cancel every open order (asks first)",
        ),
        Binding(
            "F",
            "flatten_prompt",
            "Flatten",
            id="app.flatten",
            show=False,
            tooltip="Flatten the shown symbol (asks first)",
        ),
        Binding("q", "quit_prompt", "Quit", id="app.quit", tooltip="Quit (asks about the engine)"),
        Binding(
            # ctrl+q is Textual's own instant quit: here it asks too, so no key skips the question.
            "ctrl+c,ctrl+q",
            "quit_prompt",
            "Quit",
            id="app.quit_now",
            show=False,
            priority=True,
            tooltip="Quit from anywhere, even from a dialog",
        ),
        Binding(
            "T",
            "take_control",
            "Take control",
            id="app.take_control",
            show=False,
            tooltip="Watching: take control once the other TUI has gone",
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key binding"),
    ]

    # Trading actions other than the kill, which are dimmed while no engine can answer them.
    _NEEDS_ENGINE: ClassVar[frozenset[str]] = frozenset(
        {
            "kill_flatten_prompt",
            "rearm_prompt",
            "mode_prompt",
            "cancel_all_prompt",
            "flatten_prompt",
        }
    )

    # Refreshes the footer when the engine comes up or goes away (see `check_action`).
    engine_alive: reactive[bool] = reactive(False, bindings=True)

    def __init__(
        self,
        link: EngineLink,
        *,
        spawned: bool,
        refresh_hz: float = 10.0,
        symbols_hint: Sequence[str] = (),
        control: EngineControl | None = None,
    ) -> None:
        """Create the app over an attached engine link.

        Args:
            link: the engine's snapshot reader; the caller closes it after `run()`.
            spawned: True if this TUI started the engine (quitting then offers to stop it
                by default); False if it attached to a running one (default: leave it).
            refresh_hz: frames per second: the link is read and widgets redrawn this often.
            symbols_hint: configured symbols, listed until the engine publishes its own.
            control: the engine's command and event rings; the caller closes it after
                `run()`. None (an engine without rings): the TUI only watches, and
                trading keys say so.
        """
        super().__init__()
        self.link = link
        self.spawned = spawned
        self.refresh_hz = refresh_hz
        self.symbols_hint = tuple(symbols_hint)
        self.selected = 0
        self.view: EngineView = link.poll()
        self.commands = CommandLink(control, clock_ns=link.clock_ns)
        self.notice: Notice | None = None  # the last thing told, kept on the notice line
        self.dashboard = DashboardScreen()
        self.own_pid = os.getpid()
        # Claims control with every heartbeat until another TUI is seen in control; from
        # then on it watches until the trader takes control (T).
        self._claim = True

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)
        self.heartbeat()
        self.poll_engine()
        # A fixed redraw rate, whatever the feed rate: the link is read once per frame.
        self.set_interval(1.0 / self.refresh_hz, self.poll_engine)
        self.set_interval(_HEARTBEAT_S, self.heartbeat)

    def heartbeat(self) -> None:
        """Feed the engine's dead-man's switch."""
        self.commands.heartbeat(self._claim)

    def _judge_control(self, view: EngineView) -> EngineView:
        # Another TUI in control: this one watches, read-only, until taken over on purpose.
        if not self.commands.connected:
            return view
        if view.controller_pid not in (0, self.own_pid):
            self._claim = False
        if self._claim or view.controller_pid == self.own_pid:
            return view
        return dataclasses.replace(view, read_only=True)

    @property
    def read_only_text(self) -> str:
        """Why a trading key does nothing in a watching TUI."""
        pid = self.view.controller_pid
        if pid:
            return f"read-only: another TUI (pid {pid}) controls this engine"
        return "read-only: the TUI in control has gone; press T to take control"

    def poll_engine(self) -> None:
        self.view = self._judge_control(self.link.poll())
        self.engine_alive = self.view.alive
        notices = self.commands.poll()
        # A burst (an alert storm, a backlog after a stall) must not bury the screen in
        # notifications: the newest few are shown, the rest are counted.
        skipped = len(notices) - _TOASTS_PER_FRAME
        if skipped > 0:
            self.notify(
                f"{skipped} more engine events not shown; the engine log has them all",
                title="events",
                severity="warning",
                markup=False,
            )
            notices = notices[-_TOASTS_PER_FRAME:]
        for notice in notices:
            self.tell(notice)
        self._show()

    def _show(self) -> None:
        self.dashboard.show(self.view, self.selected, self.symbols_hint, self.notice)

    def _symbol_names(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.view.symbols) or self.symbols_hint

    def action_select_symbol(self, index: int) -> None:
        if 0 <= index < max(1, len(self._symbol_names())):
            self.selected = index
            self._show()
        else:
            self.bell()

    def action_next_symbol(self) -> None:
        self.action_select_symbol((self.selected + 1) % max(1, len(self._symbol_names())))

    def action_previous_symbol(self) -> None:
        self.action_select_symbol((self.selected - 1) % max(1, len(self._symbol_names())))

    # ---- trading --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A command to an engine that is down or not there yet would sit unanswered in the
        # ring: dim those keys (the banner says why). The kill is never held back: an engine
        # that has only stalled still reads it when it wakes.
        if action in self._NEEDS_ENGINE and not self.engine_alive:
            return None
        return True

    def tell(self, notice: Notice) -> None:
        """Show `notice` on the notice line and, unless it only says "sent" or will be said
        again, as a notification."""
        self.notice = notice
        self._show()
        if notice.pending or not notice.toast:
            return
        if notice.severity == "error":
            self.bell()
        # A refusal stays up longer: it is the one the trader must not miss.
        timeout = 10.0 if notice.severity == "error" else None
        self.notify(
            notice.text,
            title=notice.title,
            severity=notice.severity,
            timeout=timeout,
            markup=False,
        )

    def send(self, command: Command, title: str) -> None:
        """Send `command` to the engine, and tell the trader it went or why it did not."""
        self.tell(self.commands.send(command, title))

    def _confirm(self, screen: ConfirmScreen, command: Command, title: str) -> None:
        def chosen(go: bool | None) -> None:
            if go:
                self.send(command, title)

        self.push_screen(screen, chosen)

    def _watch_only(self, title: str) -> bool:
        # Say at once, before any dialog, that nothing can be sent.
        if self.view.read_only:
            self.tell(self.commands.notice("error", title, self.read_only_text))
            return True
        if self.commands.connected:
            return False
        self.tell(self.commands.unconnected(title))
        return True

    def action_take_control(self) -> None:
        if not self.view.read_only:
            text = "this TUI controls the engine" if self.commands.connected else "no engine"
            self.tell(self.commands.notice("information", "take control", text))
            return
        self._claim = True  # refused while the other TUI lives: the next frame says so again
        self.send(TakeControl(), "take control")

    def action_kill(self) -> None:
        self.send(Kill(flatten=False), "kill")
        if self.commands.connected and not self.view.alive:
            # Sent all the same (an engine that only stalled reads it when it wakes), but the
            # trader must know it may never be read, and what still protects live orders.
            text = (
                "engine not responding: the kill waits in its command ring. Live orders are "
                "cancelled by the venue's dead-man's switch; or run `hftui kill` once an "
                "engine is back"
            )
            self.tell(self.commands.notice("error", "kill", text))

    def action_kill_flatten_prompt(self) -> None:
        if self._watch_only("kill + flatten"):
            return
        screen = ConfirmScreen(
            "Kill and flatten",
            "Kill switch, then close every position with reduce-only market orders?",
            note="ctrl+k kills now without flattening.",
        )
        self._confirm(screen, Kill(flatten=True), "kill + flatten")

    def action_rearm_prompt(self) -> None:
        if self._watch_only("re-arm"):
            return
        if not self.view.killed:
            self.tell(self.commands.notice("warning", "re-arm", "not killed: nothing to re-arm"))
            self.bell()
            return
        view = self.view
        why = " at ".join(part for part in (view.kill_reason, view.killed_at) if part)
        screen = ConfirmScreen(
            "Re-arm",
            "Re-arm the kill switch? The engine stays in observe;\n"
            "trading resumes only when you switch mode (m).",
            note=f"Killed: {why}" if why else "",
        )
        self._confirm(screen, Rearm(), "re-arm")

    def action_mode_prompt(self) -> None:
        if self._watch_only("mode"):
            return
        view = self.view

        def chosen(command: SetMode | None) -> None:
            if command is not None:
                self.send(command, f"mode {command.mode.label}")

        screen = ModeScreen(view.mode, killed=view.killed, has_keys=view.has_keys, venue=view.venue)
        self.push_screen(screen, chosen)

    def action_reload_risk(self) -> None:
        if not self._watch_only("reload risk"):
            self.send(ReloadRisk(), "reload risk")

    def action_cancel_all_prompt(self) -> None:
        if self._watch_only("cancel all"):
            return
        screen = ConfirmScreen(
            "Cancel all",
            "Cancel every open order, on every symbol?",
            note=f"{self.view.open_orders} open now, in {self.view.mode.label}.",
        )
        self._confirm(screen, CancelAll(""), "cancel all")

    def action_flatten_prompt(self) -> None:
        names = self._symbol_names()
        if self._watch_only("flatten") or not names:
            return
        symbol = names[min(self.selected, len(names) - 1)]
        mode = self.view.mode
        screen = ConfirmScreen(
            f"Flatten {symbol}",
            f"Cancel {symbol}'s orders and close its {mode.label} position\n"
            "with a reduce-only market order?",
            # Said before asking, so the engine's "no position" answer is no surprise.
            note="Observe holds no position: the engine will say so."
            if mode is Mode.OBSERVE
            else "",
        )
        self._confirm(screen, Flatten(symbol), f"flatten {symbol}")

    # ---- screens --------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[HelpSection]:
        """Every key binding, by where it works, as the help screen lists them."""
        dashboard = _rows([*DashboardScreen.BINDINGS, *self.BINDINGS], self)
        dashboard.append(("1 … 8", "Show symbol N, as numbered in the symbol bar"))
        palette = self.get_key_display(Binding("ctrl+p", ""))
        dashboard.append((palette, "Command palette: actions and symbols by name"))
        return [
            ("Dashboard", dashboard),
            ("Mode dialog", _rows(ModeScreen.BINDINGS, self)),
            ("Confirmations", _rows(ConfirmScreen.BINDINGS, self)),
            ("Quit dialog", _rows(QuitScreen.BINDINGS, self)),
            ("This help", _rows(HelpScreen.BINDINGS, self)),
        ]

    def action_quit_prompt(self) -> None:
        if isinstance(self.screen, QuitScreen):
            return

        def chosen(choice: str | None) -> None:
            if choice is not None:
                self.exit(choice)

        self.push_screen(QuitScreen(self.spawned, engine_alive=self.view.alive), chosen)

    async def action_quit(self) -> None:
        # Textual's own quit (command palette) must ask about the engine like every other.
        self.action_quit_prompt()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        trading: list[tuple[str, str, Callable[[], object]]] = [
            ("Kill", "Kill switch now: observe, cancel every order, latch", self.action_kill),
            (
                "Kill and flatten",
                "Kill switch, then close every position at market (asks first)",
                self.action_kill_flatten_prompt,
            ),
            ("Re-arm", "Re-arm after a kill (asks first)", self.action_rearm_prompt),
            ("Mode", "Switch observe / paper / live", self.action_mode_prompt),
            (
                "Take control",
                "Watching: take control of the engine once the controlling TUI has gone",
                self.action_take_control,
            ),
            ("Cancel all", "Cancel every open order (asks first)", self.action_cancel_all_prompt),
            (
                "Reload risk limits",
                "Put the config file's [risk] limits in force now (a bad file changes nothing)",
                self.action_reload_risk,
            ),
            (
                "Flatten",
                "Close the shown symbol's position (asks first)",
                self.action_flatten_prompt,
            ),
        ]
        for title, help_text, callback in trading:
            yield SystemCommand(title, help_text, callback)
        yield SystemCommand("Quit", "Quit hftui (asks about the engine)", self.action_quit_prompt)
        yield SystemCommand("Help", "Every key binding", self.action_help)
        yield SystemCommand("Next symbol", "Show the next symbol", self.action_next_symbol)
        yield SystemCommand(
            "Previous symbol", "Show the previous symbol", self.action_previous_symbol
        )
        for index, name in enumerate(self._symbol_names()):
            yield SystemCommand(
                f"Show {name}",
                f"Book and trades of {name} (key {index + 1})",
                partial(self.action_select_symbol, index),
            )
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def _rows(bindings: Iterable[BindingType], app: App[str]) -> list[tuple[str, str]]:
    # One help row per binding: its keys as the footer shows them, and its tooltip.
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding) or binding.action.startswith("app.select_symbol"):
            continue
        keys = ", ".join(app.get_key_display(Binding(k, "")) for k in binding.key.split(","))
        rows.append((keys, binding.tooltip or binding.description))
    return rows
