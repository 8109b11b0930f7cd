"""The paper matcher against real instruments and real books: the queue model, taking on
arrival, time in force, latency, and (hypothesis) the invariants any fill stream keeps."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook
from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import ClientId, Lots, Ticks, VenueUpdate
from hftui.engine.paper import PaperConfig, PaperMatcher
from hftui.exchange.symbols import exchange_info
from hftui.protocol import OrderStatus, OrderType, Side, TimeInForce

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT", "ETHUSDT"), 0), ["BTCUSDT", "ETHUSDT"])
BTC = INSTRUMENTS["BTCUSDT"]
SYM = "BTCUSDT"
MID = 640_000  # ticks of 0.10: 64000.00
LAT = 1_000
A, B, C = ClientId("p-a"), ClientId("p-b"), ClientId("p-c")

GTC, IOC, FOK, GTX = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
NEW, PART, FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
CANCELED, EXPIRED, REJECTED = OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED


def book_of(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    book = OrderBook(SYM, "0.10", "0.001")
    book.load_snapshot(levels(book, bids), levels(book, asks))
    return book


def levels(book: OrderBook, rows: list[tuple[int, int]]) -> list[list[str]]:
    return [[book.format_price(t), book.format_qty(q)] for t, q in rows]


def diff(book: OrderBook, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    book.apply(levels(book, bids), levels(book, asks))


def matcher(book: OrderBook, latency: int = LAT) -> PaperMatcher:
    paper = PaperMatcher(INSTRUMENTS, PaperConfig(latency_ns=latency))
    paper.on_book(SYM, book, 0)
    return paper


def submit(
    paper: PaperMatcher,
    cid: ClientId,
    side: Side,
    price: int,
    qty: int,
    now: int = 0,
    tif: TimeInForce = GTC,
    kind: OrderType = LIMIT,
) -> None:
    paper.submit(cid, SYM, side, kind, tif, Ticks(price), Lots(qty), now)


def fills(updates: list[VenueUpdate]) -> list[tuple[int, int, bool]]:
    return [(u.last_qty, u.last_price, u.maker) for u in updates if u.trade_id]


def usdt(ticks: int, lots: int) -> float:
    return ticks * lots / BTC.notional_scale


def standard() -> OrderBook:
    return book_of([(MID, 5), (MID - 1, 10)], [(MID + 1, 2), (MID + 2, 3), (MID + 3, 4)])


# ---- the queue --------------------------------------------------------------------------


def test_a_resting_order_fills_only_after_the_volume_ahead_of_it_traded() -> None:
    paper = matcher(standard())
    submit(paper, A, Side.BUY, MID, 2)
    paper.on_trade(SYM, Ticks(MID), Lots(4), True, LAT - 1)  # before arrival: not our queue
    paper.advance(LAT)
    assert [(u.status, u.source, u.update_ms) for u in paper.drain()] == [(NEW, "paper", 0)]
    paper.on_trade(SYM, Ticks(MID), Lots(3), True, 2 * LAT)  # 5 ahead: 2 left ahead
    assert paper.drain() == []
    paper.on_trade(SYM, Ticks(MID), Lots(3), True, 3 * LAT)  # 2 ahead, then 1 for us
    [fill] = paper.drain()
    assert (fill.status, fill.filled, fill.last_qty, fill.last_price, fill.maker) == (
        PART,
        1,
        1,
        MID,
        True,
    )
    assert fill.avg_price == MID * BTC.tick_units
    assert fill.fee == pytest.approx(usdt(MID, 1) * 0.0002)
    paper.on_trade(SYM, Ticks(MID), Lots(5), False, 4 * LAT)  # a buyer lifting asks: not ours
    assert paper.drain() == []
    paper.on_trade(SYM, Ticks(MID), Lots(3), True, 5 * LAT)
    assert [(u.status, u.filled, u.last_qty) for u in paper.drain()] == [(FILLED, 2, 1)]
    assert paper.open_orders() == []


def test_cancels_ahead_are_taken_pro_rata_and_growth_joins_behind() -> None:
    book = standard()
    diff(book, [(MID, 10)], [])
    paper = matcher(book, latency=0)
    submit(paper, A, Side.BUY, MID, 3)
    paper.advance(0)
    paper.drain()  # ahead: 10
    diff(book, [(MID, 15)], [])  # 5 join behind us
    paper.on_book(SYM, book, 1)
    diff(book, [(MID, 12)], [])  # 3 cancel: 3 * 10 // 15 = 2 of them were ahead -> 8
    paper.on_book(SYM, book, 2)
    paper.on_trade(SYM, Ticks(MID), Lots(2), True, 3)  # ahead 6, 2 traded at the level
    diff(book, [(MID, 9)], [])  # 12 - 9 = 3 gone, 2 traded: 1 cancel, 1 * 6 // 10 = 0 ahead
    paper.on_book(SYM, book, 4)
    paper.on_trade(SYM, Ticks(MID), Lots(6), True, 5)
    assert paper.drain() == []
    paper.on_trade(SYM, Ticks(MID), Lots(1), True, 6)
    assert fills(paper.drain()) == [(1, MID, True)]


def test_ahead_never_exceeds_the_level_and_never_goes_negative() -> None:
    book = standard()
    paper = matcher(book, latency=0)
    submit(paper, A, Side.BUY, MID, 2)
    paper.advance(0)
    diff(book, [(MID, 0)], [])  # the whole level cancelled: we are at the front
    paper.on_book(SYM, book, 1)
    paper.on_trade(SYM, Ticks(MID), Lots(1), True, 2)
    assert [(u.status, u.last_qty) for u in paper.drain()] == [(NEW, 0), (PART, 1)]


def test_a_trade_through_our_price_fills_us_completely_at_our_price() -> None:
    paper = matcher(standard(), latency=0)
    submit(paper, A, Side.SELL, MID + 2, 4)  # 3 ahead at the ask
    paper.advance(0)
    paper.on_trade(SYM, Ticks(MID + 2), Lots(1), True, 1)  # a seller hitting bids: not ours
    paper.on_trade(SYM, Ticks(MID + 3), Lots(1), False, 2)  # a buyer lifted above us
    updates = paper.drain()
    assert [(u.status, u.filled) for u in updates] == [(NEW, 0), (FILLED, 4)]
    assert fills(updates) == [(4, MID + 2, True)]


def test_an_opposite_side_crossing_our_price_fills_us_against_the_crossing_size() -> None:
    book = standard()
    paper = matcher(book, latency=0)
    submit(paper, A, Side.SELL, MID + 3, 5)
    paper.advance(0)
    diff(book, [(MID + 3, 2), (MID + 4, 1)], [(MID + 1, 0), (MID + 2, 0), (MID + 3, 0)])
    paper.on_book(SYM, book, 1)
    assert fills(paper.drain()) == [(1, MID + 3, True), (2, MID + 3, True)]
    paper.on_book(SYM, book, 2)  # the same crossing bids: already ours
    assert paper.drain() == []
    diff(book, [(MID + 4, 3)], [])  # 2 new lots cross
    paper.on_book(SYM, book, 3)
    assert [(u.status, u.last_qty, u.filled) for u in paper.drain()] == [(FILLED, 2, 5)]


# ---- arrival ------------------------------------------------------------------------------


def test_a_marketable_limit_takes_several_levels_then_rests() -> None:
    book = standard()
    paper = matcher(book, latency=0)
    submit(paper, A, Side.BUY, MID + 3, 10)
    paper.advance(0)
    updates = paper.drain()
    assert [u.status for u in updates] == [NEW, PART, PART, PART]
    assert fills(updates) == [(2, MID + 1, False), (3, MID + 2, False), (4, MID + 3, False)]
    cost = ((MID + 1) * 2 + (MID + 2) * 3 + (MID + 3) * 4) * BTC.tick_units
    assert updates[-1].avg_price == (2 * cost + 9) // (2 * 9)  # half up
    assert updates[-1].filled == 9
    for u, (lots, px) in zip(updates[1:], [(2, MID + 1), (3, MID + 2), (4, MID + 3)], strict=True):
        assert u.fee == pytest.approx(usdt(px, lots) * 0.0005)
    assert paper.open_orders() == [A]
    paper.on_book(SYM, book, 1)  # the asks we took are still on the venue's book
    assert paper.drain() == []
    diff(book, [], [(MID + 3, 7)])  # 3 new lots at our price: the venue would match us
    paper.on_book(SYM, book, 2)
    assert fills(paper.drain()) == [(1, MID + 3, True)]


def test_orders_arriving_together_do_not_take_the_same_lots() -> None:
    paper = matcher(standard())
    submit(paper, A, Side.BUY, MID + 1, 2, tif=IOC)
    submit(paper, B, Side.BUY, MID + 1, 2, tif=IOC)
    paper.advance(LAT)
    updates = paper.drain()
    assert [(u.client_id, u.status, u.filled) for u in updates] == [
        (A, NEW, 0),
        (A, FILLED, 2),
        (B, NEW, 0),
        (B, EXPIRED, 0),
    ]


def test_a_deep_sweep_walks_past_the_first_levels_looked_at() -> None:
    book = book_of([(MID, 1)], [(MID + 1 + i, 1) for i in range(40)])
    paper = matcher(book, latency=0)
    submit(paper, A, Side.BUY, MID + 30, 35)
    paper.advance(0)
    updates = paper.drain()
    assert [px for _, px, _ in fills(updates)] == [MID + 1 + i for i in range(30)]
    assert updates[-1].status == PART
    assert paper.open_orders() == [A]


def test_post_only_that_would_take_expires_and_one_that_would_not_rests() -> None:
    paper = matcher(standard(), latency=0)
    submit(paper, A, Side.BUY, MID + 1, 1, tif=GTX)
    submit(paper, B, Side.BUY, MID, 1, tif=GTX)
    paper.advance(0)
    updates = paper.drain()
    assert [(u.client_id, u.status, u.reason) for u in updates] == [
        (A, EXPIRED, "post-only would take"),
        (B, NEW, ""),
    ]
    assert paper.open_orders() == [B]


def test_fill_or_kill_is_all_or_nothing() -> None:
    paper = matcher(standard(), latency=0)
    submit(paper, A, Side.BUY, MID + 2, 6, tif=FOK)  # 5 reachable
    paper.advance(0)
    [expired] = paper.drain()
    assert (expired.status, expired.filled, expired.trade_id) == (EXPIRED, 0, 0)
    assert expired.reason
    submit(paper, B, Side.BUY, MID + 2, 5, now=1, tif=FOK)
    paper.advance(1)
    assert [(u.status, u.filled) for u in paper.drain()] == [(NEW, 0), (PART, 2), (FILLED, 5)]


def test_immediate_or_cancel_fills_what_it_can_and_the_rest_expires() -> None:
    paper = matcher(standard(), latency=0)
    submit(paper, A, Side.SELL, MID - 1, 20, tif=IOC)
    paper.advance(0)
    updates = paper.drain()
    assert [(u.status, u.filled) for u in updates] == [
        (NEW, 0),
        (PART, 5),
        (PART, 15),
        (EXPIRED, 15),
    ]
    assert fills(updates) == [(5, MID, False), (10, MID - 1, False)]
    assert updates[-1].avg_price == (MID * 5 + (MID - 1) * 10) * BTC.tick_units // 15
    assert paper.open_orders() == []


def test_market_orders_take_any_price_and_expire_the_rest() -> None:
    paper = matcher(standard(), latency=0)
    submit(paper, A, Side.BUY, 0, 12, kind=MARKET)
    paper.advance(0)
    updates = paper.drain()
    assert fills(updates) == [(2, MID + 1, False), (3, MID + 2, False), (4, MID + 3, False)]
    assert (updates[-1].status, updates[-1].filled) == (EXPIRED, 9)
    empty = book_of([(MID, 1)], [])
    paper.on_book(SYM, empty, 1)
    submit(paper, B, Side.BUY, 0, 1, now=1, kind=MARKET)
    paper.advance(1)
    assert [u.status for u in paper.drain()] == [NEW, EXPIRED]


def test_a_market_order_fills_from_a_book_seen_while_the_matcher_was_idle() -> None:
    # The engine hands an idle matcher its books with `see_book` only; an order that arrives
    # before the next diff still takes from them.
    paper = PaperMatcher(INSTRUMENTS, PaperConfig(latency_ns=LAT))
    paper.see_book(SYM, standard())
    submit(paper, A, Side.BUY, 0, 2, kind=MARKET)
    paper.advance(LAT)
    assert fills(paper.drain()) == [(2, MID + 1, False)]


def test_malformed_orders_are_rejected_with_a_reason() -> None:
    paper = matcher(standard())
    paper.submit(A, "NOPEUSDT", Side.BUY, LIMIT, GTC, Ticks(MID), Lots(1), 0)
    submit(paper, B, Side.BUY, MID, 0)
    submit(paper, C, Side.BUY, 0, 1)
    updates = paper.drain()
    assert [(u.client_id, u.status) for u in updates] == [
        (A, REJECTED),
        (B, REJECTED),
        (C, REJECTED),
    ]
    assert all(u.reason and u.source == "paper" for u in updates)
    assert len({u.venue_order_id for u in updates}) == 3
    assert paper.open_orders() == []


# ---- latency and cancels --------------------------------------------------------------------


def test_nothing_happens_before_the_latency_elapsed() -> None:
    paper = matcher(standard())
    submit(paper, A, Side.BUY, MID + 1, 1, now=100)
    paper.advance(100 + LAT - 1)
    paper.on_trade(SYM, Ticks(MID - 5), Lots(1), True, 100 + LAT - 1)  # would sweep it
    assert paper.drain() == []
    assert paper.open_orders() == [A]
    paper.advance(100 + LAT)
    assert [(u.status, u.maker) for u in paper.drain()] == [(NEW, False), (FILLED, False)]


def test_a_fill_before_the_cancel_lands_stands() -> None:
    paper = matcher(standard())
    submit(paper, A, Side.BUY, MID, 2)
    paper.advance(LAT)
    paper.drain()
    assert paper.cancel(A, 2 * LAT)
    paper.on_trade(SYM, Ticks(MID - 1), Lots(1), True, 3 * LAT - 1)  # swept before the cancel
    paper.advance(3 * LAT)
    assert [u.status for u in paper.drain()] == [FILLED]
    assert not paper.cancel(A, 4 * LAT)


def test_a_cancel_that_lands_first_wins_the_race() -> None:
    paper = matcher(standard())
    submit(paper, A, Side.BUY, MID, 2)
    assert paper.cancel(A, 0)  # in flight: it lands right after the order
    paper.on_trade(SYM, Ticks(MID - 1), Lots(1), True, LAT)
    assert [(u.status, u.filled) for u in paper.drain()] == [(NEW, 0), (CANCELED, 0)]
    assert paper.open_orders() == []


def test_cancel_of_an_unknown_order_is_false_and_does_nothing() -> None:
    paper = matcher(standard())
    assert not paper.cancel(ClientId("nobody"), 0)
    paper.advance(10 * LAT)
    assert paper.drain() == []


def test_trade_ids_are_unique_and_increasing_across_orders() -> None:
    paper = matcher(standard(), latency=0)
    submit(paper, A, Side.BUY, MID + 3, 3, tif=IOC)
    submit(paper, B, Side.SELL, MID - 1, 7, tif=IOC)
    paper.advance(0)
    ids = [u.trade_id for u in paper.drain() if u.trade_id]
    assert len(ids) == 4
    assert ids == sorted(set(ids))


# ---- properties ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    kind: str  # "trade", "diff", "submit", "cancel", "tick"
    a: int = 0  # price offset from MID
    b: int = 0  # lots
    flag: bool = False  # trade: buyer_maker; diff: bids side; submit: buy
    tif: TimeInForce = GTC
    market: bool = False


OPS = st.one_of(
    st.builds(Op, st.just("trade"), st.integers(-4, 4), st.integers(1, 8), st.booleans()),
    st.builds(Op, st.just("diff"), st.integers(-4, 4), st.integers(0, 12), st.booleans()),
    st.builds(
        Op,
        st.just("submit"),
        st.integers(-3, 3),
        st.integers(1, 10),
        st.booleans(),
        st.sampled_from([GTC, IOC, FOK, GTX]),
        st.booleans(),
    ),
    st.builds(Op, st.just("cancel"), st.integers(0, 5)),
    st.builds(Op, st.just("tick")),
)


def run(ops: list[Op]) -> tuple[list[VenueUpdate], dict[ClientId, tuple[Side, int, int, bool]]]:
    book = standard()
    paper = matcher(book, latency=3)
    orders: dict[ClientId, tuple[Side, int, int, bool]] = {}
    out: list[VenueUpdate] = []
    for now, op in enumerate(ops, start=1):
        if op.kind == "trade":
            paper.on_trade(SYM, Ticks(MID + op.a), Lots(op.b), op.flag, now)
        elif op.kind == "diff":
            level = [(MID + op.a, op.b)]
            diff(book, level if op.flag else [], [] if op.flag else level)
            paper.on_book(SYM, book, now)
        elif op.kind == "submit":
            cid = ClientId(f"p-{len(orders)}")
            side = Side.BUY if op.flag else Side.SELL
            orders[cid] = (side, MID + op.a, op.b, op.market)
            kind = MARKET if op.market else LIMIT
            submit(paper, cid, side, MID + op.a, op.b, now=now, tif=op.tif, kind=kind)
        elif op.kind == "cancel":
            paper.cancel(ClientId(f"p-{op.a}"), now)
        else:
            paper.advance(now)
        out.extend(paper.drain())
    paper.advance(len(ops) + 10)
    out.extend(paper.drain())
    return out, orders


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, min_size=10, max_size=60))
def test_any_market_keeps_the_fill_invariants(ops: list[Op]) -> None:
    updates, orders = run(ops)
    terminal = {FILLED, CANCELED, EXPIRED, REJECTED}
    for cid, (side, limit, qty, market) in orders.items():
        mine = [u for u in updates if u.client_id == cid]
        filled = 0
        for n, u in enumerate(mine):
            assert u.source == "paper"
            assert filled <= u.filled <= qty
            filled = u.filled
            if u.trade_id and not market:
                assert u.last_price <= limit if side == Side.BUY else u.last_price >= limit
            assert (u.status == FILLED) == (u.filled == qty)
            assert u.status not in terminal or n == len(mine) - 1  # nothing after the end
        assert sum(u.last_qty for u in mine) == filled
        assert len({u.venue_order_id for u in mine}) == 1
    ids = [u.trade_id for u in updates if u.trade_id]
    assert ids == sorted(set(ids))


@settings(max_examples=100, deadline=None)
@given(st.lists(OPS, min_size=10, max_size=60))
def test_the_same_inputs_give_the_same_updates(ops: list[Op]) -> None:
    assert run(ops) == run(ops)


def test_an_order_arriving_before_any_book_joins_the_queue_of_the_first_one() -> None:
    paper = PaperMatcher(INSTRUMENTS, PaperConfig(latency_ns=0))
    submit(paper, A, Side.BUY, MID, 1)
    paper.advance(0)
    paper.on_trade(SYM, Ticks(MID), Lots(9), True, 1)  # no queue position yet
    assert [u.status for u in paper.drain()] == [NEW]
    paper.on_book(SYM, standard(), 2_000_000)  # 5 ahead from here
    paper.on_trade(SYM, Ticks(MID), Lots(6), True, 3_000_000)
    [fill] = paper.drain()
    assert (fill.status, fill.last_qty, fill.update_ms) == (FILLED, 1, 3)


def test_a_client_id_already_open_is_a_programming_error() -> None:
    paper = matcher(standard())
    submit(paper, A, Side.BUY, MID, 1)
    with pytest.raises(ValueError, match="already open"):
        submit(paper, A, Side.BUY, MID, 1)
