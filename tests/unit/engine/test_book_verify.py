"""Shadow verification of a book: the comparison within a snapshot's range, and whole checks
driven by a simulated venue's frames and snapshots through the real sync and books."""

from __future__ import annotations

import asyncio
import logging
import random

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.config import ConfigError, parse_config
from hftui.engine.book import ASKS, BIDS, OrderBook
from hftui.engine.book_verify import (
    LevelMismatch,
    ShadowCheck,
    compare_side,
    covered_edge,
)
from hftui.engine.depth_sync import DepthSync, SyncResult, SyncState
from hftui.engine.market_data import MarketData
from hftui.exchange.admin import CONNECTIONS_KEY, add_admin_routes
from hftui.exchange.book import BUY
from hftui.exchange.streams import StreamHub
from hftui.exchange.venue import Venue as ExchangeVenue

SYMBOL = "BTCUSDT"
MID = 100_000  # ticks of 0.10: 10000.0


# ---- the comparison -------------------------------------------------------------------------


def test_covered_edge_is_the_worst_level_of_a_full_side_and_none_for_a_short_one() -> None:
    bids = [(105, 1), (103, 2), (100, 3)]
    assert covered_edge(bids, 3) == 100
    assert covered_edge(bids, 4) is None  # short of the limit: the venue's whole side
    assert covered_edge([(7, 1), (9, 1)], 2) == 7  # asks: the lowest tick is the best, not edge
    assert covered_edge([], 5) is None


def test_a_bid_exactly_at_the_edge_is_compared_and_one_below_it_is_not() -> None:
    book = [(110, 5), (100, 7), (99, 1)]
    venue = [(110, 5), (100, 8)]  # 99 is past the snapshot's depth: unknown, not absent
    assert compare_side(BIDS, book, venue, 100) == [LevelMismatch(BIDS, 100, 7, 8)]
    assert compare_side(BIDS, book, venue, 101) == []


def test_an_ask_exactly_at_the_edge_is_compared_and_one_above_it_is_not() -> None:
    book = [(100, 2), (110, 3), (111, 9)]
    venue = [(100, 2), (110, 4)]
    assert compare_side(ASKS, book, venue, 110) == [LevelMismatch(ASKS, 110, 3, 4)]
    assert compare_side(ASKS, book, venue, 109) == []


def test_a_price_on_one_side_only_differs_from_nothing() -> None:
    missing = compare_side(BIDS, [(100, 5)], [(101, 2), (100, 5)], None)
    assert missing == [LevelMismatch(BIDS, 101, 0, 2)]
    extra = compare_side(ASKS, [(100, 5), (102, 1)], [(100, 5)], None)
    assert extra == [LevelMismatch(ASKS, 102, 1, 0)]


def test_quantities_that_differ_are_listed_best_first() -> None:
    found = compare_side(BIDS, [(99, 3), (95, 2), (90, 1)], [(99, 4), (95, 2), (90, 2)], None)
    assert found == [LevelMismatch(BIDS, 99, 3, 4), LevelMismatch(BIDS, 90, 1, 2)]
    assert compare_side(BIDS, [(2, 3), (1, 0)], [(2, 3)], None) == []  # zero lots: no level


side_levels = st.dictionaries(st.integers(0, 60), st.integers(0, 5), max_size=40)


@given(side=st.sampled_from([BIDS, ASKS]), a=side_levels, b=side_levels, edge=st.integers(-1, 61))
@settings(max_examples=300, deadline=None)
def test_compare_finds_exactly_the_covered_prices_whose_quantities_differ(
    side: int, a: dict[int, int], b: dict[int, int], edge: int
) -> None:
    cut = None if edge < 0 else edge

    def covered(t: int) -> bool:
        return cut is None or (t >= cut if side == BIDS else t <= cut)

    best_first = side == BIDS
    found = compare_side(
        side, sorted(a.items(), reverse=best_first), sorted(b.items(), reverse=best_first), cut
    )
    expected = {t for t in a.keys() | b.keys() if covered(t) and a.get(t, 0) != b.get(t, 0)}
    assert {m.ticks for m in found} == expected
    for m in found:
        assert (m.book, m.venue) == (a.get(m.ticks, 0), b.get(m.ticks, 0))
    ticks = [m.ticks for m in found]
    assert ticks == sorted(ticks, reverse=side == BIDS)


# ---- a simulated venue ------------------------------------------------------------------------


def _px(ticks: int) -> str:
    return f"{ticks // 10}.{ticks % 10}"


def _qty(lots: int) -> str:
    return f"{lots // 1000}.{lots % 1000:03d}"


