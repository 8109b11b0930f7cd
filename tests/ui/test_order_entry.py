"""Pilot tests of the order ticket: b / s from the dashboard, live checks while typing, the
engine's answer inline, escape, and the kill switch from inside the ticket; over real
command and event rings with the stub engine answering as the engine does."""

from __future__ import annotations

import dataclasses

import pytest
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Static

from hftui.app import HftuiApp
from hftui.link import SymbolView
from hftui.protocol import Kill, Mode, OrderType, PlaceOrder, Reason, Side
from hftui.screens.order_entry import Choice, OrderEntryScreen, check_ticket
from tests.ui.conftest import Desk, eventually

SIZES = [(80, 24), (160, 48)]


def current(app: HftuiApp) -> Screen[object]:
    return app.screen


def ticket(app: HftuiApp) -> OrderEntryScreen:
    screen = current(app)
    assert isinstance(screen, OrderEntryScreen)
    return screen


def field(app: HftuiApp, name: str) -> Input:
    return ticket(app).query_one(f"#ticket-{name}", Input)


def line(app: HftuiApp, name: str) -> str:
    return str(ticket(app).query_one(f"#ticket-{name}", Static).render())


def orders_sent(desk: Desk) -> list[PlaceOrder]:
    return [c for c in desk.engine.received if isinstance(c, PlaceOrder)]


async def type_into(pilot: Pilot[str], app: HftuiApp, name: str, text: str) -> None:
    box = field(app, name)
    box.focus()
    box.value = ""
    await pilot.press(*text)
    await pilot.pause()  # let the ticket see the change


def paper(desk: Desk) -> None:
    desk.engine.mode = Mode.PAPER
    desk.engine.publish_header()


@pytest.mark.parametrize("size", SIZES)
async def test_buy_at_the_best_bid_is_sent_and_rests(desk: Desk, size: tuple[int, int]) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b")
        screen = ticket(app)
        assert screen.side is Side.BUY
        assert field(app, "price").value == "64000.10"  # no ladder cursor: the best bid
        assert app.focused is field(app, "qty")
        assert line(app, "problem") == "qty: type a quantity"
        await pilot.press(*"0.010")
        assert line(app, "problem") == "ready to send"
        assert line(app, "preview") == "notional 640.00 USDT · position 0.000 → +0.010"
        await pilot.press("enter")
        await eventually(pilot, lambda: current(app) is app.dashboard)
        assert orders_sent(desk) == [
            PlaceOrder("BTCUSDT", Side.BUY, "0.010", "64000.10", OrderType.LIMIT)
        ]
        assert app.notice is not None
        assert app.notice.text == "paper order tui-1: BUY 0.010 BTCUSDT @ 64000.10"
        # The order shows in the orders panel and, as B, on its ladder level.
        await eventually(pilot, lambda: len(app.dashboard.orders.orders) == 1)
        await pilot.pause(0.1)
        ladder = app.dashboard.ladder
        rows = [ladder.render_line(y).text for y in range(ladder.size.height)]
        marked = [r for r in rows if r.startswith(" B ")]
        assert len(marked) == 1
        assert marked[0].split()[1] == "64000.10"
        # The next ticket on this symbol starts with the last quantity.
        await pilot.press("s")
        assert field(app, "qty").value == "0.010"
        assert field(app, "price").value == "64000.20"  # the best ask to sell


async def test_keys_read_in_one_burst_with_enter_all_reach_the_order(desk: Desk) -> None:
    # A fast typist or a pasted "0.004\r" over SSH: the terminal hands the app every key at
    # once, and enter (a priority binding) is seen before the field has taken the digits.
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b")
        for key in [*"0.004", "enter"]:
            app.post_message(events.Key(key, "\r" if key == "enter" else key))
        await eventually(pilot, lambda: current(app) is app.dashboard)
        assert orders_sent(desk) == [
            PlaceOrder("BTCUSDT", Side.BUY, "0.004", "64000.10", OrderType.LIMIT)
        ]
        # Over a quantity the ticket started with (the last one sent), the burst replaces it.
        await pilot.press("b")
        assert field(app, "qty").value == "0.004"
        for key in [*"0.007", "enter"]:
            app.post_message(events.Key(key, "\r" if key == "enter" else key))
        await eventually(pilot, lambda: len(orders_sent(desk)) == 2)
        assert orders_sent(desk)[1].qty == "0.007"


