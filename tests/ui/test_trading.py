"""Pilot tests of the trading keys: kill, re-arm, mode, cancel all and flatten, over real
command and event rings with a stub engine answering as the engine does."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.widgets import Input

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader
from hftui.link import EngineLink, Notice
from hftui.protocol import (
    CancelAll,
    CommandAnswered,
    Flatten,
    Kill,
    Mode,
    OrderChanged,
    OrderStatus,
    Rearm,
    Reason,
    ReloadRisk,
    SetMode,
    Side,
)
from hftui.screens.confirm import ConfirmScreen
from hftui.screens.help import HelpScreen
from hftui.screens.mode import ModeScreen
from hftui.widgets.notice_bar import fit_notice
from tests.support.region import FROZEN_NS, fill_header
from tests.ui.conftest import Desk, eventually
from tests.ui.stub_engine import KILLED_NS

SIZES = [(80, 24), (160, 48)]


class Toasts:
    """The notifications an app posted, caught with `run_test(message_hook=...)`."""

    def __init__(self) -> None:
        self.shown: list[Notification] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.shown.append(message.notification)

    def titled(self, title: str) -> list[Notification]:
        return [toast for toast in self.shown if toast.title == title]


@pytest.fixture
def toasts() -> Toasts:
    return Toasts()


def answered(app: HftuiApp, title: str) -> Notice | None:
    """The notice line's notice if it is the answer (not the "sent") for `title`."""
    notice = app.notice
    if notice is None or notice.title != title or notice.pending:
        return None
    return notice


def current(app: HftuiApp) -> Screen[object]:
    # Through a function, so that mypy does not keep an isinstance() narrowing of app.screen
    # across key presses that change it.
    return app.screen


def on_dashboard(app: HftuiApp) -> bool:
    return current(app) is app.dashboard


def notice_text(app: HftuiApp) -> str:
    return app.dashboard.notices.text


@pytest.mark.parametrize("size", SIZES)
async def test_kill_from_the_dashboard(desk: Desk, toasts: Toasts, size: tuple[int, int]) -> None:
    app = desk.app()
    async with app.run_test(size=size, message_hook=toasts) as pilot, desk.engine.running():
        await pilot.pause()
        assert "armed" in notice_text(app)
        await pilot.press("ctrl+k")
        assert on_dashboard(app)  # no dialog: a kill is never asked about
        await eventually(pilot, lambda: answered(app, "kill") is not None)
        assert desk.engine.received == [Kill(flatten=False)]
        answer = answered(app, "kill")
        assert answer is not None
        assert answer.severity == "information"
        assert answer.text.startswith("killed: cancels sent in 0.4 ms")
        await eventually(pilot, lambda: app.view.killed)
        await pilot.pause(0.1)
        banner = app.dashboard.banner
        assert banner.has_class("-killed")
        assert banner.text.split("│")[0].strip() == "KILLED · OBSERVE"
        line = notice_text(app)
        assert line.startswith(" KILLED 11:06:38 UTC: kill switch │ ")
        # Wide, everything fits; at 80 columns the hint makes room for the whole answer.
        assert ("R re-arms" in line) is (size != (80, 24))
        assert ("killed: cancels sent in 0.4 ms, zero open orders at 3.1 ms" in line) is (
            size != (80, 24)
        )
        # One notification: the mode change the kill caused is the kill's own answer's news.
        assert [(toast.title, toast.message) for toast in toasts.shown] == [("kill", answer.text)]


@pytest.mark.parametrize(
    "open_screen",
    ["question_mark", "q", "m", "C"],
    ids=["help", "quit dialog", "mode dialog", "cancel-all dialog"],
)
async def test_kill_works_from_every_dialog(desk: Desk, open_screen: str) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press(open_screen)
        dialog = current(app)
        assert not on_dashboard(app)
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: answered(app, "kill") is not None)
        assert desk.engine.received == [Kill(flatten=False)]
        assert current(app) is dialog  # the kill does not close what the trader had open
        assert "killed" in notice_text(app)


