"""Pilot tests of the dashboard's trading panels: positions and P&L, open orders with their
cursor and cancel key, and the ladder's own-order marks and cursor; fed from a real region
and the stub engine on real rings."""

from __future__ import annotations

import pytest
from textual.widget import Widget

from hftui.app import HftuiApp
from hftui.protocol import CancelOrder, Mode, OrderStatus, OrderType, Side
from tests.support.region import fill_header
from tests.ui.conftest import Desk, eventually
from tests.ui.stub_engine import StubOrder

SIZES = [(80, 24), (160, 48)]


def rendered(widget: Widget) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


def focused(app: HftuiApp) -> Widget | None:
    # Through a function, so that mypy keeps no narrowing of app.focused across key presses.
    return app.focused


def with_orders(desk: Desk) -> None:
    engine = desk.engine
    engine.mode = Mode.PAPER
    engine.orders = [
        StubOrder("tui-1", "BTCUSDT", Side.BUY, OrderType.LIMIT, 6_399_980, 10),
        StubOrder(
            "tui-2",
            "BTCUSDT",
            Side.SELL,
            OrderType.LIMIT,
            6_400_050,
            25,
            filled=5,
            status=OrderStatus.PARTIALLY_FILLED,
        ),
        StubOrder("mm-7", "ETHUSDT", Side.BUY, OrderType.LIMIT, 319_990, 1000, strategy="maker"),
    ]
    engine.publish_orders()
    engine.publish_header()


def with_position(desk: Desk) -> None:
    desk.engine.mode = Mode.PAPER
    desk.engine.publish_position(
        0,
        position=-250,
        entry=6_401_000,
        realized=12.5,
        unrealized=2.21,
        fees=0.42,
        mark=64000.11,
        funding=-0.07,
    )
    desk.engine.publish_header()


