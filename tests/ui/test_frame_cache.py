"""What the frame's caches keep must never show: rows reused by the link equal freshly
formatted ones, and panels drawn once redraw when their styles change."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink, EngineView
from tests.support.region import fill_symbol, frozen_region


@pytest.fixture
def region() -> Iterator[SnapshotWriter]:
    with frozen_region() as writer:
        yield writer


def fresh(region: SnapshotWriter, clock: Callable[[], int]) -> EngineView:
    # A link with nothing remembered formats every row from the region.
    link = EngineLink(SnapshotReader(region.name), 4242, clock_ns=clock)
    try:
        return link.poll()
    finally:
        link.close()


def test_reused_rows_are_the_rows_of_the_region(
    region: SnapshotWriter, frozen_clock: Callable[[], int]
) -> None:
    link = EngineLink(SnapshotReader(region.name), 4242, clock_ns=frozen_clock)
    try:
        before = link.poll().symbols[0]
        # New trades, one level's size and every level under it (cumulative) change.
        fill_symbol(region, 0, last_update_id=200_000, trades=75)
        region.begin_symbol(0)
        region.symbol(0)["bid_qty"][5] = 999
        region.end_symbol(0)
        after = link.poll().symbols[0]
        assert after == fresh(region, frozen_clock).symbols[0]
        assert after.bids[4] is before.bids[4]  # above the change: reused, not formatted
        assert after.bids[5] != before.bids[5]
        assert after.bids[6].cumulative != before.bids[6].cumulative
        assert after.trades[0] != before.trades[0]
    finally:
        link.close()


async def test_drawn_panels_follow_a_theme_change(
    region: SnapshotWriter, frozen_clock: Callable[[], int]
) -> None:
    link = EngineLink(SnapshotReader(region.name), 4242, clock_ns=frozen_clock)
    app = HftuiApp(link, spawned=True, refresh_hz=20)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        ladder, tape = app.dashboard.ladder, app.dashboard.tape
        ask = ladder.render_line(1)
        buy = tape.render_line(2)
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        # Same content, new colours: drawn again with the styles the theme resolves to.
        assert ladder.render_line(1).text == ask.text
        assert ladder.render_line(1) != ask
        assert tape.render_line(2).text == buy.text
        assert tape.render_line(2) != buy
        assert ladder.render_line(1)._segments[1].style == ladder.get_component_rich_style(
            "ladder--ask"
        )