class Venue:
    """A book with update ids that emits diff-depth frames and top-`limit` snapshots."""

    def __init__(self, rng: random.Random, levels: int = 40) -> None:
        self.rng = rng
        self.sides: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for k in range(levels):
            self.sides[BIDS][MID - k] = rng.randint(1, 5000)
            self.sides[ASKS][MID + 1 + k] = rng.randint(1, 5000)
        self.u = 1000

    def event(self, changes: list[tuple[int, int, int]] | None = None) -> bytes:
        """One diff (side, ticks, lots) list as a combined-stream frame; random if None."""
        if changes is None:
            changes = self.random_changes()
        first, prev = self.u + 1, self.u
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for side, ticks, lots in changes:
            self.u += 1
            book = self.sides[side]
            if lots:
                book[ticks] = lots
            else:
                book.pop(ticks, None)
            (bids if side == BIDS else asks)[ticks] = lots
        self.u = max(self.u, first)  # an empty diff still takes an id
        payload = {
            "e": "depthUpdate",
            "E": 1,
            "T": 1,
            "s": SYMBOL,
            "U": first,
            "u": self.u,
            "pu": prev,
            "b": [[_px(t), _qty(q)] for t, q in bids.items()],
            "a": [[_px(t), _qty(q)] for t, q in asks.items()],
        }
        return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": payload})

    def random_changes(self) -> list[tuple[int, int, int]]:
        rng = self.rng
        changes = []
        for _ in range(rng.randint(1, 6)):
            side = rng.choice((BIDS, ASKS))
            offset = int(rng.expovariate(0.1))
            ticks = MID - offset if side == BIDS else MID + 1 + offset
            changes.append((side, ticks, 0 if rng.random() < 0.3 else rng.randint(1, 5000)))
        return changes

    def snapshot(self, limit: int) -> tuple[int, list[list[str]], list[list[str]]]:
        bids = sorted(self.sides[BIDS].items(), reverse=True)[:limit]
        asks = sorted(self.sides[ASKS].items())[:limit]
        return (
            self.u,
            [[_px(t), _qty(q)] for t, q in bids],
            [[_px(t), _qty(q)] for t, q in asks],
        )


def _feed(sync: DepthSync, raw: bytes) -> SyncResult:
    # As market data does: the fast path, else the decoded event.
    result = sync.on_frame(raw)
    if result is None:
        event = orjson.loads(raw)["data"]
        result = sync.on_diff(event["U"], event["u"], event["pu"], event["b"], event["a"])
    return result


def _edge(levels: list[list[str]], limit: int, book: OrderBook) -> int | None:
    return book.price_to_ticks(levels[-1][0]) if len(levels) >= limit else None


def synced_live(venue: Venue, limit: int) -> tuple[DepthSync, tuple[int | None, int | None]]:
    """A live book synced from a snapshot and the event after it; and the range it knows."""
    live = DepthSync(OrderBook(SYMBOL, "0.10", "0.001"))
    snap_id, bids, asks = venue.snapshot(limit)
    live.on_snapshot(snap_id, bids, asks)
    assert _feed(live, venue.event()) == SyncResult.SYNCED
    return live, (_edge(bids, limit, live.book), _edge(asks, limit, live.book))


def deliver(live: DepthSync, check: ShadowCheck, raw: bytes) -> None:
    assert _feed(live, raw) == SyncResult.APPLIED
    check.on_frame(raw)


# ---- whole checks -----------------------------------------------------------------------------


@given(
    seed=st.integers(0, 2**32 - 1),
    limit=st.sampled_from([5, 20, 40, 1000]),
    before=st.integers(0, 30),
    at=st.integers(0, 10),  # events after the check started until the venue took the snapshot
    seen=st.integers(0, 10),  # events after the check started until the snapshot arrived
    after=st.integers(0, 10),
)
@settings(max_examples=150, deadline=None)
def test_an_intact_book_always_verifies(
    seed: int, limit: int, before: int, at: int, seen: int, after: int
) -> None:
    """Whatever the book's depth against the limit, and whether the snapshot reaches the
    engine ahead of the stream or behind it, a book that follows the venue is never flagged
    (a false alarm would resync a good book)."""
    venue = Venue(random.Random(seed))
    live, known = synced_live(venue, limit)
    for _ in range(before):
        assert _feed(live, venue.event()) == SyncResult.APPLIED
    check = ShadowCheck(live, known, limit)
    frames = [venue.event() for _ in range(max(at, seen) + after)]
    # Replay the venue's history to take the snapshot `at` events in.
    snapshot = _snapshot_after(seed, limit, before, at)
    for raw in frames[:seen]:
        deliver(live, check, raw)
    check.on_snapshot(*snapshot)
    for raw in frames[seen:]:
        if check.done:
            break
        deliver(live, check, raw)
    assert check.done, check.void
    assert check.void == ""
    assert check.mismatches == []


