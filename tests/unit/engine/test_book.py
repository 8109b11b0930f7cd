"""OrderBook against a plain dict reference, across recentres and the overflow map."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook


def fmt(ticks: int) -> str:
    return f"{ticks // 10}.{ticks % 10}0"  # tick 0.10 written with two decimals, as Binance does


def lots(n: int) -> str:
    return f"{n // 1000}.{n % 1000:03d}"


Level = tuple[int, int]
# Prices from a narrow band and a wide one, so windows of 64 ticks must recentre and overflow.
ticks_st = st.one_of(st.integers(9_950, 10_050), st.integers(1, 200_000))
side_st = st.lists(st.tuples(ticks_st, st.integers(0, 5_000)), max_size=12)
ops_st = st.lists(st.tuples(side_st, side_st), min_size=1, max_size=25)


def reference_apply(ref: dict[int, int], levels: list[Level]) -> None:
    for t, q in levels:
        if q:
            ref[t] = q
        else:
            ref.pop(t, None)


def check(book: OrderBook, bids: dict[int, int], asks: dict[int, int]) -> None:
    want_bids = sorted(bids.items(), reverse=True)
    want_asks = sorted(asks.items())
    got_bids, got_asks = book.levels()
    assert got_bids == want_bids
    assert got_asks == want_asks
    assert book.best_bid() == (want_bids[0][0] if want_bids else -1)
    assert book.best_ask() == (want_asks[0][0] if want_asks else -1)
    n = 5
    bp, bq, ap, aq = (np.zeros(n, np.int64) for _ in range(4))
    nb, na = book.top(n, bp, bq, ap, aq)
    assert list(zip(bp[:nb].tolist(), bq[:nb].tolist(), strict=True)) == want_bids[:n]
    assert list(zip(ap[:na].tolist(), aq[:na].tolist(), strict=True)) == want_asks[:n]


@settings(max_examples=150, deadline=None)
@given(snapshot=st.tuples(side_st, side_st), ops=ops_st)
def test_matches_reference(
    snapshot: tuple[list[Level], list[Level]], ops: list[tuple[list[Level], list[Level]]]
) -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=64)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    reference_apply(bids, snapshot[0])
    reference_apply(asks, snapshot[1])
    book.load_snapshot(
        [[fmt(t), lots(q)] for t, q in bids.items()], [[fmt(t), lots(q)] for t, q in asks.items()]
    )
    check(book, bids, asks)
    for bid_levels, ask_levels in ops:
        book.apply(
            [[fmt(t), lots(q)] for t, q in bid_levels], [[fmt(t), lots(q)] for t, q in ask_levels]
        )
        reference_apply(bids, bid_levels)
        reference_apply(asks, ask_levels)
        check(book, bids, asks)


@given(st.integers(0, 10**12))
def test_price_and_qty_round_trip(units: int) -> None:
    book = OrderBook("T", "0.01", "0.001")
    assert book.price_to_ticks(book.format_price(units)) == units
    assert book.qty_to_lots(book.format_qty(units)) == units


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "nan", "inf", "-1.00", "64000.15", "1e400"])
def test_bad_prices_raise(text: str) -> None:
    with pytest.raises(ValueError, match="T: "):
        OrderBook("T", "0.10", "0.001").price_to_ticks(text)


def test_tick_grid_and_decimals() -> None:
    book = OrderBook("BTCUSDT", "0.10", "0.001")
    assert book.price_to_ticks("64000.10") == 640001
    assert book.price_to_ticks("64000.1") == 640001
    assert book.format_price(640001) == "64000.10"
    assert book.qty_to_lots("1.25") == 1250
    assert book.format_qty(1250) == "1.250"
    with pytest.raises(ValueError, match="off the step"):
        OrderBook("T", "0.10", "0.010").qty_to_lots("0.005")


def test_bad_level_changes_nothing() -> None:
    book = OrderBook("T", "0.10", "0.001")
    book.load_snapshot([["100.00", "1.000"]], [["100.10", "1.000"]])
    with pytest.raises(ValueError, match="bad level"):
        book.apply([["99.90", "5.000"], ["oops", "1"]], [])
    assert book.levels() == ([(1000, 1000)], [(1001, 1000)])


def test_queries() -> None:
    book = OrderBook("T", "0.10", "0.001")
    book.load_snapshot([["100.00", "3.000"], ["99.90", "1.000"]], [["100.10", "1.000"]])
    assert book.microprice() == pytest.approx((1000 * 1000 + 1001 * 3000) / 4000)
    assert book.imbalance(2) == pytest.approx((4000 - 1000) / 5000)
    assert book.depth_within(10) == (3000, 1000)  # 99.90 is 15 bps from the mid
    assert book.depth_within(20) == (4000, 1000)
    assert not book.is_crossed()
    book.apply([["100.20", "1.000"]], [])
    assert book.is_crossed()
