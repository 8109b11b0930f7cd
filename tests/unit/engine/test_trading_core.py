"""Order tracker, risk gate and paper matcher: real instruments and books, hypothesis where
order of arrival or input shape matters."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook
from hftui.engine.instrument import Instrument, parse_instruments
from hftui.engine.intents import ClientId, Lots, OrderIntent, Ticks, VenueUpdate
from hftui.engine.orders import OrderTracker, update_from_rest, update_from_stream
from hftui.engine.paper import PaperConfig, PaperMatcher
from hftui.engine.risk import Exposure, RiskEngine, RiskLimits, SymbolExposure, SymbolLimits
from hftui.exchange.symbols import exchange_info
from hftui.protocol import OrderStatus, OrderType, Reason, Side, TimeInForce

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT", "ETHUSDT"), 0), ["BTCUSDT", "ETHUSDT"])
BTC: Instrument = INSTRUMENTS["BTCUSDT"]
CID = ClientId("m-test-1")


# ---- orders -------------------------------------------------------------------------------


def _lifecycle(qty: int, fills: list[int], end: OrderStatus) -> list[VenueUpdate]:
    """Every update a venue would send for one order: stream events per trade and REST
    answers along the way (with the cumulative figures only)."""
    updates = [VenueUpdate(CID, "BTCUSDT", OrderStatus.NEW, 7, source="stream")]
    updates.append(VenueUpdate(CID, "BTCUSDT", OrderStatus.NEW, 7, source="rest"))
    filled = 0
    for n, lots in enumerate(fills, start=1):
        filled += lots
        status = OrderStatus.FILLED if filled == qty else OrderStatus.PARTIALLY_FILLED
        updates.append(
            VenueUpdate(
                CID,
                "BTCUSDT",
                status,
                7,
                Lots(filled),
                640_000 + n,
                Lots(lots),
                Ticks(640_000),
                n,
                0.01,
                True,
            )
        )
        updates.append(
            VenueUpdate(CID, "BTCUSDT", status, 7, Lots(filled), 640_000 + n, source="rest")
        )
    if filled < qty:
        updates.append(VenueUpdate(CID, "BTCUSDT", end, 7, Lots(filled), source="stream"))
    return updates


def _run(updates: list[VenueUpdate], qty: int) -> tuple[object, ...]:
    tracker = OrderTracker(lambda: 0)
    tracker.submit(CID, OrderIntent("BTCUSDT", Side.BUY, Lots(qty), Ticks(640_000)))
    fills = []
    for update in updates:
        fills += [e.fill.trade_id for e in tracker.apply(update) if e.fill is not None]
    order = tracker.get(CID)
    assert order is not None
    return order.status, order.filled, order.avg_price, tuple(sorted(fills))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 5), max_size=5).flatmap(
        lambda fills: st.tuples(
            st.just(fills),
            st.integers(sum(fills) or 1, sum(fills) + 3),
            st.sampled_from([OrderStatus.CANCELED, OrderStatus.EXPIRED]),
        )
    ),
    st.randoms(use_true_random=False),
)
def test_any_arrival_order_and_duplicates_give_the_same_end_state(
    case: tuple[list[int], int, OrderStatus], rnd: object
) -> None:
    fills, qty, end = case
    updates = _lifecycle(qty, fills, end)
    expected = _run(updates, qty)
    shuffled = updates + updates[: len(updates) // 2]  # duplicates too
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert _run(shuffled, qty) == expected
    assert expected[3] == tuple(range(1, len(fills) + 1))  # every trade, once


def test_a_fill_racing_a_cancel_is_kept_and_the_order_ends_filled() -> None:
    tracker = OrderTracker(lambda: 0)
    tracker.submit(CID, OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(640_000)))
    tracker.apply(VenueUpdate(CID, "BTCUSDT", OrderStatus.NEW))
    assert [e.kind for e in tracker.request_cancel(CID)] == ["cancel_requested"]
    order = tracker.get(CID)
    assert order is not None
    assert order.shown_status == OrderStatus.PENDING_CANCEL
    events = tracker.apply(
        VenueUpdate(
            CID, "BTCUSDT", OrderStatus.FILLED, 1, Lots(2), 640_000, Lots(2), Ticks(640_000), 9
        )
    )
    assert [e.kind for e in events] == ["fill", "filled"]
    assert tracker.apply(VenueUpdate(CID, "BTCUSDT", OrderStatus.CANCELED)) == []
    assert order.status == OrderStatus.FILLED
    assert tracker.apply(VenueUpdate(CID, "BTCUSDT", OrderStatus.FILLED, 1, Lots(2))) == []


def test_parsers_read_the_venue_shapes_and_name_bad_fields() -> None:
    rest = {
        "clientOrderId": "x",
        "symbol": "BTCUSDT",
        "status": "PARTIALLY_FILLED",
        "orderId": 5,
        "executedQty": "0.002",
        "avgPrice": "64000.10",
        "updateTime": 3,
    }
    update = update_from_rest(rest, BTC)
    assert (update.filled, update.avg_price, update.status) == (
        2,
        6_400_010,
        OrderStatus.PARTIALLY_FILLED,
    )
    stream = {
        "c": "x",
        "s": "BTCUSDT",
        "X": "FILLED",
        "x": "TRADE",
        "i": 5,
        "z": "0.003",
        "ap": "64000.1",
        "l": "0.001",
        "L": "64000.10",
        "t": 77,
        "n": "0.0128",
        "m": True,
        "T": 4,
    }
    update = update_from_stream(stream, 4, BTC)
    assert (update.last_qty, update.last_price, update.trade_id, update.maker) == (
        1,
        640_001,
        77,
        True,
    )
    import pytest

    with pytest.raises(ValueError, match="'status'"):
        update_from_rest({"clientOrderId": "x", "symbol": "BTCUSDT"}, BTC)
    with pytest.raises(ValueError, match="unknown status"):
        update_from_stream({**stream, "X": "WEIRD"}, 4, BTC)


# ---- risk ---------------------------------------------------------------------------------


def _exposure(mid: int = 640_000, position: int = 0) -> Exposure:
    exposure = Exposure()
    for symbol in INSTRUMENTS:
        exposure.symbols[symbol] = SymbolExposure()
    exposure.symbols["BTCUSDT"].mid = mid
    exposure.symbols["BTCUSDT"].position = position
    return exposure


def _reference(intent: OrderIntent, limits: SymbolLimits, mid: int, position: int) -> Reason:
    # The same rules, written plainly on decimal values.
    price = Fraction(intent.price) * Fraction(BTC.tick_size)
    mid_price = Fraction(mid) * Fraction(BTC.tick_size)
    qty = Fraction(intent.qty) * Fraction(BTC.step_size)
    if intent.qty <= 0:
        return Reason.BAD_QTY
    if (
        intent.price <= 0
        or intent.price < BTC.min_price_ticks
        or intent.price > BTC.max_price_ticks
    ):
        return Reason.BAD_PRICE
    if intent.qty > BTC.max_qty_lots or (
        limits.max_order_qty and qty > Fraction(limits.max_order_qty)
    ):
        return Reason.MAX_QTY
    notional = qty * price
    if notional < 100 and not intent.reduce_only:
        return Reason.MIN_NOTIONAL
    if limits.max_order_notional and notional > Fraction(limits.max_order_notional):
        return Reason.MAX_NOTIONAL
    if abs(price - mid_price) / mid_price * 10_000 > Fraction(limits.price_band_bps):
        return Reason.PRICE_BAND
    if intent.reduce_only and (
        position == 0 or (position > 0) == (intent.side == Side.BUY) or intent.qty > abs(position)
    ):
        return Reason.REDUCE_ONLY
    return Reason.OK


@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(600_000, 700_000),
    qty=st.integers(-1, 3000),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    reduce_only=st.booleans(),
    position=st.integers(-50, 50),
    notional=st.sampled_from([0.0, 500.0, 20_000.0]),
    band=st.sampled_from([100.0, 500.0]),
    max_qty=st.sampled_from([0.0, 0.5]),
)
def test_risk_agrees_with_a_plain_reference(
    price: int,
    qty: int,
    side: Side,
    reduce_only: bool,
    position: int,
    notional: float,
    band: float,
    max_qty: float,
) -> None:
    limits = SymbolLimits(max_qty, notional, 0.0, 0, band)
    engine = RiskEngine(RiskLimits(default=limits, max_orders_per_s=0), INSTRUMENTS)
    intent = OrderIntent("BTCUSDT", side, Lots(qty), Ticks(price), reduce_only=reduce_only)
    exposure = _exposure(640_000, position)
    assert engine.check(intent, exposure) == _reference(intent, limits, 640_000, position)


def test_each_gate_refuses_with_its_reason_and_limits_change_live() -> None:
    now = [0]
    engine = RiskEngine(
        RiskLimits(
            default=SymbolLimits(max_position=0.005, max_open_orders=1),
            max_orders_per_s=2,
            daily_loss_limit=100.0,
            strategy_budgets={"mm": 1000.0},
        ),
        INSTRUMENTS,
        clock_ns=lambda: now[0],
    )
    buy = OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(639_990))
    exposure = _exposure()
    assert engine.check(buy, exposure) == Reason.OK
    assert (
        engine.check(OrderIntent("XRPUSDT", Side.BUY, Lots(1), Ticks(1)), exposure)
        == Reason.UNKNOWN_SYMBOL
    )
    assert (
        engine.check(OrderIntent("BTCUSDT", Side.BUY, Lots(9), Ticks(639_990)), exposure)
        == Reason.MAX_POSITION
    )
    market = OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(0), OrderType.MARKET)
    assert engine.check(market, _exposure(mid=0)) == Reason.NO_MARKET
    assert (
        engine.check(
            OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(639_990), strategy="mm"), exposure
        )
        == Reason.OK
    )
    exposure.strategy_exposure["mm"] = 950.0
    assert (
        engine.check(
            OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(639_990), strategy="mm"), exposure
        )
        == Reason.STRATEGY_BUDGET
    )
    exposure.daily_pnl = -100.0
    assert engine.check(buy, exposure) == Reason.DAILY_LOSS
    assert engine.daily_loss_breached(exposure)
    exposure.daily_pnl = 0.0
    engine.record_sent()
    engine.record_sent()
    assert engine.check(buy, exposure) == Reason.ORDER_RATE
    now[0] += 1_000_000_001
    assert engine.check(buy, exposure) == Reason.OK
    exposure.symbols["BTCUSDT"].open_orders = 1
    assert engine.check(buy, exposure) == Reason.MAX_OPEN_ORDERS
    engine.set_limits(RiskLimits(default=SymbolLimits(max_open_orders=5)))
    assert engine.check(buy, exposure) == Reason.OK
    exposure.killed = True
    assert engine.check(buy, exposure) == Reason.KILLED
    text = engine.refusal_text(
        Reason.PRICE_BAND, OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(500_000)), _exposure()
    )
    assert "bps from mid 64000.00" in text


# ---- paper --------------------------------------------------------------------------------


def _book() -> OrderBook:
    book = OrderBook("BTCUSDT", "0.10", "0.001")
    book.load_snapshot(
        [["64000.00", "0.005"], ["63999.90", "1.000"]],
        [["64000.10", "0.002"], ["64000.20", "0.003"]],
    )
    return book


def test_a_resting_paper_order_fills_only_after_the_volume_ahead_traded() -> None:
    paper = PaperMatcher(INSTRUMENTS, PaperConfig(latency_ns=1000))
    book = _book()
    paper.on_book("BTCUSDT", book, 0)
    paper.submit(
        CID, "BTCUSDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, Ticks(640_000), Lots(2), 0
    )
    paper.on_trade("BTCUSDT", Ticks(640_000), Lots(1), True, 500)  # before arrival: not ours
    paper.advance(1000)
    assert [u.status for u in paper.drain()] == [OrderStatus.NEW]
    paper.on_trade("BTCUSDT", Ticks(640_000), Lots(3), True, 2000)  # 5 ahead: 2 left ahead
    assert paper.drain() == []
    paper.on_trade("BTCUSDT", Ticks(640_000), Lots(3), True, 3000)  # 2 ahead, then 1 for us
    fills = paper.drain()
    assert [(u.status, u.last_qty, u.maker) for u in fills] == [
        (OrderStatus.PARTIALLY_FILLED, 1, True)
    ]
    paper.on_trade("BTCUSDT", Ticks(639_990), Lots(1), True, 4000)  # traded through: all of us
    assert [(u.status, u.filled) for u in paper.drain()] == [(OrderStatus.FILLED, 2)]


def test_cancels_ahead_are_taken_pro_rata_and_crossing_orders_take_liquidity() -> None:
    paper = PaperMatcher(INSTRUMENTS, PaperConfig(latency_ns=0))
    book = _book()
    paper.on_book("BTCUSDT", book, 0)
    paper.submit(
        CID, "BTCUSDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, Ticks(640_000), Lots(1), 0
    )
    paper.advance(0)
    paper.drain()
    book.apply([["64000.00", "0.007"]], [])  # 2 join behind us
    paper.on_book("BTCUSDT", book, 1)
    book.apply([["64000.00", "0.005"]], [])  # 2 cancel: 2 * 5 // 7 = 1 of them was ahead
    paper.on_book("BTCUSDT", book, 1)
    paper.on_trade("BTCUSDT", Ticks(640_000), Lots(4), True, 2)  # the 4 still ahead
    assert paper.drain() == []
    paper.on_trade("BTCUSDT", Ticks(640_000), Lots(1), True, 2)
    assert [u.status for u in paper.drain()] == [OrderStatus.FILLED]
    taker = ClientId("m-test-2")
    paper.submit(
        taker, "BTCUSDT", Side.BUY, OrderType.LIMIT, TimeInForce.IOC, Ticks(640_002), Lots(4), 3
    )
    paper.advance(3)
    updates = paper.drain()
    assert [(u.last_qty, u.last_price, u.maker) for u in updates if u.trade_id] == [
        (2, 640_001, False),
        (2, 640_002, False),
    ]
    assert updates[-1].status == OrderStatus.FILLED
    post = ClientId("m-test-3")
    paper.submit(
        post, "BTCUSDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTX, Ticks(640_001), Lots(1), 4
    )
    paper.advance(4)
    assert [u.status for u in paper.drain()] == [OrderStatus.EXPIRED]
