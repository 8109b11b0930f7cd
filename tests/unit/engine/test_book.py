"""OrderBook against a plain dict reference, across recentres and the overflow map."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import (
    ANY_SYMBOL,
    APPLIED,
    CROSSED_BOOK,
    DECLINED,
    INVALID,
    NOT_APPLIED,
    OrderBook,
)
from hftui.engine.kernels.book import ATTENTION, MISMATCH, PARSED

Level = tuple[int, int]
Side = dict[int, int]


def price(ticks: int) -> str:
    return f"{ticks // 10}.{ticks % 10}0"  # tick 0.10 written with two decimals, as Binance does


def size(lots: int) -> str:
    return f"{lots // 1000}.{lots % 1000:03d}"


def wire(levels: list[Level]) -> list[list[str]]:
    return [[price(t), size(q)] for t, q in levels]


def reference_apply(ref: Side, levels: list[Level]) -> None:
    for t, q in levels:
        if q:
            ref[t] = q
        else:
            ref.pop(t, None)


def check(book: OrderBook, bids: Side, asks: Side) -> None:
    want_bids = sorted(bids.items(), reverse=True)
    want_asks = sorted(asks.items())
    assert book.levels() == (want_bids, want_asks)
    assert book.best_bid() == (want_bids[0][0] if want_bids else -1)
    assert book.best_ask() == (want_asks[0][0] if want_asks else -1)
    assert book.is_crossed() == bool(bids and asks and want_bids[0][0] >= want_asks[0][0])
    for n in (1, 3, 40):
        bp, bq, ap, aq = (np.full(n, -7, np.int64) for _ in range(4))
        nb, na = book.top(n, bp, bq, ap, aq)
        assert list(zip(bp[:nb].tolist(), bq[:nb].tolist(), strict=True)) == want_bids[:n]
        assert list(zip(ap[:na].tolist(), aq[:na].tolist(), strict=True)) == want_asks[:n]
        assert (bp[nb:] == -7).all()  # nothing written past what was reported
        bid_sum = sum(q for _, q in want_bids[:n])
        ask_sum = sum(q for _, q in want_asks[:n])
        total = bid_sum + ask_sum
        assert book.imbalance(n) == pytest.approx((bid_sum - ask_sum) / total if total else 0.0)
    if want_bids and want_asks:
        (bid, bid_q), (ask, ask_q) = want_bids[0], want_asks[0]
        assert book.microprice() == pytest.approx((bid * ask_q + ask * bid_q) / (bid_q + ask_q))
        mid = (bid + ask) / 2
        for bps in (0.0, 5.0, 300.0):
            reach = mid * bps / 10_000
            assert book.depth_within(bps) == (
                sum(q for p, q in want_bids if p >= mid - reach),
                sum(q for p, q in want_asks if p <= mid + reach),
            )
    else:
        assert math.isnan(book.microprice())
        assert book.depth_within(10.0) == (0, 0)


# Prices from a narrow band and a wide one, so a window of 64 ticks must recentre and overflow.
ticks_st = st.one_of(st.integers(9_950, 10_050), st.integers(1, 200_000))
side_st = st.lists(st.tuples(ticks_st, st.integers(0, 5_000)), max_size=12)
op_st: st.SearchStrategy[tuple[str, list[Level], list[Level]]] = st.one_of(
    st.tuples(st.just("apply"), side_st, side_st),
    st.tuples(st.just("snapshot"), side_st, side_st),
    st.tuples(st.just("clear"), st.just([]), st.just([])),
)


@settings(max_examples=250, deadline=None)
@given(ops=st.lists(op_st, min_size=1, max_size=25), window=st.sampled_from([16, 64, 4096]))
def test_matches_reference(ops: list[tuple[str, list[Level], list[Level]]], window: int) -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=window)
    bids: Side = {}
    asks: Side = {}
    for kind, bid_levels, ask_levels in ops:
        if kind == "apply":
            book.apply(wire(bid_levels), wire(ask_levels))
        elif kind == "snapshot":
            bids.clear()
            asks.clear()
            book.load_snapshot(wire(bid_levels), wire(ask_levels))
        else:
            bids.clear()
            asks.clear()
            book.clear()
        reference_apply(bids, bid_levels)
        reference_apply(asks, ask_levels)
        check(book, bids, asks)


# A drifting market: the touch walks far in one direction, dragging the window along, with
# the occasional far quote left behind in the overflow.
@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(-40, 60), st.integers(0, 3)), min_size=5, max_size=60),
    far=st.lists(st.tuples(st.integers(1, 400_000), st.integers(0, 9)), max_size=6),
)
def test_drifting_market_matches_reference(
    steps: list[tuple[int, int]], far: list[tuple[int, int]]
) -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=256)
    bids: Side = {}
    asks: Side = {}
    mid = 100_000
    for k, (move, width) in enumerate(steps):
        mid += move
        new_bids = [(mid - 1 - w, 10 + w) for w in range(width + 1)]
        new_asks = [(mid + 1 + w, 20 + w) for w in range(width + 1)]
        gone_bids = [(t, 0) for t in bids if t >= mid]  # keep the book uncrossed
        gone_asks = [(t, 0) for t in asks if t <= mid]
        extra = [far[k % len(far)]] if far and k % 3 == 0 else []
        bid_levels = gone_bids + new_bids + [lv for lv in extra if lv[0] < mid]
        ask_levels = gone_asks + new_asks + [lv for lv in extra if lv[0] > mid]
        result = book.ingest(wire(bid_levels), wire(ask_levels))
        reference_apply(bids, bid_levels)
        reference_apply(asks, ask_levels)
        assert result == APPLIED
        check(book, bids, asks)


def test_ticks_path_matches_string_path() -> None:
    strings = OrderBook("T", "0.10", "0.001", window_ticks=64)
    ticks = OrderBook("T", "0.10", "0.001", window_ticks=64)
    snapshot = (wire([(1000, 5), (990, 1)]), wire([(1001, 7), (5000, 2)]))
    strings.load_snapshot(*snapshot)
    ticks.load_ticks(*ticks.parse_levels(*snapshot))
    for bid_levels, ask_levels in [
        ([(1000, 0), (999, 3)], [(1001, 0), (1002, 1)]),
        ([(3000, 4)], []),  # far above: recentres
        ([(3000, 0)], [(1002, 0), (20, 1)]),
    ]:
        diff = ticks.parse_diff(1, 2, 0, wire(bid_levels), wire(ask_levels))
        assert diff is not None
        kept = diff.copy()  # not the scratch
        ticks.apply_ticks(
            kept.bid_ticks, kept.bid_lots, kept.n_bids, kept.ask_ticks, kept.ask_lots, kept.n_asks
        )
        strings.apply(wire(bid_levels), wire(ask_levels))
        assert ticks.levels() == strings.levels()
        assert ticks.best_bid() == strings.best_bid()
        assert ticks.best_ask() == strings.best_ask()


def test_raw_frames_apply_like_strings() -> None:
    raw = OrderBook("T", "0.10", "0.001", window_ticks=64)
    strings = OrderBook("T", "0.10", "0.001", window_ticks=64)
    for bid_levels, ask_levels in [
        ([(1000, 5), (999, 1)], [(1001, 7)]),
        ([(1000, 0), (2000, 1)], [(2001, 1), (1001, 0)]),  # far: recentres
        ([(2000, 0)], [(2001, 0), (2002, 4)]),
    ]:
        body = {"e": "depthUpdate", "U": 1, "u": 2, "pu": 0}
        frame = orjson.dumps({**body, "b": wire(bid_levels), "a": wire(ask_levels)})
        assert raw.apply_raw(frame) == APPLIED
        strings.apply(wire(bid_levels), wire(ask_levels))
        assert raw.levels() == strings.levels()
    assert raw.apply_raw(b'{"e":"depthUpdate","U":1,"u":2,"pu":0,"b":[["1.05","1"]],"a":[]}') == (
        DECLINED
    )
    frame = b'{"e":"depthUpdate","U":5,"u":6,"pu":4,"b":[["1.00","1"]],"a":[]}'
    assert raw.apply_raw(frame, 3) == NOT_APPLIED  # does not follow u 3
    assert raw.raw_diff()[:3] == (5, 6, 4)
    assert raw.apply_raw(frame, 4) == APPLIED
    assert raw.raw_final_id() == 6
    assert raw.levels()[0] == [(999, 1), (10, 1000)]


def test_levels_that_are_not_json_take_the_python_reader() -> None:
    book = OrderBook("T", "0.10", "0.001")
    book.apply([(b"100.00", b"1.000")], [("100.10", "2.5")])  # type: ignore[list-item]
    assert book.levels() == ([(1000, 1000)], [(1001, 2500)])
    assert book.ingest([(b"100.0x", b"1")], []) == INVALID  # type: ignore[list-item]


def test_snapshot_deeper_than_the_scratch() -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=1024)
    bids = [(10_000 - k, 1 + k) for k in range(3000)]  # three times the scratch, mostly far
    asks = [(10_001 + k, 1) for k in range(1500)]
    book.load_snapshot(wire(bids), wire(asks))
    assert book.levels() == (bids, asks)
    book.apply(wire([(10_000 - k, 0) for k in range(2500)]), [])
    assert book.levels()[0] == bids[2500:]
    assert book.best_bid() == 7_500


def test_one_sided_and_wide_books() -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=64)
    book.load_snapshot(wire([(1000, 1)]), [])
    assert (book.best_bid(), book.best_ask()) == (1000, -1)
    assert not book.is_crossed()
    book.apply([], wire([(90_000, 2)]))  # a spread far wider than the window
    assert (book.best_bid(), book.best_ask()) == (1000, 90_000)
    book.apply(wire([(1001, 3)]), wire([(89_999, 1)]))
    assert book.levels() == ([(1001, 3), (1000, 1)], [(89_999, 1), (90_000, 2)])
    book.apply(wire([(1001, 0), (1000, 0)]), [])
    assert book.best_bid() == -1
    assert book.best_ask() == 89_999


def test_ingest_reports_crossing_and_bad_levels() -> None:
    book = OrderBook("T", "0.10", "0.001")
    book.load_snapshot(wire([(1000, 1)]), wire([(1001, 1)]))
    assert book.ingest(wire([(999, 2)]), []) == APPLIED
    assert book.ingest(wire([(1001, 2)]), []) == CROSSED_BOOK
    assert book.is_crossed()
    assert book.ingest([["100.05", "1"]], []) == INVALID


@given(st.integers(0, 10**12))
def test_price_and_qty_round_trip(units: int) -> None:
    book = OrderBook("T", "0.01", "0.001")
    assert book.price_to_ticks(book.format_price(units)) == units
    assert book.qty_to_lots(book.format_qty(units)) == units


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1.2.3", "nan", "inf", "-1.00", "64000.15", "1e400", "1e2", " 1.0", "1_0", ".5"],
)
def test_bad_prices_raise(text: str) -> None:
    with pytest.raises(ValueError, match="T: "):
        OrderBook("T", "0.10", "0.001").price_to_ticks(text)


def test_exact_where_float_is_not() -> None:
    book = OrderBook("T", "0.10", "0.001")
    with pytest.raises(ValueError, match="T: "):
        book.price_to_ticks("64000.1000000001")  # float() would round this onto the grid
    big = OrderBook("T", "1", "1")
    assert big.price_to_ticks("9007199254740993") == 9007199254740993  # 2**53 + 1


def test_tick_grid_and_decimals() -> None:
    book = OrderBook("BTCUSDT", "0.10", "0.001")
    assert book.price_to_ticks("64000.10") == 640001
    assert book.price_to_ticks("64000.1") == 640001
    assert book.price_to_ticks(b"64000.10") == 640001
    assert book.format_price(640001) == "64000.10"
    assert book.qty_to_lots("1.25") == 1250
    assert book.format_qty(1250) == "1.250"
    assert (book.price_decimals, book.qty_decimals) == (2, 3)
    with pytest.raises(ValueError, match="off the step"):
        OrderBook("T", "0.10", "0.010").qty_to_lots("0.005")
    with pytest.raises(ValueError, match="bad tick"):
        OrderBook("T", "0.1x", "0.001")
    with pytest.raises(ValueError, match="must be > 0"):
        OrderBook("T", "0.00", "0.001")


def test_bad_level_changes_nothing() -> None:
    book = OrderBook("T", "0.10", "0.001")
    book.load_snapshot([["100.00", "1.000"]], [["100.10", "1.000"]])
    for bad in (["oops", "1"], ["99.95", "1"], ["99.90"], [None, "1"], "99.90"):
        with pytest.raises(ValueError, match="bad level"):
            book.apply([["99.90", "5.000"], bad], [])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="bad level"):
            book.load_snapshot([["1.00", "1.000"]], [bad])  # type: ignore[list-item]
    for bad_list in (None, "99.90", 5):
        with pytest.raises(ValueError, match="bad level"):
            book.apply(bad_list, [])  # type: ignore[arg-type]
    assert book.levels() == ([(1000, 1000)], [(1001, 1000)])


def test_queries() -> None:
    book = OrderBook("T", "0.10", "0.001")
    book.load_snapshot([["100.00", "3.000"], ["99.90", "1.000"]], [["100.10", "1.000"]])
    assert book.microprice() == pytest.approx((1000 * 1000 + 1001 * 3000) / 4000)
    assert book.imbalance(2) == pytest.approx((4000 - 1000) / 5000)
    assert book.imbalance(0) == 0.0
    assert book.depth_within(10) == (3000, 1000)  # 99.90 is 15 bps from the mid
    assert book.depth_within(20) == (4000, 1000)
    assert not book.is_crossed()
    book.apply([["100.20", "1.000"]], [])
    assert book.is_crossed()


def _depth(**fields: object) -> bytes:
    event: dict[str, object] = {"e": "depthUpdate", "E": 9, "s": "T", "U": 5, "u": 6, "pu": 4}
    event.update(fields)
    event.update({"b": [["1.00", "1"]], "a": [["1.10", "2"]]})
    return orjson.dumps(event)


def test_read_frame_applies_the_next_event_of_its_own_symbol_only() -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=64)
    frame = _depth()
    at = frame.find(b'"s":"') + 5
    assert book.read_frame(frame, 3, at) == (PARSED, 6, 9)  # does not follow u 3
    assert book.levels() == ([], [])
    assert book.read_frame(frame, 4, at - 1) == (MISMATCH, 0, 0)  # not where the caller saw it
    flags, final, event_time = book.read_frame(frame, 4, at)
    assert flags >= 0
    assert (final, event_time) == (6, 9)
    book.settle(flags)  # the window recentres on the new touch
    assert book.levels() == ([(10, 1000)], [(11, 2000)])
    assert book.read_frame(frame, 4, ANY_SYMBOL)[0] == 0  # not looked for: not checked
    # The symbol the caller found inside a nested object, or one given twice, is not the
    # event's own; an event that is not a depthUpdate is not read, whatever fields it has.
    nested = orjson.dumps({"x": {"s": "T"}, **orjson.loads(frame)})
    assert book.read_frame(nested, 4, nested.find(b'"s":"') + 5)[0] == MISMATCH
    twice = frame.replace(b'"s":"T"', b'"s":"T","s":"T"')
    assert book.read_frame(twice, 4, twice.find(b'"s":"') + 5)[0] == MISMATCH
    trade = frame.replace(b'"depthUpdate"', b'"aggTrade","x":"depthUpdate"')
    assert book.read_frame(trade, 4, trade.find(b'"s":"') + 5)[0] == MISMATCH
    assert book.levels() == ([(10, 1000)], [(11, 2000)])


def test_read_frame_leaves_spills_and_an_irregular_book_to_settle() -> None:
    book = OrderBook("T", "0.10", "0.001", window_ticks=64)
    book.settle(book.read_frame(_depth(), 4, ANY_SYMBOL)[0])
    far = _depth(U=7, u=7, pu=6).replace(b'["1.10","2"]', b'["1.10","2"],["90.00","3"]')
    flags, final, _ = book.read_frame(far, 6, ANY_SYMBOL)
    assert flags != 0  # applied; the far ask is for the book to keep
    assert final == 7
    assert book.settle(flags) == APPLIED
    assert book.levels() == ([(10, 1000)], [(11, 2000), (900, 3000)])
    book._set_irregular(True)  # the overflow holds a best level: every apply must settle
    flags, _, _ = book.read_frame(_depth(U=8, u=8, pu=7), 7, ANY_SYMBOL)
    assert flags & ATTENTION