@given(
    seed=st.integers(0, 2**32 - 1),
    side=st.sampled_from([BIDS, ASKS]),
    rank=st.integers(5, 39),
    seen=st.integers(0, 5),
    after=st.integers(0, 5),
)
@settings(max_examples=100, deadline=None)
def test_a_wrong_level_with_an_intact_chain_is_always_found(
    seed: int, side: int, rank: int, seen: int, after: int
) -> None:
    venue = Venue(random.Random(seed))
    live, known = synced_live(venue, 1000)
    levels = sorted(venue.sides[side], reverse=side == BIDS)
    ticks = levels[min(rank, len(levels) - 1)]
    true_lots = venue.sides[side][ticks]
    frame = venue.event([(side, ticks, true_lots + 7)])
    venue.sides[side][ticks] = true_lots  # the venue kept it: only the stream said otherwise
    _feed(live, frame)
    check = ShadowCheck(live, known, 1000)
    frames = [venue.event() for _ in range(seen + after)]
    delivered = frames[:seen]
    for raw in delivered:
        deliver(live, check, raw)
    check.on_snapshot(*venue.snapshot(1000))
    for raw in frames[seen:]:
        if check.done:
            break
        deliver(live, check, raw)
        delivered.append(raw)
    assert check.done, check.void
    # A later change of that level the live book took told it the truth.
    told = any(f'"{_px(ticks)}"'.encode() in raw for raw in delivered)
    wrong = LevelMismatch(side, ticks, true_lots + 7, true_lots)
    assert check.mismatches == ([] if told else [wrong])


def _snapshot_after(
    seed: int, limit: int, before: int, at: int
) -> tuple[int, list[list[str]], list[list[str]]]:
    # The same venue (same seed, same draws) stopped at the moment the snapshot is taken.
    venue = Venue(random.Random(seed))
    venue.snapshot(limit)
    venue.event()
    for _ in range(before + at):
        venue.event()
    return venue.snapshot(limit)


def test_a_wrong_deep_quantity_is_found_when_the_snapshot_is_ahead_of_the_stream() -> None:
    venue = Venue(random.Random(7))
    live, known = synced_live(venue, 1000)
    deep = MID - 30
    true_lots = venue.sides[BIDS][deep]
    # The stream says one thing, the venue's book keeps another: the chain stays intact.
    frame = venue.event([(BIDS, deep, true_lots + 500)])
    venue.sides[BIDS][deep] = true_lots
    assert _feed(live, frame) == SyncResult.APPLIED
    check = ShadowCheck(live, known, 1000)
    late = venue.event([(ASKS, MID + 1, 42)])  # taken by the venue, not yet received
    check.on_snapshot(*venue.snapshot(1000))
    assert not check.done  # the live book is behind the snapshot: it waits for the stream
    deliver(live, check, late)
    assert check.done
    assert check.mismatches == [LevelMismatch(BIDS, deep, true_lots + 500, true_lots)]


def test_the_snapshot_at_the_live_books_id_is_compared_directly() -> None:
    venue = Venue(random.Random(7))
    live, known = synced_live(venue, 1000)
    deep = MID - 30
    true_lots = venue.sides[BIDS][deep]
    frame = venue.event([(BIDS, deep, true_lots + 500)])
    venue.sides[BIDS][deep] = true_lots
    assert _feed(live, frame) == SyncResult.APPLIED
    check = ShadowCheck(live, known, 1000)
    check.on_snapshot(*venue.snapshot(1000))  # the market is quiet: no event follows
    assert check.done
    assert check.mismatches == [LevelMismatch(BIDS, deep, true_lots + 500, true_lots)]


def test_a_wrong_level_is_found_through_the_shadow_and_the_diffs_after_the_snapshot() -> None:
    venue = Venue(random.Random(11))
    live, known = synced_live(venue, 1000)
    deep = MID + 1 + 25
    true_lots = venue.sides[ASKS][deep]
    frame = venue.event([(ASKS, deep, 1)])
    venue.sides[ASKS][deep] = true_lots
    _feed(live, frame)
    check = ShadowCheck(live, known, 1000)
    deliver(live, check, venue.event())
    snapshot = venue.snapshot(1000)
    deliver(live, check, venue.event([(BIDS, MID - 2, 77)]))  # the stream is ahead of REST
    check.on_snapshot(*snapshot)
    assert check.done
    assert check.mismatches is not None
    assert LevelMismatch(ASKS, deep, 1, true_lots) in check.mismatches


