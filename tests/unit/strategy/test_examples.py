"""The example strategies' decisions on hand-built books, through the real host, risk and
execution (paper mode, so each decision is an order that can be inspected)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.orders import Order
from hftui.protocol import Mode, Side, TimeInForce
from strategies.market_maker import quotes
from tests.unit.strategy.rig import BTC_MID, ETH_MID, Rig, book_of, ladder, make_rig

MOMENTUM = (
    ("symbol", "BTCUSDT"),
    ("fast_s", 0.5),
    ("slow_s", 5.0),
    ("entry_bps", 1.0),
    ("exit_bps", 0.2),
    ("cooldown_s", 1.0),
)
SECOND = 1_000_000_000


def orders(rig: Rig) -> list[Order]:
    return rig.execution.tracker.open_orders()


def trend(rig: Rig, step_ticks: int, bid_lots: int, ask_lots: int, steps: int = 50) -> None:
    # One book every 100 ms, the touch moving `step_ticks` each time.
    for k in range(steps):
        rig.feed(ladder("BTCUSDT", BTC_MID + k * step_ticks, bid_lots, ask_lots), k * SECOND // 10)


def test_momentum_buys_a_rising_market_with_bids_behind_it() -> None:
    async def run() -> None:
        rig = make_rig(("momentum",), mode=Mode.PAPER, params=(("momentum", MOMENTUM),))
        trend(rig, 5, bid_lots=80, ask_lots=20)
        placed = orders(rig)
        assert len(placed) == 1
        intent = placed[0].intent
        assert (intent.side, intent.tif, intent.strategy) == (Side.BUY, TimeInForce.IOC, "momentum")
        assert (intent.price - BTC_MID - 1) % 5 == 0  # the best ask of the book it saw
        assert 2 <= intent.qty <= 6  # between qty and max_qty, in lots of 0.001

    asyncio.run(run())


def test_momentum_sells_a_falling_market_and_ignores_a_book_leaning_against_it() -> None:
    async def run() -> None:
        rig = make_rig(("momentum",), mode=Mode.PAPER, params=(("momentum", MOMENTUM),))
        trend(rig, -5, bid_lots=20, ask_lots=80)
        assert [o.intent.side for o in orders(rig)] == [Side.SELL]
        against = make_rig(("momentum",), mode=Mode.PAPER, params=(("momentum", MOMENTUM),))
        trend(against, 5, bid_lots=20, ask_lots=80)  # rising, but sellers stacked
        assert orders(against) == []
        flat = make_rig(("momentum",), mode=Mode.PAPER, params=(("momentum", MOMENTUM),))
        trend(flat, 0, bid_lots=80, ask_lots=20)
        assert orders(flat) == []

    asyncio.run(run())


def test_momentum_exits_with_a_reduce_only_order_when_the_trend_fades() -> None:
    async def run() -> None:
        rig = make_rig(("momentum",), mode=Mode.PAPER, params=(("momentum", MOMENTUM),))
        rig.execution.paper.see_book("BTCUSDT", ladder("BTCUSDT", BTC_MID, 80, 20))
        k = 0
        while not orders(rig):  # rising until it buys; the paper matcher has that book
            k += 1
            book = ladder("BTCUSDT", BTC_MID + k * 5, 80, 20)
            rig.execution.paper.see_book("BTCUSDT", book)
            rig.feed(book, k * SECOND // 10)
        context = rig.host.slots["momentum"].context
        assert context is not None
        for _ in range(100):  # the IOC fills in the paper matcher
            if context.position("BTCUSDT"):
                break
            await asyncio.sleep(0.01)
        held = context.position("BTCUSDT")
        assert held > 0
        top = BTC_MID + k * 5
        for later in range(k + 1, k + 200):  # flat: the fast average catches up, the trend fades
            rig.feed(ladder("BTCUSDT", top, 50, 50), later * SECOND // 10)
        exits = [o.intent for o in orders(rig) if o.intent.reduce_only]
        assert exits
        assert exits[0].side == Side.SELL
        assert exits[0].qty == held

    asyncio.run(run())


@settings(max_examples=300, deadline=None)
@given(
    mid=st.floats(1_000, 10_000_000),
    inventory=st.floats(-10, 10),
    sigma=st.floats(0.1, 50),
    gamma=st.floats(0.01, 1),
    kappa=st.floats(0.1, 10),
    horizon=st.floats(0.5, 60),
    min_spread=st.integers(1, 10),
)
def test_avellaneda_stoikov_quotes_are_ordered_wide_enough_and_skewed_by_inventory(
    mid: float,
    inventory: float,
    sigma: float,
    gamma: float,
    kappa: float,
    horizon: float,
    min_spread: int,
) -> None:
    bid, ask = quotes(mid, inventory, sigma**2, gamma, kappa, horizon, min_spread)
    assert ask - bid >= min_spread
    longer_bid, longer_ask = quotes(mid, inventory + 1, sigma**2, gamma, kappa, horizon, min_spread)
    assert longer_bid <= bid
    assert longer_ask <= ask


@settings(max_examples=60, deadline=None)
@given(
    bid=st.integers(ETH_MID - 1000, ETH_MID + 1000),
    spread=st.integers(1, 20),
    bid_lots=st.integers(1, 500),
    ask_lots=st.integers(1, 500),
)
def test_market_maker_quotes_both_sides_post_only_inside_risk(
    bid: int, spread: int, bid_lots: int, ask_lots: int
) -> None:
    async def run() -> None:
        rig = make_rig(("market_maker",), mode=Mode.PAPER)
        book = book_of("ETHUSDT", [(bid, bid_lots)], [(bid + spread, ask_lots)])
        rig.feed(book, SECOND)
        quotes_ = {o.intent.side: o.intent for o in orders(rig)}
        assert set(quotes_) == {Side.BUY, Side.SELL}
        assert quotes_[Side.BUY].price < book.best_ask()
        assert quotes_[Side.SELL].price > book.best_bid()
        assert all(
            q.tif == TimeInForce.GTX and q.strategy == "market_maker" for q in quotes_.values()
        )

    asyncio.run(run())


def test_market_maker_skews_with_inventory_and_requotes_within_its_rate_limit() -> None:
    async def run() -> None:
        rig = make_rig(("market_maker",), mode=Mode.PAPER)
        slot = rig.host.slots["market_maker"]
        rig.feed(ladder("ETHUSDT", ETH_MID, 100, 100), SECOND)
        first = {o.intent.side: o.intent.price for o in orders(rig)}
        assert getattr(slot.strategy, "requotes") == 1  # noqa: B009
        # The market moves 10 ticks 100 ms later: inside the 500 ms limit, nothing moves.
        rig.feed(ladder("ETHUSDT", ETH_MID + 10, 100, 100), SECOND + SECOND // 10)
        assert getattr(slot.strategy, "requotes") == 1  # noqa: B009
        # After the limit the quotes follow the book (cancel and replace).
        rig.feed(ladder("ETHUSDT", ETH_MID + 10, 100, 100), 2 * SECOND)
        moved = {o.intent.side: o.intent.price for o in orders(rig) if not o.cancel_requested}
        assert moved[Side.BUY] == first[Side.BUY] + 10
        assert moved[Side.SELL] == first[Side.SELL] + 10
        # A long inventory (as if bought) lowers both quotes.
        _holds(rig, 30)  # three clips long
        rig.feed(ladder("ETHUSDT", ETH_MID + 10, 100, 100), 4 * SECOND)
        skewed = {o.intent.side: o.intent.price for o in orders(rig) if not o.cancel_requested}
        assert skewed[Side.BUY] < moved[Side.BUY]
        assert skewed[Side.SELL] < moved[Side.SELL]

    asyncio.run(run())


def _holds(rig: Rig, lots: int) -> None:
    # As if the market maker had bought `lots` of ETHUSDT in paper: its own book says so.
    rig.execution.account.strategy_book(Mode.PAPER, "market_maker", "ETHUSDT").lots = lots


def test_market_maker_stops_adding_at_its_inventory_limit() -> None:
    async def run() -> None:
        rig = make_rig(("market_maker",), mode=Mode.PAPER)
        _holds(rig, 50)  # at max_inventory 0.050
        rig.feed(ladder("ETHUSDT", ETH_MID, 100, 100), SECOND)
        assert [o.intent.side for o in orders(rig)] == [Side.SELL]

    asyncio.run(run())


def test_market_maker_moves_only_the_side_whose_target_moved() -> None:
    async def run() -> None:
        # A tiny gamma: three clips of inventory shift the quotes by well under a tick.
        params = (("market_maker", (("gamma", 0.001),)),)
        rig = make_rig(("market_maker",), mode=Mode.PAPER, params=params)
        slot = rig.host.slots["market_maker"]
        book = ladder("ETHUSDT", ETH_MID, 100, 100)
        rig.feed(book, SECOND)
        first = {o.intent.side: o for o in orders(rig)}
        assert set(first) == {Side.BUY, Side.SELL}
        _holds(rig, 50)  # at max_inventory: no more bids
        rig.feed(book, 2 * SECOND)
        assert getattr(slot.strategy, "requotes") == 2  # noqa: B009
        assert first[Side.BUY].cancel_requested
        ask = rig.execution.tracker.get(first[Side.SELL].client_id)
        assert ask is not None
        assert ask.open
        assert not ask.cancel_requested  # same price: kept, with its place in the queue
        assert [o.client_id for o in orders(rig) if not o.cancel_requested] == [ask.client_id]
        # Stale quotes are sent afresh even at the same price.
        rig.feed(book, 40 * SECOND)
        assert ask.cancel_requested
        fresh = [o for o in orders(rig) if not o.cancel_requested]
        assert [(o.intent.side, o.intent.price) for o in fresh] == [(Side.SELL, ask.intent.price)]

    asyncio.run(run())
