"""Bursts: `MarketData.on_frames` takes frames drained from the socket together, applying runs
of diffs for one book in one kernel call. Whatever the frames, it must leave everything as
`on_frame` on each in turn would: the books, the chain, every counter and histogram, the
bookTicker check and its resyncs. Only `on_book` is called less: once per run, not per frame.

Two real `MarketData`s on the wall clock (so their books time frames in the kernel, as the
engine's do) are fed the same generated frames, one frame by frame and one in bursts of
random sizes, and compared after every burst.
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
    *("ticker", "lying ticker", "other symbol"),
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
        if kind == "event":
            out.append(wire(venue.event()))
        elif kind == "far":
            out.append(far_event(venue))
        elif kind == "drop":
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
        elif kind == "garbage":
            out.append(DROPPED[sorted(DROPPED)[pick % len(DROPPED)]])
        elif kind == "lost":
            out.append(depth_frame(venue, **LOST[sorted(LOST)[pick % len(LOST)]]))
        elif kind == "trade":
            out.append(_trade(10 + pick))
        elif kind in ("ticker", "lying ticker"):
            out.append(venue_ticker(venue, 1 if kind == "lying ticker" else 0))
        elif kind == "other symbol":  # the other symbol's event, in the middle of a run
            other = self.venues[NAMES[1 - NAMES.index(symbol)]]
            out.append(wire(other.event()))
            self.sent[other.symbol].append(out[-1])
            return out
        sent += out
        return out


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
            (feed.ticker_u, feed.ticker_bid, feed.last_trade_id),
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
    # Both synced first, frame by frame, on the same frames and snapshots.
    for venue in venues.values():
        first = [wire(venue.event())]
        for data in (alone, burst):
            data.on_frame(first[0], 0)
        for data in (alone, burst):
            snapshots(data, venues, {s: v.update_id for s, v in venues.items()})
    frames: list[bytes] = []
    for symbol, kind, pick in steps:
        frames += streams.frames(symbol, kind, pick)
    at = {s: v.update_id for s, v in venues.items()}
    start, k = 0, 0
    while start < len(frames):
        chunk = frames[start : start + cuts[k % len(cuts)]]
        start += len(chunk)
        k += 1
        for frame in chunk:
            alone.on_frame(frame, 1)
        burst.on_frames(chunk, 1)
        assert state(burst) == state(alone)
        assert is_subsequence(burst_calls, alone_calls)
        # The last book each listener saw is the same.
        assert dict(burst_calls) == dict(alone_calls)
        snapshots(alone, venues, at)
        snapshots(burst, venues, at)


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
    assert sync.on_run(blob, sizes, 0, 1 << 62, 0) == (3, SyncResult.APPLIED)
    assert sync.last_update_id == applied
    before = sync.book.levels()
    assert before == venue.levels(applied)
    assert sync.on_run(blob, sizes, 3, 1 << 62, 0) == (0, SyncResult.APPLIED)
    assert sync.book.levels() == before
    assert sync.synced


def test_a_run_that_crosses_the_book_ends_there_and_resyncs() -> None:
    venue = Venue("BTCUSDT", 4)
    sync = synced_sync(venue)
    event = venue.event()
    crossing = dict(event, b=[[venue.price(1005), venue.qty(1)]])  # a bid above the best ask
    blob, sizes = frame_run([wire(crossing), wire(venue.event())])
    taken, result = sync.on_run(blob, sizes, 0, 1 << 62, 0)
    assert (taken, result) == (1, SyncResult.CROSSED)
    assert not sync.synced
    assert sync.needs_snapshot


def test_a_run_stops_after_the_frame_reaching_the_stop_id() -> None:
    venue = Venue("BTCUSDT", 5)
    sync = synced_sync(venue)
    frames, ids = [], []
    for _ in range(5):
        frames.append(wire(venue.event()))
        ids.append(venue.update_id)
    blob, sizes = frame_run(frames)
    assert sync.on_run(blob, sizes, 0, ids[1], 0) == (2, SyncResult.APPLIED)
    assert sync.last_update_id == ids[1]
    assert sync.on_run(blob, sizes, 2, 1 << 62, 0) == (3, SyncResult.APPLIED)
    assert sync.book.levels() == venue.levels()


def test_a_frame_of_another_symbol_ends_the_run() -> None:
    btc, eth = Venue("BTCUSDT", 6), Venue("ETHUSDT", 7)
    sync = synced_sync(btc)
    frames = [wire(btc.event()), wire(eth.event()), wire(btc.event())]
    blob, sizes = frame_run(frames)
    assert sync.on_run(blob, sizes, 0, 1 << 62, 0) == (1, SyncResult.APPLIED)
    assert sync.on_run(blob, sizes, 1, 1 << 62, 0) == (0, SyncResult.APPLIED)
    assert sync.on_run(blob, sizes, 2, 1 << 62, 0) == (1, SyncResult.APPLIED)
    assert sync.book.levels() == btc.levels()


def test_frame_run_keeps_the_size_of_each_frame() -> None:
    blob, sizes = frame_run([b"ab", b"", b"cde"])
    assert blob.tobytes() == b"abcde"
    assert sizes.tolist() == [2, 0, 3]
    assert sizes.dtype == np.int64


# ---- from the socket -----------------------------------------------------------------------


async def test_frames_queued_at_the_socket_are_taken_as_bursts() -> None:
    # A real websocket: the venue sends a few hundred events for two symbols at once; by the
    # time the engine reads, aiohttp has queued many, and the receive loop takes them in
    # bursts. The books end as the venue's, every frame counted once.
    venues = {s: Venue(s, 11 + k) for k, s in enumerate(NAMES)}
    data = MarketData(VenueRest(venues), "ws://127.0.0.1:9", NAMES, "100ms", 5.0)
    data.fetch_snapshots = False
    await data.load_specs()
    sync_all(data, venues)
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

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    bursts: list[int] = []
    take = data.on_frames

    def counted(burst: list[bytes], recv_ns: int) -> None:
        bursts.append(len(burst))
        take(burst, recv_ns)

    data.on_frames = counted  # type: ignore[method-assign,assignment]
    before = data.msgs_total
    try:
        async with (
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
    finally:
        await runner.cleanup()
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
    venues = {s: Venue(s, 21 + k) for k, s in enumerate(NAMES)}
    data = MarketData(VenueRest(venues), "ws://127.0.0.1:9", NAMES, "100ms", 5.0)
    data.fetch_snapshots = False
    await data.load_specs()
    sync_all(data, venues)
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

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    before = data.msgs_total
    try:
        async with (
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
    finally:
        await runner.cleanup()
    assert taken == len(frames)
    assert levels(data, "BTCUSDT") == venues["BTCUSDT"].levels()