async def test_ladder_cursor_prefills_the_price(desk: Desk) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        assert app.focused is app.dashboard.ladder
        await pilot.press("up", "up", "k")  # best ask, then two levels higher
        assert app.dashboard.ladder.cursor_price == "64000.40"
        await pilot.press("j")
        assert app.dashboard.ladder.cursor_price == "64000.30"
        await pilot.press("s")
        assert ticket(app).side is Side.SELL
        assert field(app, "price").value == "64000.30"
        await pilot.press("escape")
        assert current(app) is app.dashboard
        await pilot.press("escape", "b")  # escape on the ladder drops the cursor
        assert app.dashboard.ladder.cursor_price is None
        assert field(app, "price").value == "64000.10"


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("qty", "0", "qty: must be more than 0"),
        ("qty", "abc", "qty: 'abc' is not a number"),
        ("qty", "0.0001", "qty: BTCUSDT trades in steps of 0.001 (3 decimals)"),
        ("price", "64000.15", "price: off the tick 0.10; try 64000.10 or 64000.20"),
        ("price", "6.4e4", "price: '6.4e4' is not a number"),
        ("price", "", "price: a limit order needs a price"),
    ],
    ids=["qty zero", "qty text", "qty too fine", "price off tick", "price exponent", "no price"],
)
async def test_invalid_input_is_blocked_with_a_message(
    desk: Desk, name: str, text: str, problem: str
) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b", *"0.010")
        assert line(app, "problem") == "ready to send"
        await type_into(pilot, app, name, text)
        assert line(app, "problem") == problem  # said while typing, before enter
        await pilot.press("enter")
        assert line(app, "answer") == f"not sent: {problem}"
        assert isinstance(current(app), OrderEntryScreen)
        await pilot.pause(0.1)
        assert orders_sent(desk) == []
        # Editing the field again clears the refusal: it was about what was there before.
        await pilot.press("1")
        assert line(app, "answer") == ""


async def test_risk_refusal_is_shown_in_the_ticket(desk: Desk) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b", *"0.010")
        await type_into(pilot, app, "price", "70000.00")  # 937 bps above mid
        assert line(app, "problem") == "ready to send"  # the band is the engine's to judge
        await pilot.press("enter")
        expected = "refused, PRICE_BAND: price 70000.00 is 937 bps from mid; the band is 500 bps"
        await eventually(pilot, lambda: line(app, "answer") == expected)
        assert isinstance(current(app), OrderEntryScreen)  # still open, to fix the price
        assert app.notice is not None
        assert app.notice.text == expected  # and on the notice line
        assert ticket(app).query_one("#ticket-answer").has_class("-bad")
        await type_into(pilot, app, "price", "63990.00")
        await pilot.press("enter")
        await eventually(pilot, lambda: current(app) is app.dashboard)
        assert [o.price for o in orders_sent(desk)] == ["70000.00", "63990.00"]


async def test_market_order_with_flags(desk: Desk) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("s", *"0.500")
        screen = ticket(app)
        kind = screen.query_one("#ticket-type", Choice)
        kind.focus()
        await pilot.press("right")
        assert kind.value == "MARKET"
        assert field(app, "price").disabled
        assert screen.query_one("#ticket-post-only", Checkbox).disabled
        assert line(app, "preview") == "notional ≈ 32000.05 USDT · position 0.000 → -0.500"
        screen.query_one("#ticket-reduce-only", Checkbox).focus()
        await pilot.press("space")
        assert line(app, "preview").endswith("the engine will refuse")  # flat: nothing to reduce
        await pilot.press("enter")
        await eventually(pilot, lambda: current(app) is app.dashboard)
        assert orders_sent(desk) == [
            PlaceOrder(
                "BTCUSDT",
                Side.SELL,
                "0.500",
                "",
                OrderType.MARKET,
                post_only=False,
                reduce_only=True,
            )
        ]


async def test_post_only_limit_and_side_switch(desk: Desk) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b", *"0.002")
        screen = ticket(app)
        side = screen.query_one("#ticket-side", Choice)
        side.focus()
        await pilot.press("right")
        assert screen.side is Side.SELL
        assert "SELL BTCUSDT" in str(screen.query_one("#ticket-box").border_title)
        screen.query_one("#ticket-post-only", Checkbox).focus()
        await pilot.press("space")
        # Selling at the best bid would take: post-only there is refused by the venue.
        assert line(app, "preview").endswith(
            "crosses the best bid 64000.10: a post-only order would be refused"
        )
        await type_into(pilot, app, "price", "64000.60")
        await pilot.press("enter")
        await eventually(pilot, lambda: current(app) is app.dashboard)
        assert orders_sent(desk) == [
            PlaceOrder("BTCUSDT", Side.SELL, "0.002", "64000.60", OrderType.LIMIT, post_only=True)
        ]


async def test_escape_sends_nothing(desk: Desk) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b", *"0.010", "escape")
        assert current(app) is app.dashboard
        await pilot.pause(0.1)
        assert orders_sent(desk) == []