def test_a_difference_past_the_snapshots_depth_is_not_a_mismatch() -> None:
    venue = Venue(random.Random(3), levels=40)
    live, known = synced_live(venue, 1000)
    # Below the 10-level snapshot's edge the shadow knows nothing: the live book's view there
    # is neither confirmed nor contradicted.
    deep = MID - 35
    frame = venue.event([(BIDS, deep, 9)])
    venue.sides[BIDS][deep] = 1234
    _feed(live, frame)
    check = ShadowCheck(live, known, 10)
    check.on_snapshot(*venue.snapshot(10))
    assert check.done
    assert check.mismatches == []
    assert check.edges[0] == sorted(venue.sides[BIDS], reverse=True)[9]  # the worst of ten


def test_a_difference_at_the_snapshots_edge_is_a_mismatch() -> None:
    venue = Venue(random.Random(3), levels=40)
    live, known = synced_live(venue, 1000)
    edge = sorted(venue.sides[BIDS], reverse=True)[9]
    true_lots = venue.sides[BIDS][edge]
    frame = venue.event([(BIDS, edge, true_lots + 1)])
    venue.sides[BIDS][edge] = true_lots
    _feed(live, frame)
    check = ShadowCheck(live, known, 10)
    check.on_snapshot(*venue.snapshot(10))
    assert check.edges[0] == edge
    assert check.mismatches == [LevelMismatch(BIDS, edge, true_lots + 1, true_lots)]


def test_prices_the_live_books_own_sync_did_not_cover_are_not_compared() -> None:
    venue = Venue(random.Random(5), levels=40)
    live, known = synced_live(venue, 10)  # synced from the top 10 only
    assert known == (MID - 9, MID + 10)
    # The venue's book holds levels the live book never saw; a full snapshot shows them.
    check = ShadowCheck(live, known, 1000)
    check.on_snapshot(*venue.snapshot(1000))
    assert check.done
    assert check.mismatches == []


def test_a_live_resync_during_the_check_voids_it() -> None:
    venue = Venue(random.Random(1))
    live, known = synced_live(venue, 1000)
    check = ShadowCheck(live, known, 1000)
    deliver(live, check, venue.event())
    live.reset("gap")
    check.on_snapshot(*venue.snapshot(1000))
    assert check.done
    assert check.mismatches is None
    assert "resynced" in check.void


def test_a_snapshot_older_than_the_diffs_seen_voids_the_check() -> None:
    venue = Venue(random.Random(2))
    live, known = synced_live(venue, 1000)
    old = venue.snapshot(1000)
    _feed(live, venue.event())
    check = ShadowCheck(live, known, 1000)  # started after the snapshot's id had passed
    deliver(live, check, venue.event())
    check.on_snapshot(*old)
    assert check.done
    assert check.mismatches is None
    assert "stale" in check.void


