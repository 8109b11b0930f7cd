"""Replayed liquidity and participants' orders share the queues."""

from __future__ import annotations

from hftui.exchange.book import BUY, SELL, Fill, MatchingBook, RestingOrder
from hftui.exchange.replay import RecordedEvent, ReplayMarket
from hftui.exchange.symbols import spec_for

SECOND = 1_000_000_000


def market(events: list[RecordedEvent]) -> tuple[MatchingBook, ReplayMarket, list[Fill]]:
    book = MatchingBook()
    fills: list[Fill] = []
    replay = ReplayMarket(
        spec_for("BTCUSDT"), book, events, speed=1.0, on_trade=lambda side, f: fills.extend(f)
    )
    return book, replay, fills


def test_recorded_levels_set_the_venue_quantity_and_keep_participants() -> None:
    snapshot = RecordedEvent(0, "reset", [(1000, 10), (999, 5)], [(1001, 7)])
    later = RecordedEvent(SECOND, "book", [(1000, 4)], [(1001, 0), (1002, 3)])
    book, replay, _ = market([snapshot, later])
    book.add(RestingOrder(8_000_000_001, "alice", BUY, 1000, 2))  # joins behind the venue's 10
    replay.step(1.0)
    assert book.total(BUY, 1000) == 4 + 2  # the venue's part follows the recording
    assert [o.owner for o in book.orders_at(BUY, 1000)] == [None, "alice"]
    assert book.best(SELL) == 1002
    assert replay.finished


def test_recorded_trades_fill_a_participant_at_the_front() -> None:
    snapshot = RecordedEvent(0, "reset", [(1000, 3)], [(1001, 7)])
    trade = RecordedEvent(SECOND, "trade", [], [], (1000, 5, True))  # a seller takes 5 lots
    book, replay, fills = market([snapshot, trade])
    book.reduce(next(iter(book.orders_at(BUY, 1000))).order_id, 3)  # the venue's bids leave
    book.add(RestingOrder(8_000_000_001, "alice", BUY, 1000, 4))
    replay.step(1.0)
    assert [(f.maker.owner, f.lots) for f in fills] == [("alice", 4)]


def test_arriving_liquidity_trades_with_a_crossed_participant() -> None:
    snapshot = RecordedEvent(0, "reset", [(1000, 3)], [(1003, 7)])
    ask_arrives = RecordedEvent(SECOND, "book", [], [(1002, 10)])
    book, replay, fills = market([snapshot, ask_arrives])
    book.add(RestingOrder(8_000_000_001, "alice", BUY, 1002, 4))  # a participant bid at 1002
    replay.step(1.0)
    assert [(f.maker.owner, f.tick, f.lots) for f in fills] == [("alice", 1002, 4)]
    assert book.total(SELL, 1002) == 6  # the rest of the arriving ask rests
