"""Bursts: `MarketData.on_frames` takes frames drained from the socket together, taking runs of
one book's diffs and bookTickers in one kernel call. Whatever the frames, it must leave
everything as `on_frame` on each in turn would: the books, the chain, every counter and
histogram, the bookTicker check and its resyncs. Only `on_book` is called less: once per run,
not per frame.

Two real `MarketData`s on the wall clock (so their books time frames in the kernel, as the
engine's do) are fed the same generated frames, one frame by frame and one in bursts of
random sizes, and compared after every burst with each other and with a third that reads
every frame by the JSON path and does the bookTicker check in Python.
"""

from __future__ import annotations

import asyncio

import aiohttp
import numpy as np
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook, frame_run
from hftui.engine.depth_sync import DepthSync, SyncResult
from hftui.engine.market_data import MarketData, _data_next, _queue_of
from tests.fuzz import examples
from tests.support.servers import serving
from tests.unit.engine.test_market_data import (
    DROPPED,
    LOST,
    NAMES,
    Venue,
    VenueRest,
    _trade,
    depth_frame,
    levels,
    sync_all,
    synced,
    venue_ticker,
    wire,
)

KINDS = [
    *("event",) * 8,
    *("drop", "duplicate", "swap", "garbage", "lost", "far", "trade"),
    *("ticker", "lying ticker", "ticker first", "lying ticker first", "other symbol"),
]


def market(venues: dict[str, Venue]) -> tuple[MarketData, list[tuple[str, int]]]:
    """A MarketData on the wall clock that trusts no bookTicker disagreement (tolerance 0: the
    second disagreeing check resyncs), recording each `on_book` call as (symbol, u)."""
    data = MarketData(VenueRest(venues), "ws://127.0.0.1:9", NAMES, "100ms", 5.0, top_tolerance_s=0)
    data.fetch_snapshots = False
    asyncio.run(data.load_specs())
    data.depth_connected = True
    calls: list[tuple[str, int]] = []
    data.on_book = lambda symbol, book, now_ns: calls.append((symbol, book.update_id))
    return data, calls


def far_event(venue: Venue) -> bytes:
    """The venue's next event with an ask far outside the book's window (it spills)."""
    event = venue.event()
    tick = 1000 + 70_000 + venue.rng.randrange(100)
    venue.asks[tick] = 3
    venue.history[venue.update_id] = (dict(venue.bids), dict(venue.asks))
    event["a"] = [*event["a"], [venue.price(tick), venue.qty(3)]]  # type: ignore[misc]
    return wire(event)


class Streams:
    """Frames as the venues send them, with the faults each kind names."""

    def __init__(self, venues: dict[str, Venue]) -> None:
        self.venues = venues
        self.sent: dict[str, list[bytes]] = {s: [] for s in NAMES}
        self.held: dict[str, bytes | None] = dict.fromkeys(NAMES)

    def frames(self, symbol: str, kind: str, pick: int) -> list[bytes]:
        venue, sent = self.venues[symbol], self.sent[symbol]
        out: list[bytes] = []
        if kind == "drop":
            venue.event()
        elif kind == "duplicate" and sent:
            out.append(sent[-1 - pick % min(3, len(sent))])
        elif kind == "swap":
            late = self.held[symbol]
            if late is None:
                self.held[symbol] = wire(venue.event())
            else:
                out += [wire(venue.event()), late]
                self.held[symbol] = None
        elif kind == "other symbol":  # the other symbol's event, in the middle of a run
            other = self.venues[NAMES[1 - NAMES.index(symbol)]]
            out.append(wire(other.event()))
            self.sent[other.symbol].append(out[-1])
            return out
        else:
            out += self.plain(venue, kind, pick)
        sent += out
        return out

    @staticmethod
    def plain(venue: Venue, kind: str, pick: int) -> list[bytes]:
        if kind == "event":
            return [wire(venue.event())]
        if kind == "far":
            return [far_event(venue)]
        if kind == "garbage":
            return [DROPPED[sorted(DROPPED)[pick % len(DROPPED)]]]
        if kind == "lost":
            return [depth_frame(venue, **LOST[sorted(LOST)[pick % len(LOST)]])]
        if kind == "trade":
            return [_trade(10 + pick)]
        if kind in ("ticker", "lying ticker"):
            return [venue_ticker(venue, 1 if kind == "lying ticker" else 0)]
        if kind in ("ticker first", "lying ticker first"):  # ahead of the book, as they race
            event = wire(venue.event())
            return [venue_ticker(venue, 1 if kind == "lying ticker first" else 0), event]
        return []


