"""Pilot tests of the dashboard's key flows, fed from a real shared-memory region."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from textual.strip import Strip
from textual.widgets import Static

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink, EngineStatus
from hftui.protocol import FeedState, Mode
from hftui.screens.help import HelpScreen
from hftui.screens.quit import QuitScreen
from hftui.widgets.health_bar import fit
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


def lines(strips: Iterator[Strip]) -> list[str]:
    return [strip.text for strip in strips]


def ladder_lines(app: HftuiApp) -> list[str]:
    ladder = app.dashboard.ladder
    return lines(ladder.render_line(y) for y in range(ladder.size.height))


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
        assert ladder.border_title == "BTCUSDT book"
        assert ladder.border_subtitle == "id 123456 · age <1s"
        assert not ladder.has_class("-stale")
        assert app.dashboard.tape.border_title == "BTCUSDT trades"
        await pilot.press("tab")
        assert app.selected == 1
        assert ladder.view is not None
        assert ladder.view.symbol == "ETHUSDT"
        assert app.dashboard.tape.border_title == "ETHUSDT trades"
        await pilot.press("right_square_bracket")
        assert app.selected == 0
        await pilot.press("2")
        assert app.selected == 1
        await pilot.press("shift+tab")
        assert app.selected == 0
        await pilot.press("left_square_bracket")
        assert app.selected == 1
        await pilot.press("8")  # no eighth symbol: stays put
        assert app.selected == 1


@pytest.mark.parametrize("size", SIZES)
async def test_ladder_has_asks_above_the_spread_and_bids_below(
    region: SnapshotWriter, size: tuple[int, int]
) -> None:
    app = make_app(region)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        rows = ladder_lines(app)
        assert rows[0].split()[:4] == ["price", "size", "cum", "depth"]
        mid = next(y for y, row in enumerate(rows) if "mid 64000.15" in row)
        assert "spread 0.10" in rows[mid]
        assert rows[mid - 1].split()[0] == "64000.20"  # best ask just above
        assert rows[mid + 1].split()[0] == "64000.10"  # best bid just below
        assert rows[mid + 2].split()[:3] == ["64000.00", "0.625", "0.750"]
        shown = sum(1 for row in rows if row.strip()[:1].isdigit())
        # As many levels as fit: 4 asks and 4 bids at 80x24 (above the positions and orders
        # panels), all 20 a side at 200x60.
        assert shown == (8 if size == (80, 24) else 40)
        width = app.dashboard.ladder.size.width
        assert all(len(row) == width for row in rows)
        deepest_bid = [row for row in rows[mid + 1 :] if row.strip()[:1].isdigit()][-1]
        # The deepest level on screen fills the bar (wide, up to the distance column).
        bar = deepest_bid.rstrip()
        if size != (80, 24):
            bar = bar.rsplit(" ", 1)[0].rstrip()  # the distance from mid, in ticks
        assert bar.endswith("█")


async def test_tape_lists_newest_trades_first(region: SnapshotWriter) -> None:
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        tape = app.dashboard.tape
        rows = lines(tape.render_line(y) for y in range(3))
        assert rows[0].split() == ["time", "UTC", "side", "price", "qty"]
        assert rows[1].split() == ["11:06:39.750", "SELL", "64000.10", "0.070"]
        assert rows[2].split() == ["11:06:39.500", "BUY", "64000.30", "0.060"]


async def test_help_opens_and_closes(region: SnapshotWriter) -> None:
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        headings = [heading for heading, _ in app.screen.sections]
        for heading in ("Dashboard", "Mode dialog", "Confirmations", "Quit dialog", "This help"):
            assert heading in headings
        keys = [key for key, _ in app.screen.rows]
        assert "q" in keys
        assert "tab, ]" in keys
        assert "s, y" in keys
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark", "escape")
        assert not isinstance(app.screen, HelpScreen)


def test_every_binding_has_an_id_and_a_tooltip() -> None:
    from hftui.screens.dashboard import DashboardScreen

    for screen in (HftuiApp, DashboardScreen, HelpScreen, QuitScreen):
        for binding in screen.BINDINGS:
            assert not isinstance(binding, tuple)
            assert binding.id, binding
            assert binding.tooltip, binding


@pytest.mark.parametrize(
    ("spawned", "keys", "result"),
    [
        (True, ["q", "s"], "stop"),
        (True, ["q", "y"], "stop"),
        (True, ["q", "enter"], "stop"),
        (True, ["q", "l"], "leave"),
        (True, ["q", "n"], "leave"),
        (False, ["q", "enter"], "leave"),
        (False, ["q", "s"], "stop"),
        (False, ["ctrl+c", "l"], "leave"),
        (True, ["ctrl+q", "s"], "stop"),  # Textual's instant quit asks here too
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
        await app.run_action("quit")  # as the command palette's Quit does
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
    assert app.return_value is None


@pytest.mark.parametrize("cancel", [True, False])
async def test_quit_says_what_the_dead_man_policy_does_to_an_engine_left_running(
    region: SnapshotWriter, cancel: bool
) -> None:
    region.begin_header()
    region.header["tui_pid"] = os.getpid()  # this TUI controls the engine
    region.header["dead_man_cancel"] = int(cancel)
    region.header["dead_man_after_ms"] = 7_500
    region.end_header()
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        text = " ".join(str(app.screen.query_one("#quit-left-alone", Static).render()).split())
        if cancel:
            assert text.startswith("Left running, 7.5s after this TUI quits the engine cancels")
        else:
            assert "keeps trading without a TUI (dead-man policy keep)" in text
        await pilot.press("escape")
        # A TUI that only watches leaves nothing behind when it goes: no such line.
        region.begin_header()
        region.header["tui_pid"] = os.getpid() + 1
        region.end_header()
        await pilot.pause(0.2)
        await pilot.press("q")
        assert not app.screen.query("#quit-left-alone")


async def test_dead_engine_is_unmissable(region: SnapshotWriter) -> None:
    fill_header(region, heartbeat_age_s=9.0)
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        banner = app.dashboard.banner
        assert banner.has_class("-down")
        assert "ENGINE NOT RESPONDING" in banner.text
        ladder = app.dashboard.ladder
        assert ladder.message == "engine not responding"
        assert ladder.has_class("-stale")
        assert any("engine not responding · last mid 64000.15" in row for row in ladder_lines(app))
        assert app.dashboard.tape.stale
        health = "".join(text for text, _ in fit(app.view, 80))
        assert "engine not responding: feed state unknown" in health
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        assert not app.screen.engine_alive


async def test_waiting_for_an_engine_that_has_not_published() -> None:
    with frozen_region(published=False) as writer:
        app = make_app(writer)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.view.status is EngineStatus.WAITING
            banner = app.dashboard.banner
            assert banner.has_class("-waiting")
            assert "WAITING FOR ENGINE" in banner.text
            assert app.dashboard.ladder.message == "waiting for engine…"
            assert any("waiting for engine…" in row for row in ladder_lines(app))
            assert app.dashboard.symbol_bar.symbols == ("BTCUSDT", "ETHUSDT")  # the hint
            await pilot.press("2")
            assert app.selected == 1
            # The engine comes up: the next frame shows it, no key needed.
            fill_header(writer)
            fill_symbol(writer, 0)
            fill_symbol(writer, 1)
            await pilot.pause(0.2)
            assert banner.has_class("-observe")
            assert app.dashboard.ladder.view is not None
            assert app.dashboard.ladder.view.symbol == "ETHUSDT"


@pytest.mark.parametrize(
    ("mode", "killed", "css_class", "words"),
    [
        (Mode.OBSERVE, False, "-observe", "OBSERVE"),
        (Mode.PAPER, False, "-paper", "PAPER"),
        (Mode.LIVE, False, "-live", "LIVE"),
        (Mode.LIVE, True, "-killed", "KILLED · LIVE"),
    ],
)
async def test_mode_banner(
    region: SnapshotWriter, mode: Mode, killed: bool, css_class: str, words: str
) -> None:
    fill_header(region, mode=mode, killed=killed)
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        banner = app.dashboard.banner
        assert banner.has_class(css_class)
        assert banner.text.split("│")[0].strip() == words
        assert "engine up pid 4242" in banner.text


async def test_stale_and_unsynced_books_are_marked(region: SnapshotWriter) -> None:
    fill_symbol(region, 0, age_s=3.0, feed_state=FeedState.STALE)
    fill_symbol(region, 1, synced=False)
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        ladder = app.dashboard.ladder
        assert ladder.has_class("-stale")
        assert ladder.border_subtitle == "id 123456 · STALE 3s"
        await pilot.press("2")
        assert ladder.view is not None
        assert not ladder.view.synced
        assert ladder.border_subtitle == "id 123456 · syncing"
        assert any("syncing…" in row for row in ladder_lines(app))
        health = "".join(text for text, _ in fit(app.view, 200))
        assert "BTCUSDT stale ETHUSDT syncing" in health


async def test_widgets_repaint_only_when_their_data_changes(region: SnapshotWriter) -> None:
    app = make_app(region)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        ladder, tape = app.dashboard.ladder, app.dashboard.tape
        shown, trades = ladder.view, tape.trades
        app.poll_engine()
        app.poll_engine()
        assert ladder.view is shown  # same block, same age as shown: nothing to redraw
        fill_symbol(region, 0, last_update_id=123_457)
        app.poll_engine()
        assert ladder.view is not shown
        assert ladder.border_subtitle == "id 123457 · age <1s"
        assert tape.trades is trades  # no new trade: the tape keeps its rows


def test_health_bar_keeps_what_matters_on_a_narrow_terminal() -> None:
    with frozen_region() as writer:
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
        wide = "".join(text for text, _ in fit(link.poll(), 200))
        assert wide == (
            " BTCUSDT live ETHUSDT live │ stream up │ 150 msg/s │ gaps 0 resyncs 0 │ bad 0"
            " │ reconnects 0 │ engine up 1m00s │ local"
        )
        fill_header(writer, ws_connected=False)
        narrow = "".join(text for text, _ in fit(link.poll(), 41))
        assert narrow == " feeds 2/2 live │ STREAM DOWN │ 150 msg/s"
        fill_header(writer, stream_url="", n_symbols=0)
        starting = "".join(text for text, _ in fit(link.poll(), 80))
        assert starting == " engine starting: no feeds yet │ local"
        link.close()


def test_depth_bar() -> None:
    assert depth_bar(0, 10, 4) == "    "
    assert depth_bar(10, 10, 4) == "████"
    assert depth_bar(5, 10, 4) == "██  "
    assert depth_bar(1, 16, 2) == "▏ "
    assert depth_bar(3, 0, 3) == "   "
    assert depth_bar(20, 10, 3) == "███"  # never wider than its cells
