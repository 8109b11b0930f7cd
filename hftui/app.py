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
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from hftui.heap import freeze_startup_heap
from hftui.instance import find_running, pid_alive
from hftui.link import CommandLink, EngineLink, EngineStatus, EngineView, Notice
from hftui.paths import data_dir, journal_file
from hftui.protocol import (
    CancelAll,
    CancelOrder,
    Command,
    Flatten,
    Kill,
    Mode,
    PlaceOrder,
    Rearm,
    ReloadRisk,
    SetMode,
    Side,
    TakeControl,
)
from hftui.screens.backtest import BacktestScreen
from hftui.screens.confirm import ConfirmScreen
from hftui.screens.dashboard import DashboardScreen
from hftui.screens.engine_lost import EngineLostScreen
from hftui.screens.help import HelpScreen, HelpSection
from hftui.screens.journal import JournalScreen
from hftui.screens.keys import KeysScreen
from hftui.screens.mode import ModeScreen
from hftui.screens.order_entry import OrderEntryScreen
from hftui.screens.quit import QuitScreen, left_alone_text
from hftui.screens.strategies import StrategiesScreen
from hftui.widgets.alerts import AlertsPanel
from hftui.widgets.ladder import Ladder
from hftui.widgets.orders import OrdersPanel

if TYPE_CHECKING:
    from hftui.remote import EngineControl

__all__ = ["HftuiApp"]