def state(data: MarketData) -> dict[str, object]:
    """Everything `on_frame` leaves behind that a burst must leave the same."""
    out: dict[str, object] = {
        "msgs": data.msgs_total,
        "bytes": data.bytes_total,
        "bad": data.bad_frames,
        "mismatches": data.top_mismatches,
    }
    for feed in data.feeds:
        sync = feed.sync
        assert sync is not None
        out[feed.symbol] = (
            sync.book.levels(),
            sync.state,
            sync.last_update_id,
            sync.needs_snapshot,
            sync.buffered,
            (sync.gaps, sync.resyncs, sync.duplicates, sync.crossed, sync.corrupt),
            (feed.msgs, feed.event_time_ms, feed.checked_u, bool(feed.disagree_ns)),
            (feed.ingest.count, feed.feed_delay.count),
            (sync.book.ticker_u, sync.book.ticker(), feed.last_trade_id),
        )
    return out


def snapshots(data: MarketData, venues: dict[str, Venue], at: dict[str, int]) -> None:
    for feed in data.feeds:
        assert feed.sync is not None
        if feed.sync.needs_snapshot:
            snap = venues[feed.symbol].snapshot(at[feed.symbol])
            feed.sync.on_snapshot(snap["lastUpdateId"], snap["bids"], snap["asks"])  # type: ignore[arg-type]


def is_subsequence(short: list[tuple[str, int]], long: list[tuple[str, int]]) -> bool:
    it = iter(long)
    return all(item in it for item in short)


@settings(max_examples=examples(120), deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(NAMES), st.sampled_from(KINDS), st.integers(0, 99)),
        min_size=1,
        max_size=120,
    ),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=20),
    seed=st.integers(0, 2**16),
)
def test_a_burst_leaves_everything_as_frame_by_frame_would(
    steps: list[tuple[str, str, int]], cuts: list[int], seed: int
) -> None:
    venues = {s: Venue(s, seed + k) for k, s in enumerate(NAMES)}
    streams = Streams(venues)
    alone, alone_calls = market(venues)
    burst, burst_calls = market(venues)
    # The reference: every frame read by the JSON path and checked in Python, no kernel
    # taking frames (the fast paths find their book by the symbol's bytes: none here).
    reference, _ = market(venues)
    reference._by_symbol_bytes = {}
    engines = (alone, burst, reference)
    # All synced first, frame by frame, on the same frames and snapshots.
    for venue in venues.values():
        first = [wire(venue.event())]
        for data in engines:
            data.on_frame(first[0], 0)
        for data in engines:
            snapshots(data, venues, {s: v.update_id for s, v in venues.items()})
    start, k = 0, 0
    while start < len(steps):
        # A burst: the frames of the next steps, as the venues send them meanwhile.
        chunk: list[bytes] = []
        for symbol, kind, pick in steps[start : start + cuts[k % len(cuts)]]:
            chunk += streams.frames(symbol, kind, pick)
        start += cuts[k % len(cuts)]
        k += 1
        for frame in chunk:
            alone.on_frame(frame, 1)
            reference.on_frame(frame, 1)
        burst.on_frames(chunk, 1)
        assert state(alone) == state(reference)
        assert state(burst) == state(alone)
        assert is_subsequence(burst_calls, alone_calls)
        # The last book each listener saw is the same.
        assert dict(burst_calls) == dict(alone_calls)
        # A snapshot for any book that wants one, taken now, as a REST reply would be.
        at = {s: v.update_id for s, v in venues.items()}
        for data in engines:
            snapshots(data, venues, at)


