"""MarketData's receive path against bad input, per-symbol resyncs, and the reconnect backoff.

A real `MarketData` with real books is fed venue-shaped combined-stream frames from a small
reference venue (plain dicts); snapshots come from the same venue, so after any fault the
engine's book can be compared with what the venue holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from decimal import Decimal

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.binance.rest import PublicRest, VenueError
from hftui.engine.depth_sync import SyncState
from hftui.engine.instrument import Instrument
from hftui.engine.market_data import _MAX_FRAME, Backoff, CircuitBreaker, MarketData, _Conn
from hftui.exchange.symbols import SYMBOLS, exchange_info
from hftui.protocol import FeedState
from tests.support.servers import serving

NAMES = ("BTCUSDT", "ETHUSDT")
Levels = dict[int, int]


class Venue:
    """One symbol's reference book on the venue side: plain dicts of ticks -> lots, every
    change numbered, events and snapshots rendered as Binance sends them."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.symbol = symbol
        self.tick = Decimal(SYMBOLS[symbol].tick_size)
        self.step = Decimal(SYMBOLS[symbol].step_size)
        self.rng = random.Random(seed)
        self.bids: Levels = {1000 - k: 1000 + k for k in range(1, 6)}
        self.asks: Levels = {1000 + k: 2000 + k for k in range(5)}
        self.update_id = 500
        self.history: dict[int, tuple[Levels, Levels]] = {}
        self._remember()

    def _remember(self) -> None:
        self.history[self.update_id] = (dict(self.bids), dict(self.asks))

    def price(self, ticks: int) -> str:
        return str(ticks * self.tick)

    def qty(self, lots: int) -> str:
        return str(lots * self.step)

    def event(self) -> dict[str, object]:
        """Apply a few random changes (bids below 1000, asks from 1000: never crossed) and
        return the diff event for them; ids skip, as changes on other streams use some."""
        changed_bids: Levels = {}
        changed_asks: Levels = {}
        for _ in range(self.rng.randint(1, 4)):
            is_bid = self.rng.random() < 0.5
            side, changed = (self.bids, changed_bids) if is_bid else (self.asks, changed_asks)
            tick = (990 + self.rng.randrange(10)) if is_bid else (1000 + self.rng.randrange(10))
            lots = self.rng.choice((0, 1, 5, 250, 7000))
            changed[tick] = lots
            if lots:
                side[tick] = lots
            else:
                side.pop(tick, None)
        prev = self.update_id
        first = prev + 1 + self.rng.randrange(3)
        self.update_id = first + self.rng.randrange(4)
        self._remember()
        return {
            "e": "depthUpdate",
            "E": 1_700_000_000_000 + self.update_id,
            "T": 1_700_000_000_000 + self.update_id,
            "s": self.symbol,
            "U": first,
            "u": self.update_id,
            "pu": prev,
            "b": [[self.price(t), self.qty(q)] for t, q in changed_bids.items()],
            "a": [[self.price(t), self.qty(q)] for t, q in changed_asks.items()],
        }

    def snapshot(self, update_id: int | None = None) -> dict[str, object]:
        """`GET /fapi/v1/depth` as the venue answers it, now or as it was at `update_id`."""
        uid = self.update_id if update_id is None else update_id
        bids, asks = self.history[uid]
        return {
            "lastUpdateId": uid,
            "E": 1_700_000_000_000,
            "T": 1_700_000_000_000,
            "bids": [[self.price(t), self.qty(q)] for t, q in sorted(bids.items(), reverse=True)],
            "asks": [[self.price(t), self.qty(q)] for t, q in sorted(asks.items())],
        }

    def levels(self, update_id: int | None = None) -> tuple[list[tuple[int, int]], ...]:
        bids, asks = self.history[self.update_id if update_id is None else update_id]
        return sorted(bids.items(), reverse=True), sorted(asks.items())


def wire(event: dict[str, object]) -> bytes:
    """A combined-stream frame, as the engine's depth connection receives it."""
    stream = f"{str(event['s']).lower()}@depth@100ms"
    return orjson.dumps({"stream": stream, "data": event})


class VenueRest(PublicRest):
    """The venue's REST answers without a network: exchangeInfo and depth from the venues."""

    def __init__(self, venues: dict[str, Venue]) -> None:
        super().__init__("http://127.0.0.1:9")
        self.venues = venues
        self.depth_calls = 0

    async def exchange_info(self) -> dict[str, object]:
        return exchange_info(NAMES, 1_700_000_000_000)

    async def depth(self, symbol: str, limit: int) -> dict[str, object]:
        self.depth_calls += 1
        return self.venues[symbol].snapshot()


class Clock:
    def __init__(self) -> None:
        self.now_ns = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        return self.now_ns


def engine(seed: int = 1) -> tuple[MarketData, dict[str, Venue], Clock]:
    """A MarketData with books set up from the venue's exchangeInfo; snapshots are handed
    over by the test (as in replay), so every step is synchronous and deterministic."""
    venues = {s: Venue(s, seed + k) for k, s in enumerate(NAMES)}
    clock = Clock()
    market = MarketData(VenueRest(venues), "ws://127.0.0.1:9", NAMES, "100ms", 5.0, clock)
    market.fetch_snapshots = False
    asyncio.run(market.load_specs())
    market.depth_connected = True
    return market, venues, clock


def supply_snapshot(market: MarketData, venue: Venue, update_id: int | None = None) -> None:
    feed = market.feed(venue.symbol)
    assert feed is not None
    assert feed.sync is not None
    snap = venue.snapshot(update_id)
    feed.sync.on_snapshot(snap["lastUpdateId"], snap["bids"], snap["asks"])  # type: ignore[arg-type]


def levels(market: MarketData, symbol: str) -> tuple[list[tuple[int, int]], ...]:
    feed = market.feed(symbol)
    assert feed is not None
    assert feed.sync is not None
    return feed.sync.book.levels()


