"""SVG snapshots of the price chart and alerts, and of every screen not pictured elsewhere at
80x24 and 160x48 (files in snapshots/test_snapshots_more/).

Frozen inputs only: the frozen region and clock, the stub engine's alerts and answers, a
fixed price history written into the chart before the app starts, and backtest reports from
seeded synthetic runs with fixed file times.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from textual.pilot import Pilot

from hftui.app import HftuiApp
from hftui.paths import data_dir
from hftui.protocol import Mode
from hftui.screens.backtest import BacktestScreen
from hftui.screens.engine_lost import EngineLostScreen
from tests.support.region import fill_header
from tests.ui.conftest import Desk, eventually
from tests.ui.test_backtest_screen import save_runs
from tests.ui.test_chart_alerts import fill_history

SnapCompare = Callable[..., bool]

BOTH = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


def _alerts(desk: Desk) -> None:
    engine = desk.engine
    engine.alert(logging.INFO, "strategy maker: would send BUY 0.010 BTCUSDT @ 63999.90")
    engine.alert(logging.WARNING, "BTCUSDT: stream gap at update 123450; resyncing the book")
    engine.alert(
        logging.INFO, "config reloaded; in force: risk.default.max_order_notional 5000 -> 2500"
    )
    engine.alert(logging.ERROR, "reconcile: venue shows 1 open order the engine did not know")
    engine.alert(logging.ERROR, "reconcile: venue shows 1 open order the engine did not know")


def _then(desk: Desk, *keys: str, alerts: bool = True) -> Callable[[Pilot[str]], Awaitable[None]]:
    # Raise the alerts, show them in the next frame, then press `keys`: no timing in it.
    async def run_before(pilot: Pilot[str]) -> None:
        await pilot.pause()
        if alerts:
            _alerts(desk)
        app = pilot.app
        assert isinstance(app, HftuiApp)
        await eventually(pilot, lambda: app.dashboard.alerts.total == (5 if alerts else 0))
        await pilot.pause()
        app.clear_notifications()  # the toasts' pictures belong to the app's tests
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def _freeze_timing(root: Path) -> None:
    # A report's speed is measured by the wall clock: fixed figures in its place, the rest
    # of the report (seeded runs) and the file times as written.
    for path in root.glob("*/report.json"):
        stat = path.stat()
        doc = orjson.loads(path.read_bytes())
        events = doc["timing"]["events"]
        doc["timing"] = {
            "events": events,
            "seconds": 0.5,
            "events_per_s": events * 2,
            "engine_events_per_s": events * 5,
        }
        path.write_bytes(orjson.dumps(doc))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _app(desk: Desk) -> HftuiApp:
    app = desk.app()
    fill_history(app)
    return app


class TestChartAlerts:
    @pytest.mark.parametrize(
        "size", [(160, 48), (200, 60), (130, 30)], ids=["160x48", "200x60", "130x30"]
    )
    def test_dashboard(self, snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
        assert snap_compare(_app(desk), run_before=_then(desk), terminal_size=size)

    def test_alerts_key_80x24(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # a: the chart and alerts take the trades' place, the alerts focused.
        assert snap_compare(_app(desk), run_before=_then(desk, "a"), terminal_size=(80, 24))

    def test_alerts_focused_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        assert snap_compare(_app(desk), run_before=_then(desk, "a"), terminal_size=(160, 48))

    def test_stale_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # The engine has gone quiet: every panel greyed out, the chart too.
        fill_header(desk.region, heartbeat_age_s=9.0)
        assert snap_compare(
            _app(desk), run_before=_then(desk, alerts=False), terminal_size=(160, 48)
        )


class TestScreens:
    @BOTH
    def test_backtest(self, snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
        root = data_dir() / "backtests"
        save_runs(root)
        _freeze_timing(root)

        async def run_before(pilot: Pilot[str]) -> None:
            await pilot.press("B")
            await eventually(pilot, lambda: isinstance(pilot.app.screen, BacktestScreen))
            await pilot.pause()

        assert snap_compare(_app(desk), run_before=run_before, terminal_size=size)

    def test_engine_lost_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        fill_header(desk.region, stopping=True, heartbeat_age_s=5.0)

        async def lost(pilot: Pilot[str]) -> None:
            await eventually(pilot, lambda: isinstance(pilot.app.screen, EngineLostScreen), 6.0)
            await pilot.pause()

        assert snap_compare(_app(desk), run_before=lost, terminal_size=(160, 48))

    def test_help_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        assert snap_compare(_app(desk), press=["question_mark"], terminal_size=(160, 48))

    def test_quit_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        assert snap_compare(_app(desk), press=["q"], terminal_size=(160, 48))

    def test_mode_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        desk.engine.mode = Mode.PAPER
        desk.engine.publish_header()
        assert snap_compare(_app(desk), press=["m"], terminal_size=(160, 48))

    def test_confirm_160x48(self, snap_compare: SnapCompare, desk: Desk) -> None:
        # The cancel-all confirmation (the re-arm one is pictured at 80x24).
        desk.engine.open_orders = 3
        desk.engine.publish_header()
        assert snap_compare(_app(desk), press=["C"], terminal_size=(160, 48))
