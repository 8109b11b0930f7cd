"""Pilot tests of the dashboard's key flows, fed from a real shared-memory region."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink
from hftui.screens.help import HelpScreen
from hftui.screens.quit import QuitScreen
from hftui.widgets.ladder import depth_bar
from tests.support.region import FROZEN_NS, fill_header, fill_symbol, frozen_region

SIZES = [(80, 24), (200, 60)]


@pytest.fixture
def region() -> Iterator[SnapshotWriter]:
    with frozen_region() as writer:
        yield writer


def make_app(writer: SnapshotWriter, spawned: bool = True) -> HftuiApp:
    link = EngineLink(SnapshotReader(writer.name), engine_pid=4242, clock_ns=lambda: FROZEN_NS)
    return HftuiApp(link, spawned=spawned, refresh_hz=20, symbols_hint=("BTCUSDT", "ETHUSDT"))


@pytest.mark.parametrize("size", SIZES)
async def test_shows_the_book_and_switches_symbols(
    region: SnapshotWriter, size: tuple[int, int]
) -> None:
    app = make_app(region)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        ladder = app.dashboard.ladder
        assert ladder.view is not None
        assert ladder.view.symbol == "BTCUSDT"
        assert ladder.view.best_bid == "64000.10"
        assert ladder.view.best_ask == "64000.20"
        assert ladder.view.mid == "64000.15"
        assert not ladder.view.stale
        await pilot.press("tab")
        assert app.selected == 1
        assert app.dashboard.ladder.view is not None
        assert app.dashboard.ladder.view.symbol == "ETHUSDT"
        await pilot.press("right_square_bracket")
        assert app.selected == 0
        await pilot.press("2")
        assert app.selected == 1
        await pilot.press("shift+tab")
        assert app.selected == 0
        await pilot.press("8")  # no eighth symbol: stays put
        assert app.selected == 0


async def test_help_opens_and_closes(region: SnapshotWriter) -> None:
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [key for key, _ in app.screen.rows]
        assert "q" in keys
        assert any("tab" in k for k in keys)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize(
    ("spawned", "keys", "result"),
    [
        (True, ["q", "s"], "stop"),
        (True, ["q", "y"], "stop"),
        (True, ["q", "enter"], "stop"),
        (True, ["q", "l"], "leave"),
        (False, ["q", "enter"], "leave"),
        (False, ["ctrl+c", "s"], "stop"),
    ],
)
async def test_quit_choices(
    region: SnapshotWriter, spawned: bool, keys: list[str], result: str
) -> None:
    app = make_app(region, spawned=spawned)
    async with app.run_test(size=(80, 24)) as pilot:
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
    assert app.return_value == result


async def test_quit_can_be_cancelled_and_ctrl_c_works_from_a_modal(region: SnapshotWriter) -> None:
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, QuitScreen)
        await pilot.press("question_mark", "ctrl+c")  # quit is reachable from the help modal
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
    assert app.return_value is None


async def test_dead_engine_is_unmissable(region: SnapshotWriter) -> None:
    fill_header(region, heartbeat_age_s=9.0)
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        banner = app.dashboard.banner
        assert banner.has_class("-down")
        assert "ENGINE NOT RESPONDING" in str(banner.render())
        assert app.dashboard.ladder.message == "engine not responding"


async def test_stale_and_unsynced_books_are_marked(region: SnapshotWriter) -> None:
    fill_symbol(region, 0, age_s=3.0)
    fill_symbol(region, 1, synced=False)
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        ladder = app.dashboard.ladder
        assert ladder.has_class("-stale")
        await pilot.press("2")
        assert ladder.view is not None
        assert not ladder.view.synced
        assert ladder.view.bids == ()


def test_depth_bar() -> None:
    assert depth_bar(0, 10, 4) == "    "
    assert depth_bar(10, 10, 4) == "████"
    assert depth_bar(5, 10, 4) == "██  "
    assert depth_bar(1, 16, 2) == "▏ "
    assert depth_bar(3, 0, 3) == "   "
