"""The exchange's matching book: price-time priority and its invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.exchange.book import BUY, SELL, MatchingBook, RestingOrder


def test_price_time_priority_and_update_ids() -> None:
    changes: list[tuple[int, int, int, int]] = []
    book = MatchingBook(lambda *change: changes.append(change))
    book.add(RestingOrder(1, None, SELL, 101, 5))
    book.add(RestingOrder(2, "alice", SELL, 101, 3))
    book.add(RestingOrder(3, None, SELL, 100, 2))
    assert book.update_id == 3
    fills = book.take(BUY, 6, None)
    # Best price first (100), then the older order at 101 before alice's.
    assert [(f.maker.order_id, f.tick, f.lots) for f in fills] == [(3, 100, 2), (1, 101, 4)]
    assert book.order(1) is not None
    assert book.order(3) is None
    assert book.depth(SELL, 5) == [(101, 4)]
    assert changes[-1] == (SELL, 101, 4, book.update_id)
    assert book.reduce(2, 99) == 3
    assert book.order(2) is None


def test_limit_stops_the_sweep() -> None:
    book = MatchingBook()
    book.add(RestingOrder(1, None, BUY, 99, 5))
    book.add(RestingOrder(2, None, BUY, 97, 5))
    fills = book.take(SELL, 10, 98)
    assert [(f.tick, f.lots) for f in fills] == [(99, 5)]
    assert book.best(BUY) == 97


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"), st.sampled_from([BUY, SELL]), st.integers(90, 110), st.integers(1, 20)
        ),
        st.tuples(
            st.just("take"),
            st.sampled_from([BUY, SELL]),
            st.integers(1, 60),
            st.one_of(st.none(), st.integers(90, 110)),
        ),
        st.tuples(st.just("reduce"), st.integers(1, 200), st.integers(1, 20), st.none()),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_quantity_is_conserved_and_totals_match(script: list[tuple[object, ...]]) -> None:
    book = MatchingBook()
    next_id = 1
    resting = 0
    for op in script:
        if op[0] == "add":
            _, side, tick, lots = op
            assert isinstance(side, int)
            assert isinstance(tick, int)
            assert isinstance(lots, int)
            # Rest only on the passive side, as a venue would after matching.
            other = book.best(SELL if side == BUY else BUY)
            if other is not None and (tick >= other if side == BUY else tick <= other):
                continue
            book.add(RestingOrder(next_id, None, side, tick, lots))
            next_id += 1
            resting += lots
        elif op[0] == "take":
            _, side, lots, limit = op
            assert isinstance(side, int)
            assert isinstance(lots, int)
            fills = book.take(side, lots, limit if isinstance(limit, int) else None)
            filled = sum(f.lots for f in fills)
            assert filled <= lots
            resting -= filled
        else:
            _, order_id, lots, _ = op
            assert isinstance(order_id, int)
            assert isinstance(lots, int)
            resting -= book.reduce(order_id, lots)
        bid, ask = book.best(BUY), book.best(SELL)
        assert bid is None or ask is None or bid < ask, "crossed"
        levels = book.depth(BUY, 1000) + book.depth(SELL, 1000)
        assert sum(q for _, q in levels) == resting
        for side in (BUY, SELL):
            for tick, total in book.depth(side, 1000):
                assert total == sum(o.lots for o in book.orders_at(side, tick))