def synced_sync(venue: Venue) -> DepthSync:
    sync = DepthSync(OrderBook(venue.symbol, str(venue.tick), str(venue.step)))
    snap = venue.snapshot()
    last = int(snap["lastUpdateId"])  # type: ignore[call-overload]
    sync.on_diff(last, last, last - 1, [], [])
    sync.on_snapshot(last, snap["bids"], snap["asks"])  # type: ignore[arg-type]
    assert sync.synced
    return sync


def test_a_run_stops_at_a_frame_it_does_not_apply_and_leaves_it_untouched() -> None:
    venue = Venue("BTCUSDT", 3)
    sync = synced_sync(venue)
    good = [wire(venue.event()) for _ in range(3)]
    applied = venue.update_id
    venue.event()  # lost: the next frame does not chain
    late = wire(venue.event())
    blob, sizes = frame_run([*good, late, wire(venue.event())])
    assert sync.on_run(blob, sizes, 0, 0) == (3, SyncResult.APPLIED)
    assert sync.last_update_id == applied
    before = sync.book.levels()
    assert before == venue.levels(applied)
    assert sync.on_run(blob, sizes, 3, 0) == (0, SyncResult.APPLIED)
    assert sync.book.levels() == before
    assert sync.synced


def test_a_run_that_crosses_the_book_ends_there_and_resyncs() -> None:
    venue = Venue("BTCUSDT", 4)
    sync = synced_sync(venue)
    event = venue.event()
    crossing = dict(event, b=[[venue.price(1005), venue.qty(1)]])  # a bid above the best ask
    blob, sizes = frame_run([wire(crossing), wire(venue.event())])
    taken, result = sync.on_run(blob, sizes, 0, 0)
    assert (taken, result) == (1, SyncResult.CROSSED)
    assert not sync.synced
    assert sync.needs_snapshot


def test_a_run_takes_book_tickers_and_compares_the_tops_while_they_agree() -> None:
    venue = Venue("BTCUSDT", 5)
    sync = synced_sync(venue)
    book = sync.book
    first = wire(venue.event())
    ahead = venue_ticker(venue)  # of the next event: ahead of the book when it comes
    frames = [first, ahead, wire(venue.event())]
    frames.insert(2, venue_ticker(venue))  # of the event after it: agrees once reached
    blob, sizes = frame_run(frames)
    assert sync.on_run(blob, sizes, 0, 0) == (4, SyncResult.APPLIED)
    assert book.run_tickers() == 2
    assert book.ticker_u == book.checked_u == venue.update_id  # compared in the kernel
    assert not book.ticker_due()
    assert book.levels() == venue.levels()


def test_a_run_leaves_disagreeing_tops_to_the_caller() -> None:
    venue = Venue("BTCUSDT", 8)
    sync = synced_sync(venue)
    book = sync.book
    event = wire(venue.event())
    true, lying = venue_ticker(venue), venue_ticker(venue, 1)  # both of the book as it is
    blob, sizes = frame_run([event, true, lying])
    assert sync.on_run(blob, sizes, 0, 0) == (2, SyncResult.APPLIED)  # stops before the lie
    assert book.ticker_u == book.checked_u == venue.update_id
    bids, asks = venue.levels()
    assert book.ticker() == (*bids[0], *asks[0])
    # A disagreement being timed: the caller compares after every frame.
    book.set_calm(False)
    event = wire(venue.event())
    book.set_ticker(venue.update_id, *book.ticker())
    blob, sizes = frame_run([event, wire(venue.event())])
    assert sync.on_run(blob, sizes, 0, 0)[0] == 1
    assert book.ticker_due()


def test_a_frame_of_another_symbol_ends_the_run() -> None:
    btc, eth = Venue("BTCUSDT", 6), Venue("ETHUSDT", 7)
    sync = synced_sync(btc)
    frames = [wire(btc.event()), wire(eth.event()), wire(btc.event())]
    blob, sizes = frame_run(frames)
    assert sync.on_run(blob, sizes, 0, 0) == (1, SyncResult.APPLIED)
    assert sync.on_run(blob, sizes, 1, 0) == (0, SyncResult.APPLIED)
    assert sync.on_run(blob, sizes, 2, 0) == (1, SyncResult.APPLIED)
    assert sync.book.levels() == btc.levels()


