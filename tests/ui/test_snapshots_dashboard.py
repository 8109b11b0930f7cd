"""SVG snapshots of the dashboard's strategies panel and the ladder's distance column
(files in snapshots/test_snapshots_dashboard/).

Frozen inputs only: the frozen region and clock, the stub engine's strategies block and
alerts, and a fixed price history written into the chart before the app starts.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from hftui.app import HftuiApp
from tests.ui.conftest import Desk, eventually
from tests.ui.test_chart_alerts import fill_history
from tests.ui.test_dashboard_more import three_strategies

SnapCompare = Callable[..., bool]


@pytest.mark.parametrize("size", [(160, 48), (200, 60)], ids=["160x48", "200x60"])
def test_strategies_panel(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
    # Running, paused and failed, between the chart and the alerts; the ladder's ticks.
    three_strategies(desk)
    app = desk.app()
    fill_history(app)

    async def run_before(pilot: Pilot[str]) -> None:
        assert isinstance(pilot.app, HftuiApp)
        panel = pilot.app.dashboard.strategies
        await eventually(pilot, lambda: len(panel.rows) == 3 and panel.size.height == 4)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)