async def test_kill_wins_over_a_focused_input(desk: Desk) -> None:
    # The mode dialog's input binds ctrl+k itself (delete to the end of the line).
    desk.engine.mode = Mode.PAPER  # live is one step up: the word can be typed
    desk.engine.publish_header()
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("m", "l", "L", "I")
        assert isinstance(app.screen, ModeScreen)
        confirm = app.screen.query_one("#mode-confirm", Input)
        assert app.focused is confirm
        await pilot.press("left", "ctrl+k")
        await eventually(pilot, lambda: answered(app, "kill") is not None)
        assert desk.engine.received == [Kill(flatten=False)]
        assert confirm.value == "LI"  # the input did not see the key
        await pilot.press("escape")
        assert on_dashboard(app)
        assert desk.engine.received == [Kill(flatten=False)]


async def test_kill_and_flatten_asks_first(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("K")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert on_dashboard(app)
        await pilot.press("K", "y")
        await eventually(pilot, lambda: answered(app, "kill + flatten") is not None)
        assert desk.engine.received == [Kill(flatten=True)]
        await eventually(pilot, lambda: app.view.kill_flatten)
        await pilot.pause(0.1)
        assert "kill switch + flatten" in notice_text(app)


async def test_rearm_is_confirmed_and_refused_when_not_killed(desk: Desk, toasts: Toasts) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot, desk.engine.running():
        await pilot.press("R")
        # Not killed: said at once, no dialog, nothing sent.
        assert on_dashboard(app)
        assert app.notice is not None
        assert (app.notice.severity, app.notice.text) == (
            "warning",
            "not killed: nothing to re-arm",
        )
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: app.view.killed)
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        assert "kill switch at 11:06:38 UTC" in app.screen.note
        await pilot.press("escape")  # cancelled: still killed, nothing sent
        assert on_dashboard(app)
        await pilot.pause(0.1)
        assert desk.engine.received == [Kill(flatten=False)]
        assert app.view.killed
        await pilot.press("R", "enter")
        await eventually(pilot, lambda: answered(app, "re-arm") is not None)
        assert desk.engine.received == [Kill(flatten=False), Rearm()]
        notice = answered(app, "re-arm")
        assert notice is not None
        assert notice.text == "re-armed; still in observe"
        await eventually(pilot, lambda: not app.view.killed)
        await pilot.pause(0.1)
        assert not app.dashboard.banner.has_class("-killed")
        assert notice_text(app).startswith(" armed │ ")


async def test_mode_down_is_one_key(desk: Desk) -> None:
    desk.engine.mode = Mode.LIVE
    desk.engine.publish_header()
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("m")
        assert isinstance(app.screen, ModeScreen)
        assert app.focused is None  # the mode keys work at once, not typed into the input
        await pilot.press("o")
        assert on_dashboard(app)
        await eventually(pilot, lambda: answered(app, "mode observe") is not None)
        assert desk.engine.received == [SetMode(Mode.OBSERVE)]
        await eventually(pilot, lambda: app.dashboard.banner.has_class("-observe"))


