"""SVG snapshots of the TUI from a frozen engine state (files in snapshots/test_snapshots/).

Everything on screen comes from the region written by `tests.support.region`, the frozen
clock and the stub engine's answers, so the pictures do not depend on when or where they are
taken.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader
from hftui.link import EngineLink
from hftui.protocol import Mode
from tests.support.region import fill_header, frozen_region
from tests.ui.conftest import Desk
from tests.ui.test_panels import with_orders, with_position

SnapCompare = Callable[..., bool]


class TestDashboard:
    def test_dashboard_100x30(
        self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]
    ) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, terminal_size=(100, 30))

    def test_engine_down_80x24(
        self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]
    ) -> None:
        with frozen_region() as writer:
            fill_header(writer, heartbeat_age_s=9.0)
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, terminal_size=(80, 24))

    def test_quit_dialog_80x24(
        self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]
    ) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, press=["q"], terminal_size=(80, 24))

    def test_help_80x24(self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24))


def _stepped(desk: Desk, *keys: str) -> Callable[[Pilot[str]], Awaitable[None]]:
    # Press `keys`, let the stub engine answer once, and show the answer in the next frame:
    # no timing in the picture.
    async def run_before(pilot: Pilot[str]) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        desk.engine.step()
        app = pilot.app
        assert isinstance(app, HftuiApp)
        app.poll_engine()
        await pilot.pause()

    return run_before


class TestTrading:
    def test_killed_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        assert snap_compare(desk.app(), run_before=_stepped(desk, "ctrl+k"), terminal_size=(80, 24))

    def test_mode_dialog_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        assert snap_compare(desk.app(), press=["m"], terminal_size=(80, 24))

    def test_mode_dialog_typing_live_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        desk.engine.mode = Mode.PAPER
        desk.engine.publish_header()
        assert snap_compare(desk.app(), press=["m", "l", "L", "I"], terminal_size=(80, 24))

    def test_refusal_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # The engine's refusal: up to paper while the kill latch is set.
        desk.engine.killed, desk.engine.kill_reason = True, "kill switch (TUI)"
        desk.engine.publish_header()
        run_before = _stepped(desk, "m", "p")
        assert snap_compare(desk.app(), run_before=run_before, terminal_size=(80, 24))

    def test_mode_dialog_refusing_live_from_observe_80x24(
        self, snap_compare: SnapCompare, desk: Desk
    ) -> None:
        assert snap_compare(desk.app(), press=["m", "l"], terminal_size=(80, 24))

    def test_rearm_dialog_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        desk.engine.killed, desk.engine.kill_reason = True, "daily loss limit reached"
        desk.engine.publish_header()
        assert snap_compare(desk.app(), press=["R"], terminal_size=(80, 24))

    def test_dashboard_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # Wide: the latch with its reason and re-arm hint, the counters and the whole answer.
        desk.engine.mode, desk.engine.open_orders = Mode.PAPER, 2
        desk.engine.publish_header()
        run_before = _stepped(desk, "K", "y")
        assert snap_compare(desk.app(), run_before=run_before, terminal_size=(160, 48))


class TestTradingPanels:
    def test_panels_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # Positions, orders with the orders panel focused, own orders marked on the ladder.
        with_orders(desk)
        with_position(desk)
        assert snap_compare(desk.app(), press=["down", "o", "down"], terminal_size=(80, 24))

    def test_panels_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        with_orders(desk)
        with_position(desk)
        assert snap_compare(desk.app(), press=["up", "up"], terminal_size=(160, 48))

    def test_order_ticket_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # Opened at the ladder cursor, a quantity typed: the preview and "ready to send".
        with_position(desk)
        assert snap_compare(
            desk.app(), press=["down", "down", "b", *"0.010"], terminal_size=(80, 24)
        )

    def test_order_ticket_refused_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # The engine's refusal stays in the ticket, in the alarm colour.
        with_position(desk)
        keys = ["s", *"0.010", "tab", *["backspace"] * 8, *"50000.00", "enter"]
        run_before = _stepped(desk, *keys)
        assert snap_compare(desk.app(), run_before=run_before, terminal_size=(80, 24))

    def test_order_ticket_off_tick_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        with_orders(desk)
        with_position(desk)
        press = ["s", *"0.010", "tab", "end", "backspace", "5"]
        assert snap_compare(desk.app(), press=press, terminal_size=(160, 48))
