"""Pilot tests of the dashboard's strategies panel, the ladder's distance-from-mid column and
the panels' kept painting, over a real region with a stub engine publishing its strategies
block and alerts."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from hftui.app import HftuiApp
from hftui.protocol import Mode
from hftui.widgets.ladder import mid_distances
from hftui.widgets.lines import KeptPaint
from hftui.widgets.strategies_panel import StrategiesPanel
from tests.support.region import fill_header
from tests.ui.conftest import Desk, eventually
from tests.ui.stub_engine import StubStrategy

WIDE = [(160, 48), (200, 60)]


def three_strategies(desk: Desk) -> None:
    desk.engine.strategies = [
        StubStrategy("momentum", "qty=0.002", intents=12, open_orders=1, fills=3, realized=4.5),
        StubStrategy("market_maker", "gamma=0.1", state="paused", why="paused by the trader"),
        StubStrategy(
            "arb", "edge=2", state="failed", why="on_book raised ValueError", fees=1.25, errors=1
        ),
    ]
    desk.engine.publish_strategies()


def panel_text(panel: StrategiesPanel) -> list[str]:
    return [panel.render_line(y).text for y in range(panel.size.height)]


def cell_style(panel: StrategiesPanel, y: int, text: str) -> Style:
    """The style of the segment of line `y` that holds `text`."""
    for segment in panel.render_line(y)._segments:
        if text in segment.text:
            return segment.style or Style()
    raise AssertionError(f"{text!r} not on line {y}")


@pytest.mark.parametrize("size", WIDE)
async def test_strategies_panel_lists_each_with_its_state_coloured(
    desk: Desk, size: tuple[int, int]
) -> None:
    three_strategies(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot:
        panel = app.dashboard.strategies
        await eventually(pilot, lambda: len(panel.rows) == 3 and panel.size.height == 4)
        # Between the chart and the alerts, in the side column.
        chart, alerts = app.dashboard.chart, app.dashboard.alerts
        assert chart.region.bottom <= panel.region.y
        assert panel.region.bottom <= alerts.region.y
        assert alerts.size.height >= 8
        assert panel.border_title == "strategies 1/3 running"
        assert panel.border_subtitle == "age <1s"
        text = panel_text(panel)
        assert text[0].split()[:3] == ["strategy", "state", "P&L"]
        assert text[0].split() == ["strategy", "state", "P&L", "intents", "open"] + (
            ["fills"] if size == (200, 60) else []
        )
        assert text[1].split()[:5] == ["momentum", "running", "+4.50", "12", "1"]
        assert text[2].split()[:3] == ["market_maker", "paused", "0.00"]
        assert text[3].split()[:3] == ["arb", "failed", "-1.25"]
        for y, state in ((1, "running"), (2, "paused"), (3, "failed")):
            expected = panel.get_component_rich_style(f"strategies--{state}")
            assert cell_style(panel, y, state) == expected
        assert cell_style(panel, 1, "+4.50") == panel.get_component_rich_style("strategies--up")
        assert cell_style(panel, 3, "-1.25") == panel.get_component_rich_style("strategies--down")
        assert cell_style(panel, 1, "momentum") == panel.get_component_rich_style("strategies--row")


async def test_strategies_panel_follows_the_engine_and_greys_when_stale(desk: Desk) -> None:
    three_strategies(desk)
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.dashboard.strategies
        await eventually(pilot, lambda: len(panel.rows) == 3)
        desk.engine.strategies[1].state = "running"
        desk.engine.strategies[1].why = ""
        desk.engine.publish_strategies()
        await eventually(pilot, lambda: panel.border_title == "strategies 2/3 running")
        running = panel.get_component_rich_style("strategies--running")
        assert cell_style(panel, 2, "running") == running
        assert not panel.has_class("-stale")
        fill_header(desk.region, heartbeat_age_s=9.0, mode=Mode.PAPER)
        await eventually(pilot, lambda: panel.has_class("-stale"))
        assert panel.border_subtitle == "STALE 9s"
        grey = panel.get_component_rich_style("strategies--stale")
        assert all(cell_style(panel, y, word) == grey for y, word in ((1, "running"), (3, "arb")))


async def test_strategies_panel_without_strategies_and_with_more_than_fit(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.dashboard.strategies
        await eventually(pilot, lambda: panel.message == "no strategies enabled")
        assert panel.size.height == 1
        assert panel_text(panel)[0].strip() == "no strategies enabled"
        assert panel.border_title == "strategies"
        desk.engine.strategies = [StubStrategy(f"s{k}", "x=1") for k in range(8)]
        desk.engine.publish_strategies()
        await eventually(pilot, lambda: len(panel.rows) == 8)
        await pilot.pause()
        text = panel_text(panel)
        assert len(text) == 7  # capped: the alerts keep their rows
        assert app.dashboard.alerts.size.height >= 8
        assert [line.split()[0] for line in text[1:6]] == ["s0", "s1", "s2", "s3", "s4"]
        assert text[6].strip() == "+3 more: S lists them all"


async def test_no_strategies_panel_at_80x24(desk: Desk) -> None:
    # Narrow there is no room beside the book: the S screen lists them. The rest is as it was.
    three_strategies(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: len(app.dashboard.strategies.rows) == 3)
        dashboard = app.dashboard
        assert not dashboard.strategies.display or not dashboard.query_one("#side").display
        assert dashboard.ladder.size.height >= 8
        assert dashboard.tape.display
        assert dashboard.positions.size.height >= 5
        await pilot.press("a")  # the alerts column, in place of the trades: alerts only
        await pilot.pause()
        assert dashboard.query_one("#side").display
        assert not dashboard.strategies.display
        assert dashboard.alerts.size.height >= 5


def ladder_rows(app: HftuiApp) -> list[str]:
    ladder = app.dashboard.ladder
    return [ladder.render_line(y).text for y in range(ladder.size.height)]


@pytest.mark.parametrize("size", WIDE)
async def test_ladder_shows_distance_from_mid_in_ticks(desk: Desk, size: tuple[int, int]) -> None:
    app = desk.app()
    async with app.run_test(size=size) as pilot:
        await eventually(pilot, lambda: app.dashboard.ladder.view is not None)
        await pilot.pause()
        rows = ladder_rows(app)
        assert rows[0].split() == ["price", "size", "cum", "depth", "ticks"]
        mid = next(y for y, row in enumerate(rows) if "mid 64000.15" in row)
        # Mid 64000.15 on a 0.10 tick: the touch is half a tick away, then a tick a level.
        assert rows[mid - 1].split()[0] == "64000.20"
        assert rows[mid - 1].split()[-1] == "0.5"
        assert rows[mid - 2].split()[-1] == "1.5"
        assert rows[mid + 1].split()[0] == "64000.10"
        assert rows[mid + 1].split()[-1] == "0.5"
        assert rows[mid + 3].split()[-1] == "2.5"
        # Right-aligned under its title, the bars still there.
        end = len(rows[0].rstrip())
        assert all(len(row.rstrip()) == end for row in rows[mid + 1 :] if row.strip())
        assert "█" in rows[mid + 3]


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_ladder_drops_the_distance_when_narrow(desk: Desk, size: tuple[int, int]) -> None:
    app = desk.app()
    async with app.run_test(size=size) as pilot:
        await eventually(pilot, lambda: app.dashboard.ladder.view is not None)
        await pilot.pause()
        assert app.dashboard.ladder.size.width < 60
        rows = ladder_rows(app)
        assert rows[0].split() == ["price", "size", "cum", "depth"]


async def test_mid_distances_in_whole_ticks_or_halves(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await eventually(pilot, lambda: app.dashboard.ladder.view is not None)
        view = app.dashboard.ladder.view
        assert view is not None
        levels = [view.asks[0], view.asks[2], view.bids[0], view.bids[1]]
        assert mid_distances(view, levels) == ["0.5", "2.5", "0.5", "1.5"]
        # A two-tick spread puts the mid on a tick: whole ticks.
        wider = dataclasses.replace(view, ask_units=view.ask_units + view.tick_units)
        assert mid_distances(wider, levels) == ["0", "2", "1", "2"]
        one_sided = dataclasses.replace(view, bid_units=-1)
        assert mid_distances(one_sided, levels) == ["", "", "", ""]


def painted(widget: Widget) -> list[Strip]:
    """The widget's lines as the screen paints them (border and background included), after
    Textual dropped its own copy, as a full repaint does."""
    widget._set_dirty()
    return widget.render_lines(Region(0, 0, *widget.outer_size))


async def test_painted_panels_are_kept_until_their_content_or_styles_change(desk: Desk) -> None:
    three_strategies(desk)
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        dashboard = app.dashboard
        panel, alerts = dashboard.strategies, dashboard.alerts
        await eventually(pilot, lambda: len(panel.rows) == 3)
        await pilot.pause()
        first, quiet = painted(panel), painted(alerts)
        assert painted(panel) == first
        assert [s.text for s in painted(panel)] == [s.text for s in first]
        # New data: painted again, border title included.
        desk.engine.strategies[0].state = "failed"
        desk.engine.publish_strategies()
        await eventually(pilot, lambda: panel.border_title == "strategies 0/3 running")
        changed = painted(panel)
        assert "strategies 0/3 running" in changed[0].text
        assert changed[2].text != first[2].text
        desk.engine.alert(logging.ERROR, "reconcile: venue shows 1 open order")
        await eventually(pilot, lambda: alerts.total == 1)
        await pilot.pause()
        raised = painted(alerts)
        assert "alerts 1" in raised[0].text
        assert "ERROR reconcile: venue shows 1 open" in raised[1].text
        assert raised != quiet
        # The alerts focused (a): the accent border and "esc back" are painted.
        await pilot.press("a")
        await pilot.pause()
        focused = painted(alerts)
        assert "esc back" in focused[-1].text
        assert focused[0] != raised[0]
        # A class whose CSS changes only the border's colour: painted again all the same.
        panel.add_class("-stale")
        await pilot.pause()
        warned = painted(panel)
        assert [s.text for s in warned] == [s.text for s in changed]
        assert warned[0] != changed[0]
        panel.remove_class("-stale")
        await pilot.pause()
        assert painted(panel) == changed
        # A theme: the same text in other colours.
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        themed = painted(panel)
        assert [s.text for s in themed] == [s.text for s in changed]
        assert themed != changed


async def test_footer_keys_painted_once_follow_hover_and_bindings(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        footer = app.dashboard.query_one(Footer)
        keys = list(footer.query(FooterKey))
        assert keys
        assert all(isinstance(key, KeptPaint) for key in keys)
        buy = next(key for key in keys if key.description == "Buy")
        before = painted(buy)
        assert before[0].text.strip() == "b Buy"
        assert painted(buy) == before
        await pilot.hover(buy)
        await pilot.pause()
        hovered = painted(buy)
        assert hovered[0].text == before[0].text
        assert hovered != before  # the hover background
        await pilot.hover(app.dashboard.ladder)
        await pilot.pause()
        assert painted(buy) == before