@pytest.mark.parametrize("size", SIZES)
async def test_positions_and_pnl(desk: Desk, size: tuple[int, int]) -> None:
    with_position(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        panel = app.dashboard.positions
        assert panel.border_title == "positions · paper"
        assert panel.border_subtitle == "age <1s"
        assert not panel.has_class("-stale")
        rows = rendered(panel)
        assert rows[0].split()[:2] == ["symbol", "position"]
        btc = rows[1].split()
        assert btc[:2] == ["BTCUSDT", "-0.250"]
        assert "+2.21" in btc  # unrealized and realized fit at 80
        assert "+12.50" in btc
        if size[0] >= 160:
            assert btc == [
                "BTCUSDT", "-0.250", "64010.00", "64000.11", "+2.21", "+12.50", "0.42", "-0.07"
            ]  # fmt: skip
        assert rows[2].split()[0] == "ETHUSDT"  # flat, listed after the shown symbol
        assert rows[-1].startswith(" today +14.22  real +12.50")
        # Switching symbols puts the shown one first.
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert rendered(panel)[1].split()[0] == "ETHUSDT"


async def test_positions_grey_out_when_the_engine_goes_quiet(desk: Desk) -> None:
    with_position(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:  # no engine serving: nothing refreshes
        await pilot.pause(0.1)
        panel = app.dashboard.positions
        assert not panel.has_class("-stale")
        fill_header(desk.region, heartbeat_age_s=9.0, mode=Mode.PAPER)
        await eventually(pilot, lambda: panel.has_class("-stale"))
        assert panel.border_subtitle == "STALE 9s"
        assert app.dashboard.orders.has_class("-stale")
        assert rendered(panel)[-1].startswith(" today +14.22")  # last known, greyed out


async def test_observe_shows_the_live_account(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        panel = app.dashboard.positions
        assert panel.border_title == "positions · live"
        assert "no live positions" in "".join(rendered(panel))
        assert rendered(panel)[-1].startswith(" today 0.00")


@pytest.mark.parametrize(
    ("size", "title"),
    [((160, 48), "positions · live · wallet 10,234.50"), ((80, 24), "live · wallet 10,234.50")],
)
async def test_the_live_wallet_shows_beside_the_live_account_only(
    desk: Desk, size: tuple[int, int], title: str
) -> None:
    region = desk.region
    region.begin_header()
    region.header["wallet_balance"] = 10_234.5
    region.header["balance_ms"] = 1_700_000_000_000
    region.end_header()
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        panel = app.dashboard.positions
        assert panel.border_title == title  # shortened, never cut through the number
        desk.engine.mode = Mode.PAPER  # paper's figures are not the live account's
        desk.engine.publish_header()
        await eventually(pilot, lambda: panel.border_title == "positions · paper")


@pytest.mark.parametrize("size", SIZES)
async def test_orders_panel_lists_and_cancels_the_selected(
    desk: Desk, size: tuple[int, int]
) -> None:
    with_orders(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        panel = app.dashboard.orders
        assert panel.border_title == "orders 3"
        rows = rendered(panel)
        first = rows[1].split()
        assert first[:2] == [">BTCUSDT", "BUY"]  # the cursor starts on the oldest
        for cell in ("63999.80", "0.010", "12s"):
            assert cell in first
        assert rows[3].split()[0] == "ETHUSDT"
        if size[0] >= 160:
            assert rows[2].split() == [
                "BTCUSDT",
                "SELL",
                "limit",
                "64000.50",
                "0.025",
                "0.005",
                "12s",
                "manual",
                "partial",
            ]
            assert "maker" in rows[3]
        # x only works on the focused panel: on the ladder it does nothing.
        await pilot.press("x")
        await pilot.pause(0.1)
        assert not any(isinstance(c, CancelOrder) for c in desk.engine.received)
        await pilot.press("o")
        assert focused(app) is panel
        await pilot.press("down", "j", "k")  # to the second order
        assert panel.selected is not None
        assert panel.selected.client_id == "tui-2"
        assert rendered(panel)[2].startswith(">BTCUSDT")
        await pilot.press("x")
        await eventually(pilot, lambda: len(panel.orders) == 2)
        assert desk.engine.received == [CancelOrder("tui-2")]
        assert app.notice is not None
        assert (app.notice.title, app.notice.text) == (
            "cancel tui-2",
            "cancel of paper order tui-2 requested",
        )
        # The cursor moves to the order that took the row.
        assert panel.selected is not None
        assert panel.selected.client_id == "mm-7"
        await pilot.press("escape")
        assert focused(app) is app.dashboard.ladder


async def test_cancel_refused_is_shown_on_the_notice_line(desk: Desk) -> None:
    with_orders(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        # Filled (or canceled from a shell) meanwhile: gone from the engine, not yet redrawn.
        desk.engine.orders.pop(0)
        await pilot.press("o", "x")
        await eventually(pilot, lambda: app.notice is not None and "NOT_FOUND" in app.notice.text)
        assert app.notice is not None
        assert app.notice.severity == "error"
        assert app.notice.text == "refused, NOT_FOUND: tui-1: no such order"
        assert "NOT_FOUND" in app.dashboard.notices.text


async def test_cancel_with_no_orders_says_so(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        assert "no open orders" in "".join(rendered(app.dashboard.orders))
        await pilot.press("o", "x")
        await pilot.pause(0.1)
        assert desk.engine.received == []


async def test_ladder_marks_own_orders(desk: Desk) -> None:
    with_orders(desk)
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        rows = rendered(app.dashboard.ladder)
        marks = {r.split()[1]: r.split()[0] for r in rows if r[1] in "BS"}
        assert marks == {"63999.80": "B", "64000.50": "S"}
        await pilot.press("2")  # ETHUSDT's book: its own order at 3199.90
        await pilot.pause(0.1)
        rows = rendered(app.dashboard.ladder)
        assert {r.split()[1] for r in rows if r[1] == "B"} == {"3199.90"}


async def test_ladder_cursor_follows_its_price_and_resets_on_symbol_change(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause(0.1)
        ladder = app.dashboard.ladder
        await pilot.press("down", "down")
        assert ladder.cursor_price == "64000.00"
        assert [r.split()[0] for r in rendered(ladder) if r.startswith(">")] == [">"]
        assert any(r.startswith(">") and "64000.00" in r for r in rendered(ladder))
        for _ in range(40):  # held at the last level on screen
            await pilot.press("down")
        assert ladder.cursor_price == "63999.80"
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert ladder.cursor_price is None
