"""The journal screen over a real journal file written by the engine's own journal writer."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from hftui.app import HftuiApp
from hftui.engine.journal import Journal
from hftui.screens.journal import JournalScreen, read_page
from tests.support.region import FROZEN_NS
from tests.ui.conftest import Desk, eventually

S = 1_000_000_000


def write_journal(path: Path) -> None:
    """Three orders and two fills at fixed times, committed by the engine's writer thread."""
    journal = Journal(path)
    orders = (
        # client id, symbol, side, type, tif, qty, price, mode, created, status, filled, avg
        ("p-1", "BTCUSDT", "BUY", "LIMIT", "GTC", "0.010", "64000.10", "paper", 300,
         "FILLED", "0.010", "64000.10"),
        ("l-2", "ETHUSDT", "SELL", "LIMIT", "GTX", "0.100", "3200.01", "live", 200,
         "CANCELED", "0", ""),
        ("p-3", "BTCUSDT", "SELL", "MARKET", "GTC", "0.010", "", "paper", 100,
         "FILLED", "0.010", "63999.90"),
    )  # fmt: skip
    for cid, symbol, side, otype, tif, qty, price, mode, ago, status, filled, avg in orders:
        created = FROZEN_NS - ago * S
        journal.order_new(cid, symbol, side, otype, tif, qty, price, False, "manual", mode, created)
        journal.order_state(cid, status, filled, avg, "", 0, created + S)
    journal.fill("paper", "BTCUSDT", 11, "p-1", 0, "BUY", "0.010", "64000.10", 0.256, True,
                 "manual", (FROZEN_NS - 299 * S) // 1_000_000, "paper")  # fmt: skip
    journal.fill("paper", "BTCUSDT", 12, "p-3", 0, "SELL", "0.010", "63999.90", 0.32, False,
                 "manual", (FROZEN_NS - 99 * S) // 1_000_000, "paper")  # fmt: skip
    journal.close()


def journal_of(desk: Desk, app: HftuiApp) -> Path:
    path = app.journal_file()
    assert path.name == f"{desk.control.info.instance}.sqlite3"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def column(screen: JournalScreen, key: str) -> list[str]:
    table = screen.query_one("#journal-table", DataTable)
    return [str(v) for v in table.get_column(key)]


def status(screen: JournalScreen) -> str:
    return str(screen.query_one("#journal-status", Static).content)


async def open_journal(pilot: Pilot[str], app: HftuiApp) -> JournalScreen:
    await pilot.press("J")
    await eventually(pilot, lambda: isinstance(app.screen, JournalScreen))
    screen = app.screen
    assert isinstance(screen, JournalScreen)
    await eventually(pilot, lambda: screen.page is not None)
    return screen


async def test_orders_and_fills_filtered_newest_first(desk: Desk) -> None:
    app = desk.app()
    write_journal(journal_of(desk, app))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_journal(pilot, app)
        assert column(screen, "client_id") == ["p-3", "l-2", "p-1"]
        assert column(screen, "created_ns") == [
            "11-18 11:05:00",
            "11-18 11:03:20",
            "11-18 11:01:40",
        ]
        assert column(screen, "status") == ["filled", "canceled", "filled"]
        assert column(screen, "price") == ["market", "3200.01", "64000.10"]
        assert status(screen).startswith("3 orders, newest first")

        async def filtered(text: str) -> list[str]:
            keys = ["space" if c == " " else c for c in text]
            await pilot.press("slash", "ctrl+u", *keys)
            assert screen.query_one("#journal-filter", Input).has_focus
            await eventually(pilot, lambda: f"matching {text!r}" in status(screen))
            await pilot.press("enter")  # back to the table
            assert screen.query_one("#journal-table", DataTable).has_focus
            return column(screen, "client_id")

        assert await filtered("eth") == ["l-2"]
        assert status(screen).startswith("1 orders matching 'eth'")
        assert await filtered("side:sell") == ["p-3", "l-2"]
        assert await filtered("side:sell mode:paper") == ["p-3"]
        assert await filtered("status:filled BTC") == ["p-3", "p-1"]
        assert await filtered("100%") == []  # literal, not a wildcard
        assert await filtered("side:buy p-1") == ["p-1"]

        await pilot.press("slash", "ctrl+u", *"foo:bar")
        await eventually(pilot, lambda: "no foo: field" in status(screen))
        await pilot.press("escape")  # leaves the filter, keeps the screen
        assert isinstance(app.screen, JournalScreen)
        assert screen.query_one("#journal-table", DataTable).has_focus

        await pilot.press("slash", "ctrl+u", "enter", "t")
        await eventually(pilot, lambda: screen.page is not None and screen.page.table == "fills")
        assert column(screen, "trade_id") == ["12", "11"]
        assert column(screen, "maker") == ["taker", "maker"]
        assert column(screen, "fee") == ["0.32", "0.256"]
        assert column(screen, "time_ms") == ["11-18 11:05:01", "11-18 11:01:41"]
        assert status(screen).startswith("2 fills, newest first")
        assert await filtered("p-1") == ["p-1"]

        await pilot.press("t")
        await eventually(pilot, lambda: screen.page is not None and screen.page.table == "orders")
        assert column(screen, "client_id") == ["p-1"]  # the filter holds across tables

        await pilot.press("q")
        await eventually(pilot, lambda: not isinstance(app.screen, JournalScreen))


async def test_limit_and_count(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    write_journal(path)
    page = read_page(path, "orders", "", limit=2)
    assert page.matching == 3
    assert [row[-2] for row in page.rows] == ["p-3", "l-2"]  # client id, then strategy
    assert page.rows[0][:7] == (
        "11-18 11:05:00",
        "paper",
        "BTCUSDT",
        "sell",
        "0.010",
        "market",
        "filled",
    )


async def test_limited_screen_says_how_many(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    write_journal(path)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = JournalScreen(path, limit=2)
        await app.push_screen(screen)
        await eventually(pilot, lambda: screen.page is not None)
        assert status(screen).startswith("the newest 2 of 3 orders, newest first")


async def test_missing_journal_is_explained_and_not_created(desk: Desk) -> None:
    app = desk.app()
    path = app.journal_file()
    assert not path.exists()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_journal(pilot, app)
        assert status(screen).startswith(f"no journal at {path} yet")
        await pilot.press("t")
        await eventually(pilot, lambda: screen.page is not None and screen.page.table == "fills")
        assert "no journal" in status(screen)
        await pilot.press("r", "escape")
        await eventually(pilot, lambda: not isinstance(app.screen, JournalScreen))
    assert not path.exists()


async def test_not_a_database_is_explained(desk: Desk) -> None:
    app = desk.app()
    path = journal_of(desk, app)
    path.write_bytes(b"not sqlite at all" * 100)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_journal(pilot, app)
        assert status(screen).startswith(f"cannot read the journal {path}")