def test_other_symbols_and_other_streams_do_not_reach_the_shadow() -> None:
    venue = Venue(random.Random(4))
    live, known = synced_live(venue, 1000)
    check = ShadowCheck(live, known, 1000)
    other = venue.event().replace(b'"s":"BTCUSDT"', b'"s":"ETHUSDT"')
    check.on_frame(other)
    check.on_frame(b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT"}}')
    assert check.shadow.buffered == 0


# ---- the verifier's verdict ---------------------------------------------------------------------


def test_a_mismatch_is_counted_alerted_with_both_quantities_and_resyncs_the_book() -> None:
    async def run() -> None:
        market = MarketData(None, "ws://127.0.0.1:9", [SYMBOL], "100ms", 5.0)
        venue = Venue(random.Random(9))
        live, known = synced_live(venue, 1000)
        feed = market.feeds[0]
        feed.sync = live
        alerts: list[tuple[int, str]] = []
        market.verifier.configure(1.0, lambda level, text: alerts.append((level, text)))
        deep = MID - 20
        true_lots = venue.sides[BIDS][deep]
        frame = venue.event([(BIDS, deep, true_lots + 250)])
        venue.sides[BIDS][deep] = true_lots
        _feed(live, frame)
        check = ShadowCheck(live, known, 1000)
        check.on_snapshot(*venue.snapshot(1000))
        found = market.verifier._conclude(feed, check, 0.001)
        assert found is not None
        assert len(found) == 1
        assert market.verifier.runs == {SYMBOL: 1}
        assert market.verifier.mismatches == {SYMBOL: 1}
        assert alerts == [
            (
                logging.WARNING,
                f"BTCUSDT book differs from the venue at bid {_px(deep)}0: book "
                f"{_qty(true_lots + 250)}, venue {_qty(true_lots)}; resyncing",
            )
        ]
        assert live.state == SyncState.WAITING_SNAPSHOT
        assert live.needs_snapshot

    asyncio.run(run())


def test_a_clean_check_counts_a_run_and_leaves_the_book_alone() -> None:
    async def run() -> None:
        market = MarketData(None, "ws://127.0.0.1:9", [SYMBOL], "100ms", 5.0)
        venue = Venue(random.Random(10))
        live, known = synced_live(venue, 1000)
        market.feeds[0].sync = live
        check = ShadowCheck(live, known, 1000)
        check.on_snapshot(*venue.snapshot(1000))
        assert market.verifier._conclude(market.feeds[0], check, 0.001) == []
        assert market.verifier.runs == {SYMBOL: 1}
        assert market.verifier.mismatches == {}
        assert live.state == SyncState.SYNCED

    asyncio.run(run())


@pytest.mark.parametrize("interval", [0.0, 300.0])
def test_without_a_venue_the_verifier_checks_nothing(interval: float) -> None:
    async def run() -> None:
        market = MarketData(None, "ws://127.0.0.1:9", [SYMBOL], "100ms", 5.0)
        market.verifier.configure(interval, None)
        market.feeds[0].sync = synced_live(Venue(random.Random(1)), 1000)[0]
        assert await market.verifier.verify(market.feeds[0]) is None
        assert market.verifier.check is None

    asyncio.run(run())


# ---- the setting and the local exchange's fault ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 300.0), (0, 0.0), (1, 1.0), (2.5, 2.5), (86_400, 86_400.0)]
)
def test_the_interval_setting(value: float | None, expected: float) -> None:
    market = {} if value is None else {"verify_interval_s": value}
    assert parse_config({"market": market}).market.verify_interval_s == expected


@pytest.mark.parametrize("value", [0.5, -1, 86_401, "300", True])
def test_a_bad_interval_is_refused_with_what_is_allowed(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"market": {"verify_interval_s": value}})
    assert str(caught.value).startswith("market.verify_interval_s = ")
    assert "expected 0 (off) or a number of seconds from 1 to 86400" in str(caught.value)


def test_the_wrong_quantity_fault_streams_one_chained_lie_and_keeps_the_truth() -> None:
    async def run() -> None:
        hub = StreamHub()
        venue = ExchangeVenue(("BTCUSDT",), 1, hub)
        app = web.Application()
        app[CONNECTIONS_KEY] = set()
        add_admin_routes(app, venue, hub.faults, lambda: 0)
        book = venue.symbols["BTCUSDT"].book
        window = venue.symbols["BTCUSDT"].windows[0]
        window.take()
        prev = book.update_id
        async with TestClient(TestServer(app)) as client:
            refused = await client.post("/admin/faults/depth-wrong-qty?symbol=BTCUSDT&rank=4")
            assert refused.status == 400  # the top five would show on bookTicker
            answer = await client.post("/admin/faults/depth-wrong-qty?symbol=BTCUSDT&rank=12")
            assert answer.status == 200
            level = await answer.json()
            state = await (await client.get("/admin/faults")).json()
        tick = book.tick_at(BUY, 12)
        spec = venue.symbols["BTCUSDT"].spec
        assert level["price"] == spec.format_price(tick)
        assert level["qty_true"] == spec.format_qty(book.total(BUY, tick))  # the venue's own
        assert level["qty_sent"] != level["qty_true"]
        assert level["update_id"] == book.update_id == prev + 1
        assert state["wrong_levels"] == [level]
        event = window.take()
        assert event is not None
        first, final, pu, bids, asks = event
        assert (first, final, pu) == (prev + 1, prev + 1, prev)  # the chain stays intact
        assert list(bids) == [tick]
        assert spec.format_qty(bids[tick]) == level["qty_sent"]
        assert asks == {}

    asyncio.run(run())


def test_an_old_snapshot_before_any_diff_is_given_up_at_the_next_diff() -> None:
    venue = Venue(random.Random(6))
    live, known = synced_live(venue, 1000)
    old = venue.snapshot(1000)
    _feed(live, venue.event())
    check = ShadowCheck(live, known, 1000)
    check.on_snapshot(*old)
    assert not check.done  # no diff yet to tell it is older than the stream
    deliver(live, check, venue.event())
    assert check.done
    assert check.mismatches is None
    assert "stale" in check.void