def test_frame_run_keeps_the_size_of_each_frame() -> None:
    blob, sizes = frame_run([b"ab", b"", b"cde"])
    assert blob.tobytes() == b"abcde"
    assert sizes.tolist() == [2, 0, 3]
    assert sizes.dtype == np.int64


# ---- from the socket -----------------------------------------------------------------------


async def synced_market(seed: int) -> tuple[MarketData, dict[str, Venue]]:
    """A MarketData on the wall clock with both books synced to their venues."""
    venues = {s: Venue(s, seed + k) for k, s in enumerate(NAMES)}
    data = MarketData(VenueRest(venues), "ws://127.0.0.1:9", NAMES, "100ms", 5.0)
    data.fetch_snapshots = False
    await data.load_specs()
    sync_all(data, venues)
    return data, venues


async def test_frames_queued_at_the_socket_are_taken_as_bursts() -> None:
    # A real websocket: the venue sends a few hundred events for two symbols at once; by the
    # time the engine reads, aiohttp has queued many, and the receive loop takes them in
    # bursts. The books end as the venue's, every frame counted once.
    data, venues = await synced_market(11)
    frames = [wire(venues[NAMES[k % 2]].event()) for k in range(400)]
    sent = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in frames:
            await ws.send_bytes(frame)
        sent.set()
        await ws.receive()  # until the client closes
        return ws

    bursts: list[int] = []
    take = data.on_frames

    def counted(burst: list[bytes], recv_ns: int) -> None:
        bursts.append(len(burst))
        take(burst, recv_ns)

    data.on_frames = counted  # type: ignore[method-assign,assignment]
    before = data.msgs_total
    async with (
        serving({"/ws": handler}) as port,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{port}/ws", compress=0) as ws,
    ):
        await asyncio.wait_for(sent.wait(), 10)
        await asyncio.sleep(0.05)  # aiohttp reads them all into its queue meanwhile
        # The queue the receive loop drains is this one, and it can tell data frames.
        assert len(_queue_of(ws)) > 0
        assert _data_next(_queue_of(ws))
        receiving = asyncio.create_task(data._receive(ws, "depth"))
        for _ in range(500):
            if data.msgs_total - before == len(frames):
                break
            await asyncio.sleep(0.01)
        await ws.close()
        await asyncio.wait_for(receiving, 10)
    assert data.msgs_total - before == len(frames)
    assert data.bad_frames == 0
    assert bursts
    assert max(bursts) > 1
    assert sum(bursts) <= len(frames)
    for venue in venues.values():
        assert synced(data, venue.symbol)
        assert levels(data, venue.symbol) == venue.levels()


async def test_a_burst_is_taken_before_a_ping_queued_behind_it() -> None:
    # aiohttp answers a ping inside `receive` and then waits for the next message: frames
    # held for a burst until then would wait for the venue's next frame. They go first.
    data, venues = await synced_market(21)
    frames = [wire(venues["BTCUSDT"].event()) for _ in range(12)]
    sent = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        for frame in frames:
            await ws.send_bytes(frame)
        await ws.ping(b"are you there")
        sent.set()
        await ws.receive()  # the pong; then nothing more until the client closes
        await ws.receive()
        return ws

    before = data.msgs_total
    async with (
        serving({"/ws": handler}) as port,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{port}/ws", compress=0) as ws,
    ):
        await asyncio.wait_for(sent.wait(), 10)
        await asyncio.sleep(0.05)  # all of it queued at the client, the ping last
        receiving = asyncio.create_task(data._receive(ws, "depth"))
        for _ in range(100):
            if data.msgs_total - before == len(frames):
                break
            await asyncio.sleep(0.01)
        taken = data.msgs_total - before
        await ws.close()
        await asyncio.wait_for(receiving, 10)
    assert taken == len(frames)
    assert levels(data, "BTCUSDT") == venues["BTCUSDT"].levels()