def synced(market: MarketData, symbol: str) -> bool:
    feed = market.feed(symbol)
    assert feed is not None
    return feed.sync is not None and feed.sync.synced


def sync_all(market: MarketData, venues: dict[str, Venue]) -> None:
    """Open the stream, take a snapshot, and let the next event straddle or follow it."""
    for venue in venues.values():
        market.on_frame(wire(venue.event()), 0)
        supply_snapshot(market, venue)
        market.on_frame(wire(venue.event()), 0)
        assert synced(market, venue.symbol)
        assert levels(market, venue.symbol) == venue.levels()


def heal(market: MarketData, venues: dict[str, Venue]) -> None:
    """Keep the streams going, handing over a current snapshot whenever one is wanted, until
    every book is synced; then each must equal its venue."""
    for _ in range(6):
        for venue in venues.values():
            market.on_frame(wire(venue.event()), 0)
            feed = market.feed(venue.symbol)
            assert feed is not None
            assert feed.sync is not None
            if feed.sync.needs_snapshot:
                supply_snapshot(market, venue)
    for venue in venues.values():
        assert synced(market, venue.symbol)
        assert levels(market, venue.symbol) == venue.levels()


# ---- start-up ------------------------------------------------------------------------------


async def test_books_are_set_up_from_exchange_info() -> None:
    venues = {s: Venue(s, 0) for s in NAMES}
    market = MarketData(VenueRest(venues), "ws://127.0.0.1:9", [*NAMES, "NOPEUSDT"], "100ms", 5.0)
    seen: list[dict[str, Instrument]] = []
    market.on_info = seen.append
    await market.load_specs()
    assert [f.symbol for f in market.feeds if f.sync is not None] == list(NAMES)
    assert market.feeds[2].sync is None  # not listed by the venue: stays idle
    assert sorted(seen[0]) == sorted(NAMES)
    btc = market.feed("BTCUSDT")
    assert btc is not None
    assert btc.book is not None
    assert btc.book.price_to_ticks("100.10") == 1001
    assert all(s == FeedState.DOWN for s in market.feed_states())


# ---- the bad-input matrix ------------------------------------------------------------------


def depth_frame(venue: Venue, **fields: object) -> bytes:
    """The venue's next event with some fields replaced (or removed, given None)."""
    event = venue.event()
    for key, value in fields.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return wire(event)


