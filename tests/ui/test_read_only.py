"""A second TUI on the same engine watches: READ-ONLY on the banner, trading keys refused
at once (the kill aside), and control taken only on purpose once the other TUI has gone."""

from __future__ import annotations

import os

from hftui.app import HftuiApp
from hftui.ipc import SnapshotWriter
from hftui.protocol import AlertRaised, Kill, TakeControl
from tests.ui.conftest import Desk, eventually

OTHER = 777


def controlled_by(region: SnapshotWriter, pid: int) -> None:
    region.begin_header()
    region.header["tui_pid"] = pid
    region.end_header()


def notice_line(app: HftuiApp) -> str:
    return app.notice.line if app.notice is not None else ""


async def test_a_watching_tui_shows_read_only_and_refuses_trading_keys(desk: Desk) -> None:
    controlled_by(desk.region, OTHER)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await eventually(pilot, lambda: app.view.read_only)
        assert "READ-ONLY (pid 777 controls)" in app.dashboard.banner.text
        for key in ("C", "m", "F", "K"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.dashboard  # refused before any dialog
            assert "read-only: another TUI (pid 777) controls this engine" in notice_line(app)
        assert desk.engine.received == []
        await eventually(pilot, lambda: desk.engine.heartbeats > 0)
        # The kill switch is never held back, whoever presses it.
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: desk.engine.received == [Kill(flatten=False)])


async def test_the_controlling_tui_is_not_read_only(desk: Desk) -> None:
    controlled_by(desk.region, os.getpid())
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause(0.2)
        assert not app.view.read_only
        assert "READ-ONLY" not in app.dashboard.banner.text
        await pilot.press("T")
        assert "this TUI controls the engine" in notice_line(app)
        assert desk.engine.received == []
        # Each heartbeat reports how far this TUI has read the event ring (for the metrics).
        desk.engine.publish(AlertRaised(20, "one"))
        desk.engine.publish(AlertRaised(20, "two"))

        def reported_all() -> bool:
            beat = desk.engine.last_heartbeat
            return beat is not None and beat.read == len(desk.engine.published) > 0

        await eventually(pilot, reported_all)


async def test_a_watcher_takes_control_deliberately_once_the_other_has_gone(
    desk: Desk,
) -> None:
    controlled_by(desk.region, OTHER)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await eventually(pilot, lambda: app.view.read_only)
        controlled_by(desk.region, 0)  # the other TUI's heartbeats stopped
        await pilot.pause(0.2)
        assert app.view.read_only  # no sliding into control by itself
        assert "READ-ONLY (T takes control)" in app.dashboard.banner.text
        await pilot.press("C")
        assert "press T to take control" in notice_line(app)
        await pilot.press("T")
        await eventually(pilot, lambda: desk.engine.received == [TakeControl()])
        controlled_by(desk.region, os.getpid())  # what the engine then publishes
        await eventually(pilot, lambda: not app.view.read_only)
        assert "READ-ONLY" not in app.dashboard.banner.text