async def test_mode_up_a_step_then_live_with_the_word(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("m", "p")
        await eventually(pilot, lambda: answered(app, "mode paper") is not None)
        await eventually(pilot, lambda: app.view.mode is Mode.PAPER)
        # The answer only repeats what was asked: its toast says it once, not as title too.
        toasts = [(n.title, n.message) for n in app._notifications]
        assert ("", "mode paper") in toasts
        assert ("mode paper", "mode paper") not in toasts
        await pilot.press("m", "l")
        assert isinstance(app.screen, ModeScreen)
        await pilot.press("l", "i", "v", "e", "enter")  # not in capitals: not sent
        assert isinstance(app.screen, ModeScreen)
        assert "not LIVE" in str(app.screen.query_one("#mode-error").render())
        await pilot.press("L", "I", "V", "E", "enter")
        assert on_dashboard(app)
        await eventually(pilot, lambda: answered(app, "mode live") is not None)
        assert desk.engine.received == [SetMode(Mode.PAPER), SetMode(Mode.LIVE, "LIVE")]
        await eventually(pilot, lambda: app.dashboard.banner.has_class("-live"))


async def test_live_from_observe_is_refused_in_the_dialog_before_the_word_is_typed(
    desk: Desk,
) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("m", "l")
        assert isinstance(app.screen, ModeScreen)
        error = str(app.screen.query_one("#mode-error").render())
        assert error == "one step at a time: p for paper now, then m and l for live"
        assert app.screen.query_one("#mode-confirm", Input).disabled
        await pilot.press(*"LIVE", "enter")  # nowhere to type it: nothing is sent
        await pilot.press("p")  # the step it asked for
        await eventually(pilot, lambda: app.view.mode is Mode.PAPER)
        assert desk.engine.received == [SetMode(Mode.PAPER)]


async def test_live_without_keys_is_refused(desk: Desk) -> None:
    desk.engine.mode, desk.engine.has_keys = Mode.PAPER, False
    desk.engine.publish_header()
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("m")
        assert isinstance(app.screen, ModeScreen)
        assert "API keys: none reported" in str(app.screen.query_one("#mode-now").render())
        await pilot.press("l")
        error = str(app.screen.query_one("#mode-error").render())
        assert error == "no API keys reported: add them (A) first"
        assert app.screen.query_one("#mode-confirm", Input).disabled
        await pilot.press("escape")
        assert desk.engine.received == []


async def test_mode_up_while_killed_is_refused(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: app.view.killed)
        await pilot.press("m")
        assert isinstance(app.screen, ModeScreen)
        assert app.screen.query("#mode-killed")
        await pilot.press("p")
        await eventually(pilot, lambda: answered(app, "mode paper") is not None)
        notice = answered(app, "mode paper")
        assert notice is not None
        assert notice.text == "refused, KILLED: kill switch is latched; re-arm first"
        # Live is refused in the dialog itself: no word to type for nothing.
        await pilot.press("m", "l")
        assert isinstance(app.screen, ModeScreen)
        assert str(app.screen.query_one("#mode-error").render()).startswith("KILLED: re-arm (R)")
        await pilot.press("escape")


async def test_cancel_all_asks_then_sends(desk: Desk) -> None:
    desk.engine.mode, desk.engine.open_orders = Mode.PAPER, 3
    desk.engine.publish_header()
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        assert "3 open · 0 refused" in notice_text(app)
        await pilot.press("C")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.note == "3 open now, in paper."
        await pilot.press("n")
        await pilot.pause(0.05)
        assert desk.engine.received == []
        await pilot.press("C", "y")
        await eventually(pilot, lambda: answered(app, "cancel all") is not None)
        assert desk.engine.received == [CancelAll("")]
        notice = answered(app, "cancel all")
        assert notice is not None
        assert notice.text == "canceled on every symbol: 3 paper, 0 live order(s)"
        await eventually(pilot, lambda: app.view.open_orders == 0)


async def test_flatten_the_shown_symbol(desk: Desk) -> None:
    desk.engine.mode = Mode.PAPER
    desk.engine.publish_header()
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("2", "F")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text == "Flatten ETHUSDT"
        await pilot.press("enter")
        await eventually(pilot, lambda: answered(app, "flatten ETHUSDT") is not None)
        assert desk.engine.received == [Flatten("ETHUSDT")]


async def test_alerts_and_other_clients_answers(desk: Desk, toasts: Toasts) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        await pilot.pause()
        # An answer to someone else's request (a CLI on the same engine) is not ours to show.
        desk.engine.publish(CommandAnswered(12345, False, Reason.BUSY, "someone else's"))
        desk.engine.alert(logging.ERROR, "daily loss limit reached")
        await eventually(pilot, lambda: app.notice is not None)
        assert app.notice is not None
        assert (app.notice.title, app.notice.severity) == ("alert", "error")
        assert app.notice.text == "daily loss limit reached"
        await eventually(pilot, lambda: bool(toasts.shown))  # posted, then delivered
        assert [toast.title for toast in toasts.shown] == ["alert"]
        # Information is shown on the notice line without a toast each, and kept in the
        # alerts panel.
        desk.engine.alert(logging.INFO, "strategy momentum started")
        await eventually(pilot, lambda: app.notice is not None and "started" in app.notice.text)
        # A report (a strategy's "would send" in observe, several a second) is shown on the
        # notice line only: no toast, and not in the alerts panel.
        desk.engine.alert(logging.DEBUG, "observe: would send BUY 0.010 ETHUSDT [market_maker]")
        await eventually(pilot, lambda: app.notice is not None and "would send" in app.notice.text)
        assert app.notice is not None
        assert app.notice.title == "intent"
        await pilot.pause()
        assert [toast.title for toast in toasts.shown] == ["alert"]
        panel = [row.text for row in app.dashboard.alerts.rows]
        assert panel == ["strategy momentum started", "daily loss limit reached"]


async def test_any_refused_order_is_shown_whoever_sent_it(desk: Desk, toasts: Toasts) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        await pilot.pause()
        text = "price 70000.00 is 937 bps from mid 64000.05; the band is 500 bps"
        desk.engine.publish(
            OrderChanged(
                "", "BTCUSDT", Side.BUY, OrderStatus.REJECTED, "", "", "", Reason.PRICE_BAND, text
            )
        )
        await eventually(pilot, lambda: app.notice is not None)
        assert app.notice is not None
        assert (app.notice.title, app.notice.severity) == ("order BTCUSDT", "error")
        assert app.notice.text == f"refused, PRICE_BAND: {text}"
        await eventually(pilot, lambda: bool(toasts.shown))  # posted, then delivered
        assert [toast.title for toast in toasts.shown] == ["order BTCUSDT"]


async def test_event_overrun_is_reported(desk: Desk, toasts: Toasts) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        await pilot.pause()
        app.commands.poll()
        for _ in range(5000):  # more than the ring holds, between two frames
            desk.engine.alert(logging.WARNING, "noise")
        app.poll_engine()
        await pilot.pause()
        # The first frame: how many were left out, then the newest three, the overrun last.
        first = [(toast.title, toast.message) for toast in toasts.shown[:4]]
        assert first[0][0] == "events"
        assert first[0][1].endswith("more engine events not shown; the engine log has them all")
        assert first[1:3] == [("alert", "noise"), ("alert", "noise")]
        assert first[3][0] == "events"
        assert "missed" in first[3][1]


async def test_unanswered_command_is_reported(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:  # the stub engine is not serving
        app.commands.answer_timeout_s = 0.0
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: answered(app, "kill") is not None)
        notice = answered(app, "kill")
        assert notice is not None
        assert (notice.severity, notice.text) == ("warning", "no answer after 0s")
        assert app.commands.pending == {}


@pytest.mark.parametrize("key", ["ctrl+k", "K", "R", "m", "C", "F"])
async def test_without_rings_the_keys_say_so(desk: Desk, toasts: Toasts, key: str) -> None:
    app = desk.app(connected=False)
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert on_dashboard(app)  # no dialog for a command that cannot go
        assert app.notice is not None
        assert app.notice.severity == "error"
        assert "no command channel" in app.notice.text
        assert "not sent" in notice_text(app)
        assert toasts.shown
    assert desk.engine.received == []


async def test_trading_keys_wait_for_an_engine_but_the_kill_never_does(desk: Desk) -> None:
    fill_header(desk.region, heartbeat_age_s=9.0)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.view.alive
        await pilot.press("m", "C", "R")
        assert on_dashboard(app)
        assert app.notice is None  # dimmed keys: the banner says the engine is down
        await pilot.press("ctrl+k")
        # Sent all the same, and the trader is told what still protects live orders.
        assert app.notice is not None
        assert app.notice.severity == "error"
        assert "engine not responding" in app.notice.text
        assert "dead-man's switch" in app.notice.text
        assert app.commands.pending  # its answer is still awaited
        desk.engine.step()
        assert desk.engine.received == [Kill(flatten=False)]


def test_notice_line_keeps_the_latch_and_cuts_the_notice(desk: Desk) -> None:
    fill_header(
        desk.region,
        killed=True,
        killed_ns=KILLED_NS,
        kill_reason="daily loss limit reached",
        open_orders=2,
    )
    link = EngineLink(SnapshotReader(desk.region.name), 4242, clock_ns=lambda: FROZEN_NS)
    view = link.poll()
    link.close()
    latch = " KILLED 11:06:38 UTC: daily loss limit reached │ "
    short = Notice("11:06:40", "information", "mode", "re-armed · now observe")
    wide = "".join(text for text, _ in fit_notice(view, short, 200))
    assert (
        wide.rstrip()
        == latch + "R re-arms │ 2 open · 0 refused │ 11:06:40 mode: re-armed · now observe"
    )
    # Too long for the line: the counters and the hint make room, then the notice is cut.
    long = Notice("11:06:40", "error", "mode live", "refused, MODE_STEP: " + "x" * 80)
    narrow = "".join(text for text, _ in fit_notice(view, long, 80))
    assert len(narrow) == 80
    assert narrow.startswith(latch + "11:06:40 mode live: refused")
    assert narrow.endswith("refused, M…")
    armed = dataclasses.replace(view, killed=False, killed_at="", kill_reason="")
    assert "".join(t for t, _ in fit_notice(armed, None, 80)) == (
        " armed │ 2 open · 0 refused │ ctrl+k kills from anywhere · m mode · ? keys"
    )


def test_every_trading_binding_has_an_id_a_tooltip_and_a_help_row() -> None:
    for screen in (HftuiApp, ModeScreen, ConfirmScreen):
        for binding in screen.BINDINGS:
            assert not isinstance(binding, tuple)
            assert binding.id, binding
            assert binding.tooltip, binding


async def test_help_and_palette_list_the_trading_commands(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        headings = [heading for heading, _ in app.screen.sections]
        for heading in (
            "Dashboard",
            "Order ticket (b / s)",
            "Open orders (o)",
            "Mode dialog",
            "Confirmations",
            "Quit dialog",
            "This help",
        ):
            assert heading in headings
        keys = [key for key, _ in app.screen.rows]
        for key in ("^k", "K", "R", "m", "C", "F", "o", "p", "l", "y, ⏎", "n, esc"):
            assert key in keys
        await pilot.press("escape")
        titles = [command.title for command in app.get_system_commands(current(app))]
        for title in ("Kill", "Kill and flatten", "Re-arm", "Mode", "Cancel all", "Flatten"):
            assert title in titles


async def test_reload_risk_limits_from_the_palette(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        (command,) = [
            c for c in app.get_system_commands(current(app)) if c.title == "Reload risk limits"
        ]
        command.callback()
        await eventually(pilot, lambda: answered(app, "reload risk") is not None)
        assert desk.engine.received == [ReloadRisk()]


async def test_a_poll_tick_after_the_last_screen_went_does_nothing(desk: Desk) -> None:
    # Closing pops the screens before the timers stop: a tick in between found no screen and
    # raised out of the app's exit.
    app = desk.app()
    async with app.run_test(size=SIZES[0]) as pilot, desk.engine.running():
        await pilot.pause()
    assert not app.screen_stack
    view = app.view  # as the last tick before the screens went left it
    app.poll_engine()
    assert app.view is view