# Frames that say nothing about any book: counted and dropped, every book left as it was.
DROPPED: dict[str, bytes] = {
    "not JSON": b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTC',
    "not UTF-8": b"\xff\xfe\x00garbage",
    "empty": b"",
    "JSON array": b'[{"e":"depthUpdate","s":"BTCUSDT"}]',
    "JSON number": b"42",
    "JSON string naming the event": b'"depthUpdate"',
    "data not an object": b'{"stream":"btcusdt@depth@100ms","data":[1,2,3]}',
    "no event type": b'{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT"}}',
    "unknown stream": orjson.dumps(
        {
            "stream": "btcusdt@forceOrder",
            "data": {"e": "forceOrder", "E": 1, "o": {"s": "BTCUSDT"}},
        }
    ),
    "depth for an unknown symbol": orjson.dumps(
        {
            "stream": "xrpusdt@depth@100ms",
            "data": {
                "e": "depthUpdate",
                "s": "XRPUSDT",
                "U": 1,
                "u": 2,
                "pu": 0,
                "b": [["0.5000", "10"]],
                "a": [],
            },
        }
    ),
    "depth symbol mistyped": orjson.dumps(
        {"data": {"e": "depthUpdate", "s": ["BTCUSDT"], "U": 1, "u": 2, "pu": 0}, "stream": "x"}
    ),
    "trade for an unknown symbol": orjson.dumps(
        {
            "stream": "xrpusdt@aggTrade",
            "data": {"e": "aggTrade", "s": "XRPUSDT", "p": "0.5", "q": "1", "T": 1, "m": True},
        }
    ),
    "trade price malformed": orjson.dumps(
        {
            "stream": "btcusdt@aggTrade",
            "data": {"e": "aggTrade", "s": "BTCUSDT", "p": "1x0", "q": "1", "T": 1, "m": True},
        }
    ),
    "trade fields missing": orjson.dumps(
        {"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "s": "BTCUSDT"}}
    ),
    "bookTicker for an unknown symbol": orjson.dumps(
        {"stream": "xrpusdt@bookTicker", "data": {"e": "bookTicker", "s": "XRPUSDT"}}
    ),
    # Well-formed, but over the size limit: refused before anything reads it.
    "oversized": orjson.dumps(
        {
            "stream": "btcusdt@depth@100ms",
            "data": {
                "e": "depthUpdate",
                "s": "BTCUSDT",
                "U": 1,
                "u": 2,
                "pu": 0,
                "b": [],
                "a": [["100.00", "1.000"]] * (_MAX_FRAME // 19 + 1),
            },
        }
    ),
}


@pytest.mark.parametrize("name", list(DROPPED))
def test_frames_about_no_book_are_counted_and_dropped(name: str) -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    market.on_frame(DROPPED[name], 0)
    market.on_frame(DROPPED[name].decode(errors="replace"), 0)  # as a text frame too
    assert market.bad_frames == 2
    for venue in venues.values():
        assert synced(market, venue.symbol)
        assert levels(market, venue.symbol) == venue.levels()
        feed = market.feed(venue.symbol)
        assert feed is not None
        assert feed.trade_count == 0
    heal(market, venues)
    assert market.bad_frames == 2


# A depth event of a configured symbol that cannot be used: the event is lost, so the book
# is thrown away at once (not left looking synced) and comes back with the next snapshot.
LOST: dict[str, dict[str, object]] = {
    "U missing": {"U": None},
    "u missing": {"u": None},
    "pu missing": {"pu": None},
    "bids missing": {"b": None},
    "U as a string": {"U": "1"},
    "pu as a boolean": {"pu": True},
    "u beyond int64": {"u": 2**64 - 1},
    "U negative": {"U": -1},
    "bids not a list": {"b": "100.00"},
    "asks an object": {"a": {"100.10": "1.000"}},
    "level not a pair": {"b": [["100.00"]]},
    "level of numbers": {"b": [[100.0, 1.0]]},
    "level price malformed": {"b": [["1x0", "1.000"]]},
    "level price off the tick": {"b": [["99.95", "1.000"]]},
    "level quantity off the step": {"a": [["100.10", "0.0001"]]},
    "level quantity negative": {"a": [["100.10", "-1.000"]]},
    "level price overflowing": {"b": [["9" * 30 + ".00", "1.000"]]},
    "level with an exponent": {"b": [["1e2", "1.000"]]},
    "level flat": {"b": ["100.00", "1.000"]},
    "U after u": {"U": 10**12},
}


@pytest.mark.parametrize("name", list(LOST))
def test_unusable_depth_event_resyncs_that_book_only(name: str) -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    btc, eth = market.feed("BTCUSDT"), market.feed("ETHUSDT")
    assert btc is not None
    assert eth is not None
    assert btc.sync is not None
    version = btc.version
    market.on_frame(depth_frame(venues["BTCUSDT"], **LOST[name]), 0)
    assert market.bad_frames == 1
    assert not btc.sync.synced
    assert btc.sync.needs_snapshot
    assert btc.sync.resyncs == 1
    assert btc.version > version
    assert market.touch("BTCUSDT") == (-1, -1)
    assert synced(market, "ETHUSDT")
    heal(market, venues)


@pytest.mark.parametrize("written", [b"1009.0", b"1e3", b"1009E0"])
def test_an_id_written_as_a_float_is_not_read_as_an_integer(written: bytes) -> None:
    # Taken as u=1009 the book would jump ahead of the stream and then drop every real
    # event as a duplicate while still saying it is synced.
    market, venues, _ = engine()
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    event = venue.event()
    raw = wire(event).replace(f'"u":{event["u"]},'.encode(), b'"u":' + written + b",")
    market.on_frame(raw, 0)
    assert market.bad_frames == 1
    assert not synced(market, "BTCUSDT")


@pytest.mark.parametrize("kind", [bytearray, memoryview, bytes.decode])
def test_a_frame_in_any_bytes_like_form_is_read_as_its_bytes(kind: object) -> None:
    # The fast paths find the book by a slice of the frame, which must hash: a bytearray
    # raised TypeError there before.
    market, venues, _ = engine()
    sync_all(market, venues)
    btc = venues["BTCUSDT"]
    for frame in (wire(btc.event()), venue_ticker(btc), wire(btc.event())):
        market.on_frame(kind(frame), 0)  # type: ignore[operator]
    assert market.bad_frames == 0
    assert levels(market, "BTCUSDT") == btc.levels()
    feed = market.feed("BTCUSDT")
    assert feed is not None
    assert feed.checked_u == feed.ticker_u > 0


def test_values_a_parser_could_take_for_others_are_read_exactly() -> None:
    # Leading zeros and extra zero decimals are the same price; a bad parser would shift it.
    market, venues, _ = engine()
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    event = venue.event()
    event["b"] = [*event["b"], ["099.50", "0.0050"]]  # type: ignore[misc]
    venue.bids[995] = 5
    venue.history[venue.update_id] = (dict(venue.bids), dict(venue.asks))
    market.on_frame(wire(event), 0)
    assert market.bad_frames == 0
    assert levels(market, "BTCUSDT") == venue.levels()


def test_a_depth_event_goes_to_its_own_symbols_book_whatever_else_the_frame_names() -> None:
    # The receive path picks a book by the first symbol in the bytes; the kernel reads the
    # event's own, and a frame where they differ is decided by the JSON path instead.
    market, venues, _ = engine()
    sync_all(market, venues)
    btc = venues["BTCUSDT"]
    eth_before = levels(market, "ETHUSDT")
    event = btc.event()
    market.on_frame(orjson.dumps({"stream": "x", "data": {"x": {"s": "ETHUSDT"}, **event}}), 0)
    assert levels(market, "BTCUSDT") == btc.levels()
    assert levels(market, "ETHUSDT") == eth_before
    # A trade that mentions "depthUpdate" and carries depth-like fields is not a diff.
    trade = {**btc.event(), "e": "aggTrade", "note": "depthUpdate"}
    btc_before = levels(market, "BTCUSDT")
    market.on_frame(wire(trade), 0)
    assert levels(market, "BTCUSDT") == btc_before
    assert market.bad_frames == 1  # a trade without a price: counted and dropped


def test_duplicated_events_are_counted_and_change_nothing() -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    sync = market.feeds[0].sync
    assert sync is not None
    old = wire(venue.event())
    market.on_frame(old, 0)
    last = wire(venue.event())
    market.on_frame(last, 0)
    market.on_frame(last, 0)
    market.on_frame(old, 0)
    assert sync.duplicates == 2
    assert (sync.gaps, sync.resyncs, market.bad_frames) == (0, 0, 0)
    assert sync.synced
    assert levels(market, "BTCUSDT") == venue.levels()


def test_out_of_order_events_are_a_gap_healed_by_resync() -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    sync = market.feeds[0].sync
    assert sync is not None
    early, late = wire(venue.event()), wire(venue.event())
    market.on_frame(late, 0)
    assert sync.gaps == 1
    assert not sync.synced
    market.on_frame(early, 0)  # arrives after its successor: buffered, not applied
    assert not sync.synced
    assert market.bad_frames == 0
    heal(market, venues)


def test_stale_snapshot_is_refused_and_a_fresh_one_syncs() -> None:
    market, venues, _ = engine()
    venue = venues["BTCUSDT"]
    old_id = venue.update_id
    for _ in range(3):
        venue.event()  # the stream is not open yet: these are never seen
    market.on_frame(wire(venue.event()), 0)
    supply_snapshot(market, venue, old_id)
    sync = market.feeds[0].sync
    assert sync is not None
    assert sync.stale_snapshots == 1
    assert sync.needs_snapshot
    assert not sync.synced
    heal(market, venues)


def test_one_symbols_resync_leaves_the_other_applying() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    applied: list[str] = []
    market.on_book = lambda symbol, book, recv_ns: applied.append(symbol)
    btc, eth = market.feed("BTCUSDT"), market.feed("ETHUSDT")
    assert btc is not None
    assert eth is not None
    assert btc.sync is not None
    assert eth.sync is not None
    venues["BTCUSDT"].event()  # lost on the way: the next BTC event exposes the gap
    market.on_frame(wire(venues["BTCUSDT"].event()), clock())
    assert btc.sync.gaps == 1
    seen = [levels(market, "ETHUSDT")]
    for _ in range(20):
        clock.now_ns += 100_000_000
        market.on_frame(wire(venues["BTCUSDT"].event()), clock())
        market.on_frame(wire(venues["ETHUSDT"].event()), clock())
        assert not btc.sync.synced
        assert eth.sync.synced
        assert levels(market, "ETHUSDT") == venues["ETHUSDT"].levels()
        seen.append(levels(market, "ETHUSDT"))
        assert market.feed_states() == [FeedState.SYNCING, FeedState.LIVE]
        assert market.touch("BTCUSDT") == (-1, -1)
    assert len({repr(s) for s in seen}) > 10  # the other book really kept changing
    assert applied == ["ETHUSDT"] * 20
    assert (eth.sync.gaps, eth.sync.resyncs) == (0, 0)
    supply_snapshot(market, venues["BTCUSDT"])
    assert btc.sync.synced
    assert levels(market, "BTCUSDT") == venues["BTCUSDT"].levels()
    market.on_frame(wire(venues["BTCUSDT"].event()), clock())
    assert levels(market, "BTCUSDT") == venues["BTCUSDT"].levels()
    assert market.feed_states() == [FeedState.LIVE, FeedState.LIVE]


async def test_resync_fetches_a_snapshot_from_the_venue() -> None:
    # The engine's own snapshot task, against the venue's REST answers.
    venues = {s: Venue(s, 3) for s in NAMES}
    rest = VenueRest(venues)
    market = MarketData(rest, "ws://127.0.0.1:9", NAMES, "100ms", 5.0)
    await market.load_specs()
    market.depth_connected = True
    for _ in range(3):
        for venue in venues.values():
            market.on_frame(wire(venue.event()), 0)
        await asyncio.sleep(0)  # the snapshot tasks run between frames
    for _ in range(3):
        for venue in venues.values():
            market.on_frame(wire(venue.event()), 0)
    for venue in venues.values():
        assert synced(market, venue.symbol)
        assert levels(market, venue.symbol) == venue.levels()
    assert rest.depth_calls == 2
    venues["ETHUSDT"].event()  # lost
    market.on_frame(wire(venues["ETHUSDT"].event()), 0)
    eth = market.feed("ETHUSDT")
    assert eth is not None
    task = eth.snapshot_task
    assert task is not None
    market.on_frame(wire(venues["ETHUSDT"].event()), 0)
    await task
    market.on_frame(wire(venues["ETHUSDT"].event()), 0)
    assert synced(market, "ETHUSDT")
    assert levels(market, "ETHUSDT") == venues["ETHUSDT"].levels()
    assert rest.depth_calls == 3


def test_a_reconnect_keeps_the_books_when_the_chain_continues() -> None:
    # Nothing happened on the venue while the connection changed: the first event on the
    # new one follows each book (pu == u), so no book is thrown away and none is fetched.
    market, venues, _ = engine()
    sync_all(market, venues)
    market._set_connected("depth", False)
    assert not market.connected()
    assert all(s == FeedState.DOWN for s in market.feed_states())
    assert all(synced(market, s) for s in NAMES)  # kept: the venue's book as of its id
    market._set_connected("depth", True)
    for venue in venues.values():
        market.on_frame(wire(venue.event()), 0)
        feed = market.feed(venue.symbol)
        assert feed is not None
        assert feed.sync is not None
        assert feed.sync.state == SyncState.SYNCED
        assert not feed.sync.needs_snapshot
        assert (feed.sync.gaps, feed.sync.resyncs) == (0, 0)
        assert levels(market, venue.symbol) == venue.levels()


def test_a_reconnect_that_missed_events_resyncs_the_book_as_after_any_gap() -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    btc = venues["BTCUSDT"]
    market._set_connected("depth", False)
    btc.event()  # published while no connection was up
    market._set_connected("depth", True)
    feed = market.feed("BTCUSDT")
    assert feed is not None
    assert feed.sync is not None
    assert feed.sync.synced  # kept: exactly the venue's book as of its id, so far
    market.on_frame(wire(btc.event()), 0)
    # The first new event proves events were missed: the book is behind, and says so.
    assert not feed.sync.synced
    assert feed.sync.needs_snapshot
    assert feed.sync.gaps == 1
    market.on_frame(wire(btc.event()), 0)
    supply_snapshot(market, btc)
    assert feed.sync.state == SyncState.SYNCED
    assert levels(market, "BTCUSDT") == btc.levels()
    heal(market, venues)


def test_an_unreachable_venue_drops_the_kept_books() -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    market._set_connected("depth", False)
    market._drop_books("venue unreachable")
    assert not any(synced(market, s) for s in NAMES)
    market._set_connected("depth", True)
    heal(market, venues)


def test_a_kept_book_that_is_not_replaced_in_time_is_dropped() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    market._set_connected("depth", False)
    market._set_connected("depth", True)
    clock.now_ns += 6 * 10**9  # past stale_after_s (5 s) with nothing on the new stream
    market._check_feeds()
    assert not any(synced(market, s) for s in NAMES)
    heal(market, venues)


async def test_oversized_frame_from_the_socket_is_counted() -> None:
    # A real websocket: the venue side sends a frame over the engine's size limit, which
    # aiohttp refuses; the engine counts it and ends the connection for a reconnect.
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_bytes(b"x" * (_MAX_FRAME + 1))
        await ws.receive()
        return ws

    market = MarketData(None, "ws://127.0.0.1:9", NAMES, "100ms", 5.0)
    async with (
        serving({"/ws": handler}) as port,
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{port}/ws", max_msg_size=_MAX_FRAME, compress=0
        ) as ws,
    ):
        await asyncio.wait_for(market._receive(ws, "depth"), 10)
    assert market.bad_frames == 1
    assert market.msgs_total == 0


class StreamVenue:
    """The venues behind a real websocket server: every few ms each symbol's next event goes
    to every depth connection open at the time, as the venue's fan-out does."""

    def __init__(self, venues: dict[str, Venue]) -> None:
        self.venues = venues
        self.depth: set[web.WebSocketResponse] = set()
        self.opened = 0

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.opened += 1
        if request.path.startswith("/public"):
            self.depth.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.depth.discard(ws)
        return ws

    async def publish(self) -> None:
        while True:
            for venue in self.venues.values():
                frame = wire(venue.event())
                for ws in list(self.depth):
                    with contextlib.suppress(ConnectionError):
                        await ws.send_bytes(frame)
            await asyncio.sleep(0.005)


async def test_connections_roll_over_before_their_lifetime_without_the_books_going_dark() -> None:
    # Make before break: at the end of its lifetime a connection is replaced by one opened
    # beside it; the books switch once the new stream has caught up, never unsynced, never
    # resynced, and always the venue's book at the id they claim.
    venues = {s: Venue(s, 7 + k) for k, s in enumerate(NAMES)}
    streams = StreamVenue(venues)
    app = web.Application()
    app.router.add_get("/public/stream", streams.handler)
    app.router.add_get("/market/stream", streams.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    market = MarketData(
        VenueRest(venues),
        f"ws://127.0.0.1:{port}",
        NAMES,
        "100ms",
        5.0,
        connection_lifetime_s=0.4,
    )
    publisher = asyncio.create_task(streams.publish())
    running = asyncio.create_task(market.run())
    try:
        for _ in range(2000):
            if all(synced(market, s) for s in NAMES):
                break
            await asyncio.sleep(0.005)
        assert all(synced(market, s) for s in NAMES)
        deadline = asyncio.get_running_loop().time() + 1.5
        while asyncio.get_running_loop().time() < deadline:
            for feed in market.feeds:
                assert feed.sync is not None
                assert feed.sync.synced, "a book went dark during a rollover"
                assert feed.sync.book.levels() == venues[feed.symbol].levels(
                    feed.sync.last_update_id
                )
            await asyncio.sleep(0.002)
    finally:
        await market.stop()
        await asyncio.wait_for(running, 5)
        publisher.cancel()
        await runner.cleanup()
    assert market.rollovers >= 4  # both connections, at least twice each
    assert market.reconnects == 0
    for feed in market.feeds:
        assert feed.sync is not None
        assert (feed.sync.gaps, feed.sync.resyncs) == (0, 0)


# ---- the stale watchdog ----------------------------------------------------------------


def ticker(symbol: str, update_id: int = 10**12) -> bytes:
    # By default ahead of any book here, so only its arrival counts (no top comparison).
    data = {
        "e": "bookTicker",
        "u": update_id,
        "s": symbol,
        "b": "1.0",
        "B": "1",
        "a": "1.1",
        "A": "1",
    }
    return orjson.dumps({"stream": f"{symbol.lower()}@bookTicker", "data": data})


def test_a_symbol_whose_depth_stops_while_it_ticks_is_resynced_and_resubscribed() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    start = clock.now_ns
    for feed in market.feeds:
        feed.depth_ns = start
    # Both symbols tick for 6 s; only ETHUSDT's diffs keep coming.
    for _ in range(12):
        clock.now_ns += 500_000_000
        market.on_frame(ticker("BTCUSDT"), clock())
        market.on_frame(ticker("ETHUSDT"), clock())
        market.on_frame(wire(venues["ETHUSDT"].event()), clock())
        if clock.now_ns - start <= 5 * 10**9:
            assert market._check_feeds() == []  # not yet past the stale time
    assert market._check_feeds() == ["btcusdt@depth@100ms"]
    assert not synced(market, "BTCUSDT")
    assert synced(market, "ETHUSDT")
    assert market.stale_resyncs == 1
    assert market._check_feeds() == []  # judged again only a stale time later
    heal(market, venues)


def test_a_quiet_symbol_is_not_stale() -> None:
    # No ticks, no trades, no diffs: nothing says the depth stream is behind.
    market, venues, clock = engine()
    sync_all(market, venues)
    clock.now_ns += 60 * 10**9
    assert market._check_feeds() == []
    assert all(synced(market, s) for s in NAMES)


class StubSocket:
    closed = False


@pytest.mark.parametrize(
    ("depth_quiet_s", "trades_quiet_s", "silent"),
    [
        (1, 1, []),
        (6, 1, ["depth"]),  # silent while the venue is alive: after the stale time
        (6, 6, []),  # both silent (a quiet venue?): twice as long
        (11, 11, ["depth"]),  # the trades connection only after four times the stale time
        (11, 21, ["depth", "trades"]),
        (1, 19, []),
    ],
)
def test_silent_connections_are_reconnected(
    depth_quiet_s: int, trades_quiet_s: int, silent: list[str]
) -> None:
    market, _, clock = engine()
    now = clock.now_ns
    for name, quiet_s in (("depth", depth_quiet_s), ("trades", trades_quiet_s)):
        conn = _Conn(name, StubSocket(), now - 100 * 10**9, recv_ns=now - quiet_s * 10**9)  # type: ignore[arg-type]
        conn.primary = True
        market._primary[name] = conn
    assert [c.name for c in market._silent_connections()] == silent


# ---- circuit breakers --------------------------------------------------------------------


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("test", threshold=3, cool_down_s=10.0, clock_ns=clock)


def test_breaker_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    b.success()  # the count is of consecutive failures
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert b.state == CircuitBreaker.CLOSED
    assert b.allow()
    b.failure()
    assert (b.state, b.trips) == (CircuitBreaker.OPEN, 1)
    clock.now_ns += 9_900_000_000
    assert not b.allow()
    assert b.wait_s() == pytest.approx(0.1)


def test_breaker_lets_one_probe_through_after_the_cool_down() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    clock.now_ns += 10 * 10**9
    assert b.allow()
    assert b.state == CircuitBreaker.HALF_OPEN
    assert not b.allow()  # only the one probe
    b.success()
    assert b.state == CircuitBreaker.CLOSED
    assert b.allow()
    assert b.allow()


def test_a_failed_probe_opens_the_breaker_for_another_cool_down() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    clock.now_ns += 10 * 10**9
    assert b.allow()
    b.failure()  # one failure is enough in half-open
    assert (b.state, b.trips) == (CircuitBreaker.OPEN, 2)
    clock.now_ns += 5 * 10**9
    assert not b.allow()
    clock.now_ns += 5 * 10**9
    assert b.allow()


def test_a_probe_that_never_answers_is_replaced_after_a_cool_down() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    clock.now_ns += 10 * 10**9
    assert b.allow()  # its caller is then cancelled: neither success nor failure
    clock.now_ns += 9 * 10**9
    assert not b.allow()
    clock.now_ns += 10**9
    assert b.allow()


class FailingRest(VenueRest):
    """Answers depth with an error for the first `failures` calls, noting when each came."""

    def __init__(self, venues: dict[str, Venue], clock: Clock, failures: int) -> None:
        super().__init__(venues)
        self.clock = clock
        self.failures = failures
        self.calls: list[int] = []

    async def depth(self, symbol: str, limit: int) -> dict[str, object]:
        self.calls.append(self.clock.now_ns)
        if len(self.calls) <= self.failures:
            raise VenueError("HTTP 503", status=503)
        return await super().depth(symbol, limit)


async def test_snapshot_calls_stop_while_the_breaker_is_open() -> None:
    venues = {s: Venue(s, 5) for s in NAMES}
    clock = Clock()
    rest = FailingRest(venues, clock, failures=7)
    market = MarketData(rest, "ws://127.0.0.1:9", NAMES, "100ms", 5.0, clock)
    await market.load_specs()
    market.depth_connected = True
    market.snapshot_breaker = CircuitBreaker("depth", 5, 30.0, clock)

    async def sleep(seconds: float) -> None:  # time passes only when the engine waits
        clock.now_ns += int(seconds * 1e9)
        await asyncio.sleep(0)

    market._sleep = sleep  # type: ignore[method-assign]
    feed = market.feed("BTCUSDT")
    assert feed is not None
    assert feed.sync is not None
    market.on_frame(wire(venues["BTCUSDT"].event()), clock())
    await market._snapshot(feed)
    assert not feed.sync.needs_snapshot
    gaps = [b - a for a, b in zip(rest.calls, rest.calls[1:], strict=False)]
    # Five failures with the backoff between them (at most 10 s each), then one probe per
    # cool-down: the 6th call after 30 s, fails, the 7th another 30 s on, fails; the 8th
    # succeeds and closes the breaker.
    assert len(rest.calls) == 8
    assert all(g <= 10 * 10**9 for g in gaps[:4])
    assert all(g >= 30 * 10**9 for g in gaps[4:])
    assert market.snapshot_breaker.state == CircuitBreaker.CLOSED
    assert market.snapshot_breaker.trips == 3  # at the 5th failure and at each failed probe


# ---- generated faults across two symbols -----------------------------------------------

fault_st = st.sampled_from(
    [
        *("event", "event", "event", "drop", "duplicate", "swap", "garbage", "lost"),
        *("snapshot", "stale snapshot", "reconnect"),
    ]
)


class Faulty:
    """The streams between the venues and the engine, doing what each fault says."""

    def __init__(self, market: MarketData, venues: dict[str, Venue]) -> None:
        self.market = market
        self.venues = venues
        self.sent: dict[str, list[bytes]] = {s: [] for s in NAMES}
        self.held: dict[str, bytes | None] = dict.fromkeys(NAMES)  # delivered late

    def send(self, symbol: str, frame: bytes, step: int) -> None:
        self.market.on_frame(frame, step)
        self.sent[symbol].append(frame)

    def step(self, symbol: str, fault: str, step: int, garbage: str, lost: str, back: int) -> None:
        venue, market, sent = self.venues[symbol], self.market, self.sent[symbol]
        sync = market.feeds[NAMES.index(symbol)].sync
        assert sync is not None
        late = self.held[symbol]
        if fault == "event":
            self.send(symbol, wire(venue.event()), step)
        elif fault == "drop":
            venue.event()
        elif fault == "duplicate" and sent:
            self.send(symbol, sent[-1 - back % min(3, len(sent))], step)
        elif fault == "swap" and late is None:
            self.held[symbol] = wire(venue.event())
        elif fault == "swap" and late is not None:
            self.send(symbol, wire(venue.event()), step)
            self.send(symbol, late, step)
            self.held[symbol] = None
        elif fault == "garbage":
            market.on_frame(DROPPED[garbage], step)
        elif fault == "lost":
            market.on_frame(depth_frame(venue, **LOST[lost]), step)
        elif fault == "snapshot" and sync.needs_snapshot:
            supply_snapshot(market, venue)
        elif fault == "stale snapshot" and sync.needs_snapshot:
            ids = sorted(venue.history)
            supply_snapshot(market, venue, ids[max(0, len(ids) - 1 - back % 4)])
        elif fault == "reconnect":
            market._set_connected("depth", False)
            market._set_connected("depth", True)
            self.held = dict.fromkeys(NAMES)


@settings(max_examples=60, deadline=None)
@given(
    faults=st.lists(st.tuples(st.sampled_from(NAMES), fault_st), min_size=1, max_size=60),
    garbage=st.lists(st.sampled_from(sorted(DROPPED)), min_size=60, max_size=60),
    lost=st.lists(st.sampled_from(sorted(LOST)), min_size=60, max_size=60),
    seed=st.integers(0, 2**16),
)
def test_generated_faults_never_leave_a_synced_book_wrong(
    faults: list[tuple[str, str]], garbage: list[str], lost: list[str], seed: int
) -> None:
    market, venues, _ = engine(seed)
    streams = Faulty(market, venues)
    for step, (symbol, fault) in enumerate(faults):
        streams.step(symbol, fault, step, garbage[step], lost[step], seed + step)
        # The invariant: a book that says it is synced is the venue's book at its id.
        for feed in market.feeds:
            assert feed.sync is not None
            if feed.sync.synced:
                assert feed.sync.book.levels() == venues[feed.symbol].levels(
                    feed.sync.last_update_id
                )
    heal(market, venues)


# ---- reconnect backoff -----------------------------------------------------------------


def test_backoff_full_jitter_stays_within_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    monkeypatch.setattr("hftui.engine.market_data.random", rng)
    backoff = Backoff(0.25, 15.0)
    delays = []
    for attempt in range(40):
        bound = min(15.0, 0.25 * 2**attempt)
        delay = backoff.next_delay()
        assert 0.0 <= delay <= bound
        delays.append(delay)
    assert max(delays) <= 15.0
    assert max(delays[10:]) > 7.5  # the cap is reached, not merely respected
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next_delay() <= 0.25
    assert backoff.next_delay() <= 0.5


def test_backoff_draws_are_uniform_over_the_whole_range(monkeypatch: pytest.MonkeyPatch) -> None:
    # Full jitter: with the window at its cap, draws cover [0, cap], low values included.
    monkeypatch.setattr("hftui.engine.market_data.random", random.Random(11))
    backoff = Backoff(1.0, 8.0)
    for _ in range(4):
        backoff.next_delay()
    draws = [backoff.next_delay() for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in draws)
    assert min(draws) < 0.1
    assert max(draws) > 7.9
    assert 3.7 < sum(draws) / len(draws) < 4.3
    assert backoff.attempt == 30  # the exponent stops growing: 2**attempt cannot overflow


def _trade(agg_id: int, price: str = "64000.10") -> bytes:
    data = {"e": "aggTrade", "s": "BTCUSDT", "a": agg_id, "p": price, "q": "0.010"}
    return orjson.dumps({"stream": "btcusdt@aggTrade", "data": data | {"T": 1, "m": True}})


def test_a_trade_seen_twice_is_taken_once_and_a_fresh_connection_starts_over() -> None:
    # Two trades connections overlap at a rollover; a restarted venue numbers trades anew.
    market, venues, _ = engine()
    sync_all(market, venues)
    taken: list[int] = []
    market.on_trade = lambda symbol, ticks, lots, buyer_maker, now: taken.append(ticks)
    for agg_id, price in ((7, "64000.10"), (8, "64000.20"), (8, "64000.20"), (7, "64000.10")):
        market.on_frame(_trade(agg_id, price), 0)
    feed = market.feed("BTCUSDT")
    assert feed is not None
    assert (len(taken), feed.trade_count, feed.trade_repeats) == (2, 2, 2)
    assert market.bad_frames == 0
    fresh = _Conn("trades", StubSocket(), 0)  # type: ignore[arg-type]
    market._promote(fresh, None)
    market.on_frame(_trade(1), 0)
    assert len(taken) == 3


def test_depth_frames_feed_the_ingest_and_feed_delay_histograms() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    feed = market.feed("BTCUSDT")
    assert feed is not None
    before = feed.ingest.count
    btc = venues["BTCUSDT"]
    event = btc.event()
    received = event["E"] * 1_000_000 + 3_000_000  # type: ignore[operator]
    clock.now_ns = received + 1_500  # the frame took 1.5 us to apply
    market.on_frame(wire(event), received)
    assert feed.ingest.count == before + 1
    assert feed.ingest.quantile_ns(1.0) >= 1_500
    assert feed.feed_delay.count >= 1
    assert feed.feed_delay.quantile_ns(1.0) >= 3_000_000


# ---- bookTicker cross-check and markPrice ------------------------------------------------


def venue_ticker(venue: Venue, bid_shift: int = 0) -> bytes:
    """The venue's bookTicker as of its last update id; `bid_shift` ticks make it lie."""
    bids, asks = venue.levels()
    (bid, bid_lots), (ask, ask_lots) = bids[0], asks[0]
    data = {
        "e": "bookTicker",
        "u": venue.update_id,
        "s": venue.symbol,
        "b": venue.price(bid + bid_shift),
        "B": venue.qty(bid_lots),
        "a": venue.price(ask),
        "A": venue.qty(ask_lots),
    }
    return orjson.dumps({"stream": f"{venue.symbol.lower()}@bookTicker", "data": data})


def test_a_book_that_agrees_with_book_ticker_is_left_alone() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    for _ in range(50):
        for venue in venues.values():
            market.on_frame(venue_ticker(venue), clock())
            market.on_frame(wire(venue.event()), clock())
            clock.now_ns += 100_000_000
    assert market.top_mismatches == 0
    assert market.bad_frames == 0
    assert all(f.disagree_ns == 0 and f.checked_u > 0 for f in market.feeds)


def test_a_disagreement_that_outlasts_the_tolerance_resyncs_that_book_only() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    btc, eth = market.feed("BTCUSDT"), market.feed("ETHUSDT")
    assert btc is not None
    assert eth is not None
    btc_venue = venues["BTCUSDT"]
    # The venue says its best bid is a tick higher than the book has it: the ids chain, so
    # only the cross-check can see it. Within the tolerance (1 s) it is forgiven.
    market.on_frame(venue_ticker(btc_venue, bid_shift=1), clock())
    assert btc.disagree_ns == clock()
    clock.now_ns += 900_000_000
    market.on_frame(wire(btc_venue.event()), clock())
    market.on_frame(venue_ticker(btc_venue, bid_shift=1), clock())
    assert synced(market, "BTCUSDT")
    assert btc.top_mismatches == 0
    clock.now_ns += 200_000_000
    market.on_frame(wire(btc_venue.event()), clock())
    market.on_frame(venue_ticker(btc_venue, bid_shift=1), clock())
    assert btc.top_mismatches == 1
    assert market.top_mismatches == 1
    assert not synced(market, "BTCUSDT")
    assert btc.sync is not None
    assert (btc.sync.resyncs, btc.sync.gaps) == (1, 0)
    assert synced(market, "ETHUSDT")
    assert eth.top_mismatches == 0
    heal(market, venues)


def test_a_brief_disagreement_is_forgiven() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    market.on_frame(venue_ticker(venue, bid_shift=1), clock())
    clock.now_ns += 500_000_000
    market.on_frame(venue_ticker(venue), clock())  # the next ticker agrees
    feed = market.feed("BTCUSDT")
    assert feed is not None
    assert feed.disagree_ns == 0
    clock.now_ns += 5 * 10**9
    market.on_frame(wire(venue.event()), clock())
    market.on_frame(venue_ticker(venue), clock())
    assert market.top_mismatches == 0
    assert synced(market, "BTCUSDT")


def test_a_ticker_ahead_of_the_book_waits_for_the_book_to_reach_it() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    event = venue.event()  # the venue moves on; its ticker arrives before the diff
    market.on_frame(venue_ticker(venue), clock())
    feed = market.feed("BTCUSDT")
    assert feed is not None
    assert feed.checked_u < feed.ticker_u  # not compared with a book that is behind it
    clock.now_ns += 5 * 10**9
    market.on_frame(wire(event), clock())
    assert feed.checked_u == feed.ticker_u
    assert feed.disagree_ns == 0
    assert market.top_mismatches == 0


def test_a_quiet_symbols_lasting_disagreement_is_caught_by_the_watchdog() -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    market.on_frame(venue_ticker(venues["BTCUSDT"], bid_shift=-1), clock())
    clock.now_ns += 2 * 10**9  # nothing else arrives
    market._check_feeds()
    assert market.top_mismatches == 1
    assert not synced(market, "BTCUSDT")


@pytest.mark.parametrize(
    "data",
    [
        {"e": "bookTicker", "s": "BTCUSDT", "b": "1.0", "B": "1", "a": "1.1", "A": "1"},
        {"e": "bookTicker", "s": "BTCUSDT", "u": 1.5, "b": "1.0", "B": "1", "a": "1.1", "A": "1"},
        {"e": "bookTicker", "s": "BTCUSDT", "u": 7, "b": "x", "B": "1", "a": "1.1", "A": "1"},
        {"e": "bookTicker", "s": "BTCUSDT", "u": 7, "B": "1", "a": "1.1", "A": "1"},
        {"e": "markPriceUpdate", "s": "BTCUSDT", "p": "nan", "r": "0.0001", "T": 1},
        {"e": "markPriceUpdate", "s": "BTCUSDT", "p": "-5", "r": "0.0001", "T": 1},
        {"e": "markPriceUpdate", "s": "BTCUSDT", "r": "0.0001", "T": 1},
        {"e": "markPriceUpdate", "s": "BTCUSDT", "p": "100", "r": "0.0001", "T": -1},
        {"e": "markPriceUpdate", "s": "XRPUSDT", "p": "100", "r": "0.0001", "T": 1},
    ],
)
def test_bad_ticker_and_mark_frames_are_counted_and_change_nothing(data: dict[str, object]) -> None:
    market, venues, clock = engine()
    sync_all(market, venues)
    feed = market.feed("BTCUSDT")
    assert feed is not None
    market.on_frame(orjson.dumps({"stream": "x", "data": data}), clock())
    assert market.bad_frames == 1
    assert (feed.ticker_u, feed.mark_price, feed.next_funding_ms) == (0, 0.0, 0)
    assert all(synced(market, s) for s in NAMES)


def test_mark_price_and_funding_are_kept_per_symbol() -> None:
    market, _, clock = engine()
    data = {
        "e": "markPriceUpdate",
        "E": 1,
        "s": "ETHUSDT",
        "p": "3045.12345678",
        "i": "3045.0",
        "r": "-0.00012500",
        "T": 1_700_000_000_000,
    }
    market.on_frame(orjson.dumps({"stream": "ethusdt@markPrice@1s", "data": data}), clock())
    feed = market.feed("ETHUSDT")
    assert feed is not None
    assert (feed.mark_price, feed.funding_rate, feed.next_funding_ms) == (
        3045.12345678,
        -0.000125,
        1_700_000_000_000,
    )
    assert market.bad_frames == 0
    assert "ethusdt@markPrice@1s" in market._urls()[1]