_TOASTS_PER_FRAME = 3
_ANSWER_HOLD_S = 5.0  # an answer on the notice line is not replaced by routine alerts sooner
_LOST_AFTER_S = 2.0  # an engine gone this long is offered a restart (a restart may be under way)
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
        Binding(
            "E",
            "engine_lost",
            "Engine lost",
            id="app.engine_lost",
            show=False,
            tooltip="Engine lost: ask again to restart or reattach (after keep watching)",
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key binding"),
        Binding(
            "A",
            "keys_screen",
            "API keys",
            id="app.keys",
            show=False,
            tooltip="API keys: store, test, delete (OS keyring)",
        ),
        Binding(
            "J",
            "journal_screen",
            "Journal",
            id="app.journal",
            show=False,
            tooltip="Journal: orders and fills, newest first, filtered",
        ),
        Binding(
            "B",
            "backtest_screen",
            "Backtests",
            id="app.backtests",
            show=False,
            tooltip="Backtest reports: summary and equity of each saved run",
        ),
        Binding(
            "S",
            "strategies_screen",
            "Strategies",
            id="app.strategies",
            show=False,
            tooltip="Strategies: state and figures; pause, resume, reload, edit parameters",
        ),
    ]

    # Trading actions other than the kill, which are dimmed while no engine can answer them.
    _NEEDS_ENGINE: ClassVar[frozenset[str]] = frozenset(
        {
            "kill_flatten_prompt",
            "rearm_prompt",
            "mode_prompt",
            "cancel_all_prompt",
            "flatten_prompt",
            "order_ticket",
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
        instance: str = "default",
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
            instance: the engine instance (its journal, and the engine to reattach to).
        """
        super().__init__()
        self.link = link
        self.instance = control.info.instance if control is not None else instance
        self.spawned = spawned
        self._lost_since: float | None = None  # when the engine was first seen gone
        self._lost_offered = False  # the engine-lost dialog was shown for this loss
        self.refresh_hz = refresh_hz
        self.symbols_hint = tuple(symbols_hint)
        self.selected = 0
        self.view: EngineView = link.poll()
        self.commands = CommandLink(control, clock_ns=link.clock_ns)
        self.notice: Notice | None = None  # the last thing told, kept on the notice line
        self._notice_at = 0.0  # when it was put there (monotonic)
        self.dashboard = DashboardScreen()
        self.own_pid = os.getpid()
        # Claims control with every heartbeat until another TUI is seen in control; from
        # then on it watches until the trader takes control (T).
        self._claim = True
        self.last_qty: dict[str, str] = {}  # per symbol: the ticket starts with the last one

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)
        self.heartbeat()
        self.poll_engine()
        # A fixed redraw rate, whatever the feed rate: the link is read once per frame.
        self.set_interval(1.0 / self.refresh_hz, self.poll_engine)
        self.set_interval(_HEARTBEAT_S, self.heartbeat)
        if not self.is_headless:
            # Once the dashboard is up: the widgets, styles and modules live as long as the
            # app, and a full collection walking them would stall a frame.
            self.call_after_refresh(freeze_startup_heap)

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
        if not self.screen_stack:
            return  # the app is closing: a tick that fires after the last screen went has no view
        self.view = self._judge_control(self.link.poll())
        self.engine_alive = self.view.alive
        notices = self.commands.poll()
        # Every alert goes to the alerts panel, also those a burst keeps from the toasts.
        self.dashboard.alerts.record(notices)
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
        if isinstance(self.screen, OrderEntryScreen):
            self._follow_ticket(self.screen)
        self._watch_engine()

    def _follow_ticket(self, ticket: OrderEntryScreen) -> None:
        # An open ticket judges against the live book top and position, not those of the
        # moment it opened: a price that was passive then may cross now.
        ticket.follow_mode(self.view.mode)
        for symbol in self.view.symbols:
            if symbol.symbol == ticket.symbol.symbol:
                ticket.follow(symbol)
                return

    def _watch_engine(self) -> None:
        # An engine that stopped, or went silent and whose process is gone, is lost: offer
        # to restart it or to reattach (once per loss, after a moment).
        now = time.monotonic()
        if not self._engine_gone():
            self._lost_since, self._lost_offered = None, False
            return
        if self._lost_since is None:
            self._lost_since = now
        if not self._lost_offered and now - self._lost_since >= _LOST_AFTER_S:
            self._ask_about_loss()

    def _ask_about_loss(self) -> None:
        if isinstance(self.screen, EngineLostScreen | QuitScreen):
            return  # already asked, or the trader is leaving
        # Over any other dialog too: with the engine gone, nothing it would send can go.
        self._lost_offered = True
        other = find_running(self.instance)
        elsewhere = other is not None and other.pid != self.link.engine_pid
        ended = "stopped" if self.view.status is EngineStatus.STOPPED else "died"
        why = f"the engine (pid {self.link.engine_pid}) {ended}"

        def chosen(choice: str | None) -> None:
            if choice in ("restart", "reattach"):
                self.exit(choice)
            elif choice == "quit":
                self.exit("leave")

        self.push_screen(EngineLostScreen(why, elsewhere), chosen)

    def _engine_gone(self) -> bool:
        """The engine stopped, or went silent and its process is gone."""
        status = self.view.status
        return status is EngineStatus.STOPPED or (
            status is EngineStatus.NOT_RESPONDING and not pid_alive(self.link.engine_pid)
        )

    def action_engine_lost(self) -> None:
        # The dialog is asked once per loss; a trader who chose to keep watching (or pressed
        # escape by reflex) gets it back here instead of having to quit.
        if self._engine_gone():
            self._ask_about_loss()
            return
        self.bell()
        pid, status = self.link.engine_pid, self.view.status
        if self.view.alive:
            self.notify(f"the engine (pid {pid}) is {status}", title="engine", markup=False)
            return
        self.notify(
            f"the engine (pid {pid}) is {status} but its process still runs: "
            f"stop it (kill {pid}) for a restart, or wait",
            title="engine",
            severity="warning",
            markup=False,
        )

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
        # The answer to the trader's own command holds the line for a while: a strategy's
        # stream of informational alerts ("would send ...") must not wipe it at once.
        held = self.notice is not None and self.notice.request_id and not self.notice.pending
        quiet = notice.severity == "information" and not notice.request_id
        if not (held and quiet and time.monotonic() - self._notice_at < _ANSWER_HOLD_S):
            self.notice = notice
            self._notice_at = time.monotonic()
            self._show()
        if notice.request_id:
            # An order ticket shows its own order's answer inline.
            for screen in self.screen_stack:
                if isinstance(screen, OrderEntryScreen | StrategiesScreen):
                    screen.answered(notice)
        if notice.pending or not notice.toast:
            return
        if notice.severity == "error":
            self.bell()
        # A refusal stays up longer: it is the one the trader must not miss.
        timeout = 10.0 if notice.severity == "error" else None
        self.notify(
            notice.text,
            title="" if notice.text == notice.title else notice.title,  # said once
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

    def action_order_ticket(self, side: str) -> None:
        """Open the order ticket on the shown symbol, at the ladder cursor's price or the
        touch (the best bid to buy, the best ask to sell)."""
        buy = side == "buy"
        if self._watch_only("buy" if buy else "sell"):
            return
        symbols = self.view.symbols
        if not symbols or self.selected >= len(symbols):
            self.tell(self.commands.notice("warning", "order", "no book yet for that symbol"))
            self.bell()
            return
        symbol = symbols[self.selected]
        price = self.dashboard.ladder.cursor_price
        if price is None:
            touch = symbol.best_bid if buy else symbol.best_ask
            price = touch if touch != "-" else ""
        screen = OrderEntryScreen(
            symbol,
            Side.BUY if buy else Side.SELL,
            price=price,
            qty=self.last_qty.get(symbol.symbol, ""),
            mode=self.view.mode,
            send=self.send_order,
        )
        self.push_screen(screen)

    def send_order(self, command: PlaceOrder) -> Notice:
        """Send an order from the ticket; the "sent" notice carries its request id."""
        self.last_qty[command.symbol] = command.qty
        where = f"@ {command.price}" if command.price else "at market"
        title = f"{command.side.name.lower()} {command.qty} {command.symbol} {where}"
        notice = self.commands.send(command, title)
        self.tell(notice)
        return notice

    def on_orders_panel_cancel_requested(self, message: OrdersPanel.CancelRequested) -> None:
        cid = message.order.client_id
        if not self._watch_only(f"cancel {cid}"):
            self.send(CancelOrder(cid), f"cancel {cid}")

    # ---- screens --------------------------------------------------------------------------

    def action_alerts(self) -> None:
        # The panel lives on the dashboard; a screen over it may hold unsent work.
        if self.screen is not self.dashboard:
            text = "on the dashboard: close this first"
            self.tell(self.commands.notice("warning", "alerts", text))
            self.bell()
        elif not self.dashboard.alerts.has_focus:
            self.dashboard.action_toggle_alerts()

    def action_keys_screen(self) -> None:
        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen(self.view.venue or "local", self.view.venue_url))

    def journal_file(self) -> Path:
        """This engine instance's journal (the default instance's without rings)."""
        return journal_file(self.instance)

    def action_journal_screen(self) -> None:
        if not isinstance(self.screen, JournalScreen):
            self.push_screen(JournalScreen(self.journal_file()))

    def action_backtest_screen(self) -> None:
        if not isinstance(self.screen, BacktestScreen):
            self.push_screen(BacktestScreen(data_dir() / "backtests"))

    def action_strategies_screen(self) -> None:
        if not isinstance(self.screen, StrategiesScreen):
            self.push_screen(StrategiesScreen(lambda: self.view.strategies, self.send_strategy))

    def send_strategy(self, command: Command, title: str) -> Notice | None:
        """Send a strategy command from the strategies screen; None when nothing can be sent
        (said on the notice line)."""
        if self._watch_only(title):
            return None
        notice = self.commands.send(command, title)
        self.tell(notice)
        return notice

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
            ("Book ladder (focused)", _rows(Ladder.BINDINGS, self)),
            ("Open orders (o)", _rows(OrdersPanel.BINDINGS, self)),
            ("Alerts (a)", _rows(AlertsPanel.BINDINGS, self)),
            ("Order ticket (b / s)", _rows(OrderEntryScreen.BINDINGS, self)),
            ("Mode dialog", _rows(ModeScreen.BINDINGS, self)),
            ("Confirmations", _rows(ConfirmScreen.BINDINGS, self)),
            ("Quit dialog", _rows(QuitScreen.BINDINGS, self)),
            ("Engine lost", _rows(EngineLostScreen.BINDINGS, self)),
            ("API keys", _rows(KeysScreen.BINDINGS, self)),
            ("Journal", _rows(JournalScreen.BINDINGS, self)),
            ("Backtests", _rows(BacktestScreen.BINDINGS, self)),
            ("Strategies (S)", _rows(StrategiesScreen.BINDINGS, self)),
            ("This help", _rows(HelpScreen.BINDINGS, self)),
        ]

    def action_quit_prompt(self) -> None:
        if isinstance(self.screen, QuitScreen):
            return

        def chosen(choice: str | None) -> None:
            if choice is not None:
                self.exit(choice)

        view = self.view
        controls = view.controller_pid == os.getpid()
        left_alone = left_alone_text(view.dead_man_cancel, view.dead_man_after_s, controls)
        self.push_screen(QuitScreen(self.spawned, view.alive, left_alone), chosen)

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
            ("Buy", "Order ticket: buy the shown symbol", partial(self.action_order_ticket, "buy")),
            (
                "Sell",
                "Order ticket: sell the shown symbol",
                partial(self.action_order_ticket, "sell"),
            ),
        ]
        for title, help_text, callback in trading:
            yield SystemCommand(title, help_text, callback)
        yield SystemCommand("Quit", "Quit hftui (asks about the engine)", self.action_quit_prompt)
        yield SystemCommand("Help", "Every key binding", self.action_help)
        yield SystemCommand(
            "API keys",
            "Store, test or delete the venue's API key and secret in the OS keyring",
            self.action_keys_screen,
        )
        yield SystemCommand(
            "Journal",
            "Orders and fills from the engine's journal, newest first",
            self.action_journal_screen,
        )
        yield SystemCommand(
            "Backtests",
            "Saved backtest reports: summary and equity chart",
            self.action_backtest_screen,
        )
        yield SystemCommand(
            "Strategies",
            "Each strategy's state and figures: pause, resume, reload, edit parameters",
            self.action_strategies_screen,
        )
        yield SystemCommand(
            "Alerts",
            "Recent engine alerts, newest first: focus the alerts panel (key a)",
            self.action_alerts,
        )
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