@pytest.mark.parametrize("size", SIZES)
async def test_kill_from_inside_the_ticket(desk: Desk, size: tuple[int, int]) -> None:
    paper(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b", *"0.010")
        qty = field(app, "qty")
        assert app.focused is qty  # an Input binds ctrl+k itself: the app's must win
        box = ticket(app).query_one("#ticket-box")
        assert box.border_title == "BUY BTCUSDT · paper"
        await pilot.press("home", "ctrl+k")
        await eventually(pilot, lambda: desk.engine.received == [Kill(flatten=False)])
        await eventually(pilot, lambda: app.view.killed)
        assert qty.value == "0.010"  # the input did not see the key
        assert isinstance(current(app), OrderEntryScreen)  # what was open stays open
        # The kill dropped the engine to observe: the title says so, not "paper".
        await eventually(pilot, lambda: box.border_title == "BUY BTCUSDT · observe")
        # An order sent now is refused by the latch, and the ticket says so.
        await pilot.press("enter")
        expected = f"refused, KILLED: {Reason.KILLED.text}"
        await eventually(pilot, lambda: line(app, "answer") == expected)


async def test_an_open_ticket_follows_the_book_and_the_position(desk: Desk) -> None:
    """A price that was passive when the ticket opened may cross a book that has moved
    since: the ticket judges against the book of now, and keeps what was typed."""
    paper(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.pause()
        await pilot.press("b", *"0.010")
        screen = ticket(app)
        screen.query_one("#ticket-post-only", Checkbox).value = True
        await pilot.pause()
        assert field(app, "price").value == "64000.10"  # the best bid: passive
        assert line(app, "preview") == "notional 640.00 USDT · position 0.000 → +0.010"
        assert screen.query_one("#ticket-box").border_subtitle == "bid 64000.10 · ask 64000.20"
        # The market falls 0.30 under the ticket: a bid at 64000.10 now crosses the ask.
        region = desk.region
        region.begin_symbol(0)
        block = region.symbol(0)
        for k in range(len(block["bid_px"])):
            block["bid_px"][k] -= 30
            block["ask_px"][k] -= 30
        block["best_bid"] -= 30
        block["best_ask"] -= 30
        region.end_symbol(0)
        crossing = "crosses the best ask 63999.90: a post-only order would be refused"
        await eventually(pilot, lambda: line(app, "preview").endswith(crossing))
        assert screen.query_one("#ticket-box").border_subtitle == "bid 63999.80 · ask 63999.90"
        assert (field(app, "qty").value, field(app, "price").value) == ("0.010", "64000.10")
        # A fill elsewhere changes the position the preview starts from.
        desk.engine.publish_position(
            0, position=5, entry=6_399_980, realized=0.0, unrealized=0.0, fees=0.0, mark=0.0
        )
        await eventually(pilot, lambda: "position +0.005 → +0.015" in line(app, "preview"))
        assert isinstance(current(app), OrderEntryScreen)


async def test_watching_tui_opens_no_ticket(desk: Desk) -> None:
    app = desk.app(connected=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        assert current(app) is app.dashboard
        assert app.notice is not None
        assert app.notice.title == "buy"
        assert app.notice.text.startswith("not sent: no command channel")


def _btc(**changes: object) -> SymbolView:
    # The ticket's checks need only the grid, the touch and the position.
    base = SymbolView(
        symbol="BTCUSDT",
        seq=2,
        synced=True,
        feed_state=0,  # type: ignore[arg-type]
        last_update_id=1,
        age_s=0.1,
        age="<1s",
        bids=(),
        asks=(),
        best_bid="64000.10",
        best_ask="64000.20",
        spread="0.10",
        mid="64000.15",
        price_width=8,
        qty_width=5,
        cum_width=5,
        trade_count=0,
        trades=(),
        trade_price_width=5,
        trade_qty_width=3,
        gaps=0,
        resyncs=0,
        msgs_total=0,
        price_decimals=2,
        qty_decimals=3,
        tick_units=10,
        bid_units=6_400_010,
        ask_units=6_400_020,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_check_ticket_reduce_only_and_position_preview() -> None:
    short = _btc(position_units=-250, position="-0.250")
    buy_back = check_ticket(short, Side.BUY, OrderType.LIMIT, "0.100", "64000.00", reduce_only=True)
    assert buy_back.problems == ()
    assert buy_back.preview == "notional 6400.00 USDT · position -0.250 → -0.150"
    assert buy_back.warning == ""
    assert buy_back.command == PlaceOrder(
        "BTCUSDT", Side.BUY, "0.100", "64000.00", OrderType.LIMIT, reduce_only=True
    )
    flip = check_ticket(short, Side.BUY, OrderType.LIMIT, "0.300", "64000.00", reduce_only=True)
    assert "only reduce" in flip.warning
    crossing = check_ticket(_btc(), Side.BUY, OrderType.LIMIT, "0.001", "64000.30")
    assert crossing.warning == "crosses the best ask 64000.20: takes liquidity"
    post_market = check_ticket(_btc(), Side.BUY, OrderType.MARKET, "0.001", "", post_only=True)
    assert post_market.problems == ("post-only: only a limit order can be post-only",)
    assert post_market.command is None
