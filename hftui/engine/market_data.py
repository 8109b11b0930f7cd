"""Market data: stream connections, frame dispatch, depth sync per symbol, recent trades.

`MarketData` alone owns the books (through each symbol's `DepthSync`), the trade rings and
the feed counters. Everything else reads them. The receive path takes a diff or a bookTicker
from its bytes in one numba call per frame (parse, apply, the bookTicker cross-check), any
other frame through orjson, with no I/O, locks or awaits in between; snapshot fetches run as
separate tasks. Frames the socket has already queued are drained as one burst, whose runs of
one book's diffs and bookTickers go in one call (`on_frames`).

Resilience: before a connection reaches the venue's 24 h limit a second one is opened beside
it and takes over once its stream has caught up (make before break), so the books never
stop. A connection the venue closes is replaced at once and the books are kept: they continue
if the new stream chains onto them, else they are rebuilt from a snapshot as after any gap.
A watchdog resyncs a symbol whose depth stream alone went silent and reconnects a silent
connection; circuit breakers stop hammering a venue endpoint that keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import numpy as np
import orjson
from yarl import URL

from hftui.engine.binance.constants import DEPTH_SNAPSHOT_LIMIT, depth_stream
from hftui.engine.binance.rest import PublicRest, VenueError
from hftui.engine.book import ASKS, BIDS, OrderBook, frame_run, one_frame
from hftui.engine.book_verify import DEFAULT_VERIFY_INTERVAL_S, BookVerifier
from hftui.engine.depth_sync import DepthSync, DiffResult, SyncResult, SyncState
from hftui.engine.instrument import Instrument, parse_instruments
from hftui.engine.metrics import LatencyHistogram
from hftui.protocol import MAX_SYMBOLS, TRADE_SLOTS, FeedState
from hftui.recording import Recorder

__all__ = [
    "Backoff",
    "CircuitBreaker",
    "MarketData",
    "NotListedError",
    "SubscriptionError",
    "SymbolFeed",
    "SymbolSpec",
]

log = logging.getLogger(__name__)

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_FRAME: Final = 4 << 20  # a 1000-level snapshot is ~40 KB; anything near this is hostile
# Update ids go to the numba kernels as int64: a larger one (JSON allows it) would raise
# OverflowError on the next frame, and a negative one can never be a venue's.
_MAX_ID: Final = (1 << 63) - 1
# Bursts: shorter ones go frame by frame (a run's set-up costs about what a frame does); a
# longer queue is taken in parts, so the first frame of a burst waits a bounded time.
_MIN_BURST: Final = 4
_MAX_BURST: Final = 256
# Module constants for the per-frame path: an enum member's class lookup costs more.
_APPLIED: Final = SyncResult.APPLIED
_TEXT: Final = aiohttp.WSMsgType.TEXT
_BINARY: Final = aiohttp.WSMsgType.BINARY
# What ends `async for message in ws`, and so the receive loop.
_ENDS: Final = frozenset(
    {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED}
)


# Binance closes every stream connection after 24 h; rolling over to a new one well before
# that leaves time for a few attempts if the venue is slow to take the new connection.
DEFAULT_CONNECTION_LIFETIME_S: Final = 23.5 * 3600
# How long a rollover waits for the new connection to catch up with the old one on every
# synced symbol before switching anyway (a quiet symbol may send nothing for a while).
_HANDOVER_WAIT_S: Final = 2.0
# bookTicker is sent at once and diffs in 100 ms batches, from what may be separate parts of
# the venue: a book whose top disagrees with bookTicker for this long is wrong, not late.
DEFAULT_TOP_TOLERANCE_S: Final = 1.0
# A connection that served this long before it closed is retried at once: the venue was up
# a moment ago, and the kept books can still continue their chains if nothing was missed.
_HEALTHY_S: Final = 1.0


def _is_id(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_ID


def _as_bytes(frame: str | bytes) -> bytes:
    # A text frame's str, or any other bytes-like (the receive path hashes slices of it).
    return frame.encode() if isinstance(frame, str) else bytes(frame)


def _queue_of(ws: aiohttp.ClientWebSocketResponse) -> Sequence[Any]:
    """The messages aiohttp has read from `ws`'s socket and not yet handed out, oldest
    first: the receive loop drains data frames from it as one burst. aiohttp does not
    publish its queue, so this reads its reader's buffer (a test holds the installed version
    to it); where that is missing, an empty tuple: every frame then goes alone."""
    buffer = getattr(getattr(ws, "_reader", None), "_buffer", None)
    return buffer if isinstance(buffer, Sequence) else ()


def _data_next(queue: Sequence[Any]) -> bool:
    """The next queued message is a data frame, which `receive` hands out at once. Anything
    else (a ping it answers and then waits past, a close) ends the burst first."""
    try:
        kind = queue[0][0].type  # (message, size) pairs
    except (IndexError, TypeError, AttributeError):
        return False
    return kind is _TEXT or kind is _BINARY


class SubscriptionError(ValueError):
    """A symbol cannot be followed or dropped at run time; the message says why."""


class NotListedError(SubscriptionError):
    """The venue does not list the symbol (or not as a trading contract)."""


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What the engine needs of one exchangeInfo symbol."""

    symbol: str
    tick_size: str
    step_size: str


class Backoff:
    """Exponential backoff with full jitter, capped (AWS architecture blog's variant)."""

    def __init__(self, base_s: float = 0.25, cap_s: float = 15.0) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0

    def next_delay(self) -> float:
        delay = random.uniform(0.0, min(self.cap_s, self.base_s * (2**self.attempt)))
        self.attempt = min(self.attempt + 1, 30)
        return delay

    def reset(self) -> None:
        self.attempt = 0


class CircuitBreaker:
    """Stops calling an endpoint that keeps failing: after `threshold` consecutive failures
    it opens (no calls) for `cool_down_s`, then lets a single probe through (half-open); the
    probe's success closes it, its failure opens it for another cool-down."""

    CLOSED: Final = "closed"
    OPEN: Final = "open"
    HALF_OPEN: Final = "half-open"

    def __init__(
        self,
        name: str,
        threshold: int = 5,
        cool_down_s: float = 10.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cool_down_ns = int(cool_down_s * 1e9)
        self.clock_ns = clock_ns
        self.state = self.CLOSED
        self.failures = 0  # consecutive
        self.opened_ns = 0
        self.trips = 0  # times opened, for the logs and tests

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, only the one probe may."""
        if self.state == self.CLOSED:
            return True
        # Open until the cool-down is over; half-open until the probe's answer, or another
        # cool-down if it never comes (its caller was cancelled): then probe again.
        if self.clock_ns() - self.opened_ns < self.cool_down_ns:
            return False
        if self.state == self.OPEN:
            log.info("circuit half-open; probing", extra={"endpoint": self.name})
        self.state = self.HALF_OPEN
        self.opened_ns = self.clock_ns()
        return True

    def wait_s(self) -> float:
        """Seconds until `allow` may say yes (0 when closed)."""
        if self.state == self.CLOSED:
            return 0.0
        return max(0.0, (self.opened_ns + self.cool_down_ns - self.clock_ns()) / 1e9)

    def success(self) -> None:
        if self.state != self.CLOSED:
            log.info("circuit closed", extra={"endpoint": self.name})
        self.state = self.CLOSED
        self.failures = 0

    def failure(self) -> None:
        self.failures += 1
        if self.state == self.HALF_OPEN or (
            self.state == self.CLOSED and self.failures >= self.threshold
        ):
            self.state = self.OPEN
            self.opened_ns = self.clock_ns()
            self.trips += 1
            log.warning(
                "circuit open",
                extra={"endpoint": self.name, "failures": self.failures},
            )


@dataclass(slots=True, eq=False)
class _Conn:
    """One stream connection. Only the primary connection of each kind feeds the books; a
    new one opened for a rollover is the incoming one until it has caught up."""

    name: str  # "depth" or "trades"
    ws: aiohttp.ClientWebSocketResponse
    opened_ns: int
    recv_ns: int = 0  # the last frame of any kind
    primary: bool = False
    task: asyncio.Task[None] = field(init=False)  # set as soon as it is opened
    # Depth rollover: per symbol, [pu of the first event, u of the last event] seen here.
    seen: dict[str, list[int]] = field(default_factory=dict)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    symbols: set[str] = field(default_factory=set)  # followed when its URL was made


@dataclass(slots=True)
class SymbolFeed:
    """One symbol's live state. Mutated only by `MarketData`."""

    index: int
    symbol: str
    sync: DepthSync | None = None  # None until exchangeInfo told us the grid
    recv_ns: int = 0
    # The last frame of each stream kind, for the per-stream stale watchdog.
    depth_ns: int = 0
    ticker_ns: int = 0
    trade_ns: int = 0
    last_trade_id: int = 0  # the newest aggTrade id taken: an id at or below it is a repeat
    # Frame received -> book applied, and venue event time -> received (for an exporter).
    ingest: LatencyHistogram = field(default_factory=LatencyHistogram)
    feed_delay: LatencyHistogram = field(default_factory=LatencyHistogram)
    trade_repeats: int = 0
    resume_ns: int = 0  # when the book was kept across a connection change
    event_time_ms: int = 0
    msgs: int = 0
    version: int = 0  # bumped on every visible change; the publisher compares it
    # bookTicker: the venue's own top of book, kept in the book (`OrderBook.ticker`) and
    # checked against it once the book has reached its update id.
    disagree_ns: int = 0  # since when the book's top has disagreed with bookTicker; 0: agrees
    top_mismatches: int = 0  # disagreements that outlasted the tolerance (each a resync)
    # markPrice stream (USDT and a fraction; 0 until the first update)
    mark_price: float = 0.0
    funding_rate: float = 0.0
    next_funding_ms: int = 0
    trade_count: int = 0
    trade_px: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.int64))
    trade_qty: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.int64))
    trade_time_ms: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.int64))
    trade_buyer_maker: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.uint8))
    snapshot_task: asyncio.Task[None] | None = None

    @property
    def book(self) -> OrderBook | None:
        return self.sync.book if self.sync is not None else None

    @property
    def ticker_u(self) -> int:
        """u of the last bookTicker kept (0: none)."""
        return self.sync.book.ticker_u if self.sync is not None else 0

    @property
    def checked_u(self) -> int:
        """The bookTicker u last compared with the book."""
        return self.sync.book.checked_u if self.sync is not None else 0

    def state(self, connected: bool, now_ns: int, stale_after_ns: int) -> FeedState:
        if not connected:
            return FeedState.DOWN
        if self.sync is None or not self.sync.synced:
            return FeedState.SYNCING
        if now_ns - self.recv_ns > stale_after_ns:
            return FeedState.STALE
        return FeedState.LIVE


class MarketData:
    """Connections to the venue's streams and the per-symbol state they feed."""

    def __init__(
        self,
        rest: PublicRest | None,
        stream_url: str,
        symbols: Sequence[str],
        depth_speed: str,
        stale_after_s: float,
        clock_ns: Callable[[], int] = time.time_ns,
        connection_lifetime_s: float = DEFAULT_CONNECTION_LIFETIME_S,
        top_tolerance_s: float = DEFAULT_TOP_TOLERANCE_S,
        verify_interval_s: float = DEFAULT_VERIFY_INTERVAL_S,
    ) -> None:
        self.rest = rest
        self.stream_url = stream_url.rstrip("/")
        # However long the venue was away, the books should be back soon after it returns, so
        # a retry is never far off. On loopback (the local exchange) that is 1 s: the books
        # are back within 2 s of it restarting. Binance allows an IP 300 connection attempts
        # in 5 minutes (one a second); full jitter up to 10 s averages 0.2 a second for each
        # of the two connections, however long an outage lasts.
        host = URL(self.stream_url).host or ""
        self.reconnect_cap_s = 1.0 if host in _LOOPBACK else 10.0
        self.depth_speed = depth_speed
        self.stale_after_ns = int(stale_after_s * 1e9)
        self.clock_ns = clock_ns
        self.lifetime_ns = int(connection_lifetime_s * 1e9)
        self.top_tolerance_ns = int(top_tolerance_s * 1e9)
        # Dense: a feed's index is its position here and its snapshot block.
        self.feeds = [SymbolFeed(i, s) for i, s in enumerate(symbols)]
        self.layout = 0  # bumped when symbols are added or removed at run time
        self._unfollowed: set[str] = set()  # dropped at run time: their late frames are expected
        self._by_symbol = {f.symbol: f for f in self.feeds}
        self._by_symbol_bytes = {f.symbol.encode(): f for f in self.feeds}
        self.depth_connected = False
        self.trades_connected = False
        self.msgs_total = 0
        self.bytes_total = 0
        self.bad_frames = 0
        self.reconnects = 0
        self.rollovers = 0  # connections replaced make-before-break
        self.stale_resyncs = 0  # symbols whose depth went silent while their other streams ran
        self.top_mismatches = 0  # books whose top disagreed with bookTicker (each resynced)
        self._primary: dict[str, _Conn] = {}
        self._incoming: _Conn | None = None
        self._conns: set[_Conn] = set()
        self._control_id = 0
        # One breaker for the REST snapshot endpoint (all symbols share the venue's weight
        # budget) and one per stream connection. Their cool-down is the reconnect cap: a
        # venue that came back is still found as soon as the backoff alone would find it,
        # but one that keeps failing gets a single probe per cool-down, not a jittered burst.
        self.snapshot_breaker = CircuitBreaker("GET /fapi/v1/depth", 5, self.reconnect_cap_s)
        self.connect_breakers = {
            name: CircuitBreaker(f"stream connect ({name})", 5, self.reconnect_cap_s)
            for name in ("depth", "trades")
        }
        self._stopping = asyncio.Event()
        # Checks each book against a REST snapshot now and then (see book_verify).
        self.verifier = BookVerifier(self, verify_interval_s, self._stopping)
        self.recorder: Recorder | None = None
        self.fetch_snapshots = True  # off in replay, where snapshots come from the recording
        self._sockets: set[aiohttp.ClientWebSocketResponse] = set()
        self._one_size = np.zeros(1, np.int64)  # for one_frame
        # Listeners (the engine's execution): the instruments once exchangeInfo is in, every
        # applied diff, every trade. Diffs and trades call inline on the receive path, so
        # those listeners must be cheap.
        self.on_info: Callable[[dict[str, Instrument]], None] | None = None
        self.on_book: Callable[[str, OrderBook, int], None] | None = None
        self.on_trade: Callable[[str, int, int, bool, int], None] | None = None

    # ---- start-up -------------------------------------------------------------------------

    def feed(self, symbol: str) -> SymbolFeed | None:
        return self._by_symbol.get(symbol)

    async def load_specs(self) -> None:
        """Fetch exchangeInfo (retrying with backoff until it answers) and set up the books."""
        if self.rest is None:
            raise RuntimeError("no venue to load symbols from (a replay supplies them)")
        backoff = Backoff(0.5, 10.0)
        while not self._stopping.is_set():
            try:
                info = await self.rest.exchange_info()
                break
            except VenueError as exc:
                delay = backoff.next_delay()
                log.warning("exchangeInfo failed; retrying", extra={"error": str(exc)})
                await self._sleep(delay)
        else:
            return
        instruments = parse_instruments(info, [f.symbol for f in self.feeds])
        self.apply_specs(
            {s: SymbolSpec(s, i.tick_size, i.step_size) for s, i in instruments.items()}
        )
        if self.on_info is not None:
            self.on_info(instruments)

    def apply_specs(self, specs: dict[str, SymbolSpec]) -> None:
        """Set up a book per configured symbol the venue lists (the rest stay idle)."""
        if self.recorder is not None:
            info = {
                s.symbol: {"tickSize": s.tick_size, "stepSize": s.step_size} for s in specs.values()
            }
            self.recorder.write(self.clock_ns(), "info", orjson.dumps(info))
        for feed in self.feeds:
            spec = specs.get(feed.symbol)
            if spec is None:
                log.error("symbol is not listed by the venue", extra={"symbol": feed.symbol})
                continue
            book = OrderBook(spec.symbol, spec.tick_size, spec.step_size)
            book.set_calm(feed.disagree_ns == 0)
            feed.sync = DepthSync(book)
            self._time_frames(feed)
            feed.version += 1

    def _time_frames(self, feed: SymbolFeed) -> None:
        # On the wall clock, the depth kernel times the frames it applies itself (one clock
        # read in numba instead of two Python observes); another clock (a replay's) keeps
        # the Python observes below, on its own time.
        if self.clock_ns is time.time_ns and feed.sync is not None:
            feed.sync.time_frames(feed.ingest, feed.feed_delay)

    # ---- symbols at run time --------------------------------------------------------------

    async def subscribe(self, symbol: str) -> Instrument:
        """Follow `symbol` from now on (book, trades, mark) on the connections already open,
        and on every later one. Its book syncs like any other, from a snapshot.

        Raises:
            SubscriptionError: already followed, no room, or not listed by the venue.
        """
        self._check_room(symbol)
        if self.rest is None:
            raise SubscriptionError("no venue to look the symbol up at")
        try:
            info = await self.rest.exchange_info()
        except VenueError as exc:
            raise SubscriptionError(f"exchangeInfo failed: {exc}") from None
        inst = parse_instruments(info, [symbol]).get(symbol)
        if inst is None:
            raise NotListedError(f"{symbol} is not listed by the venue")
        self._check_room(symbol)  # again: another subscribe may have run meanwhile
        feed = SymbolFeed(len(self.feeds), symbol)
        feed.sync = DepthSync(OrderBook(symbol, inst.tick_size, inst.step_size))
        self._time_frames(feed)
        feed.depth_ns = feed.ticker_ns = feed.trade_ns = self.clock_ns()
        self.feeds.append(feed)
        self._by_symbol[symbol] = feed
        self._by_symbol_bytes[symbol.encode()] = feed
        self._unfollowed.discard(symbol)
        self.layout += 1
        if self.recorder is not None:
            spec = {symbol: {"tickSize": inst.tick_size, "stepSize": inst.step_size}}
            self.recorder.write(self.clock_ns(), "info", orjson.dumps(spec))
        await self._control_all("SUBSCRIBE", symbol)
        log.info("symbol followed", extra={"symbol": symbol})
        return inst

    def _check_room(self, symbol: str) -> None:
        if symbol in self._by_symbol:
            raise SubscriptionError(f"{symbol} is already followed")
        if len(self.feeds) >= MAX_SYMBOLS:
            raise SubscriptionError(f"at most {MAX_SYMBOLS} symbols can be followed")

    async def unsubscribe(self, symbol: str) -> None:
        """Stop following `symbol`: its streams are dropped and its book forgotten.

        Raises:
            SubscriptionError: not followed, or the last symbol.
        """
        feed = self._by_symbol.get(symbol)
        if feed is None:
            raise SubscriptionError(f"{symbol} is not followed")
        if len(self.feeds) == 1:
            raise SubscriptionError("the last symbol cannot be dropped")
        self.feeds.remove(feed)
        for i, other in enumerate(self.feeds):
            other.index = i
        del self._by_symbol[symbol]
        del self._by_symbol_bytes[symbol.encode()]
        self._unfollowed.add(symbol)
        if feed.snapshot_task is not None:
            feed.snapshot_task.cancel()
        self.layout += 1
        await self._control_all("UNSUBSCRIBE", symbol)
        log.info("symbol dropped", extra={"symbol": symbol})

    async def _control_all(self, method: str, symbol: str) -> None:
        # Every open connection, a rollover's incoming one too: it may take over any moment.
        for conn in list(self._conns):
            if not conn.ws.closed:
                await self._send_control(conn, method, self._streams(conn.name, symbol))

    async def _send_control(self, conn: _Conn, method: str, streams: list[str]) -> None:
        self._control_id += 1
        message = {"method": method, "params": streams, "id": self._control_id}
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            await conn.ws.send_str(orjson.dumps(message).decode())

    # ---- connections ----------------------------------------------------------------------

    def _streams(self, name: str, symbol: str) -> list[str]:
        """One symbol's streams on the `depth` or the `trades` connection. Binance serves
        depth and bookTicker on /public, aggTrade and markPrice on /market."""
        s = symbol.lower()
        if name == "depth":
            return [depth_stream(symbol, self.depth_speed), f"{s}@bookTicker"]
        return [f"{s}@aggTrade", f"{s}@markPrice@1s"]

    def _url(self, name: str) -> str:
        """The URL of a new `depth` or `trades` connection, for the symbols of this moment
        (symbols come and go at run time; see `subscribe`)."""
        streams = "/".join(
            stream
            for f in self.feeds
            if f.sync is not None
            for stream in self._streams(name, f.symbol)
        )
        path = "public" if name == "depth" else "market"
        return f"{self.stream_url}/{path}/stream?streams={streams}"

    def _urls(self) -> tuple[str, str]:
        return self._url("depth"), self._url("trades")

    async def run(self) -> None:
        """Load specs, then keep both stream connections up until `stop()`."""
        session = aiohttp.ClientSession()
        try:
            await self.load_specs()
            if self._stopping.is_set():
                return
            if not any(f.sync for f in self.feeds):
                log.error("none of the configured symbols is listed; market data idle")
                await self._stopping.wait()
                return
            await asyncio.gather(
                self._connection(session, "depth"),
                self._connection(session, "trades"),
                self._watchdog(),
                self.verifier.run(),
            )
        finally:
            for feed in self.feeds:
                if feed.snapshot_task is not None:
                    feed.snapshot_task.cancel()
            for conn in list(self._conns):
                conn.task.cancel()
            await session.close()

    def _set_connected(self, name: str, up: bool) -> None:
        if name != "depth":
            self.trades_connected = up
            return
        self.depth_connected = up
        if not up:
            # Events may be missed before the next connection is up: a synced book is kept,
            # and continues only if the new stream's first event chains onto it (else a
            # snapshot replaces it); an unsynced one starts over.
            now = self.clock_ns()
            for feed in self.feeds:
                if feed.sync is not None:
                    feed.sync.resume("reconnect")
                    feed.resume_ns = now
                    feed.version += 1

    def _drop_books(self, reason: str) -> None:
        """Throw away every book kept across a reconnect: the venue is not answering, so
        how far it has moved on is unknown."""
        for feed in self.feeds:
            if feed.sync is not None and feed.sync.resuming:
                feed.sync.reset(reason)
                feed.version += 1

    async def _connect(
        self, session: aiohttp.ClientSession, name: str, url: str
    ) -> aiohttp.ClientWebSocketResponse | None:
        breaker = self.connect_breakers[name]
        try:
            ws = await session.ws_connect(
                url, autoping=True, max_msg_size=_MAX_FRAME, compress=0, heartbeat=None
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            breaker.failure()
            log.warning("stream connect failed", extra={"stream": name, "error": repr(exc)})
            return None
        breaker.success()
        if self._stopping.is_set():  # `stop` has already closed the sockets it knew of
            await ws.close()
            return None
        self._sockets.add(ws)
        log.info("stream connected", extra={"stream": name, "url": url})
        return ws

    async def _open(self, session: aiohttp.ClientSession, name: str) -> _Conn | None:
        """A new connection for the symbols followed now, serving from this moment."""
        symbols = {f.symbol for f in self.feeds if f.sync is not None}
        ws = await self._connect(session, name, self._url(name))
        if ws is None:
            return None
        conn = self._start(name, ws)
        conn.symbols = symbols
        return conn

    async def _catch_up(self, conn: _Conn) -> None:
        """Subscribe a new connection to symbols followed while it was being opened (they
        are not in its URL). After `_promote`: no await may come between starting a
        connection and promoting it, or its first frames would be taken for a rollover's."""
        for feed in list(self.feeds):
            if feed.sync is not None and feed.symbol not in conn.symbols:
                await self._send_control(conn, "SUBSCRIBE", self._streams(conn.name, feed.symbol))

    def _start(self, name: str, ws: aiohttp.ClientWebSocketResponse) -> _Conn:
        now = self.clock_ns()
        conn = _Conn(name, ws, now, recv_ns=now)
        conn.task = asyncio.get_running_loop().create_task(self._serve(conn))
        self._conns.add(conn)
        conn.task.add_done_callback(lambda _: self._conns.discard(conn))
        return conn

    async def _serve(self, conn: _Conn) -> None:
        try:
            await self._receive(conn.ws, conn.name, conn)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("stream failed", extra={"stream": conn.name, "error": repr(exc)})
        finally:
            self._sockets.discard(conn.ws)
            if not conn.ws.closed:
                await conn.ws.close()

    async def _connection(self, session: aiohttp.ClientSession, name: str) -> None:
        backoff = Backoff(0.25, self.reconnect_cap_s)
        breaker = self.connect_breakers[name]
        while not self._stopping.is_set():
            if not breaker.allow():
                await self._sleep(max(0.01, breaker.wait_s()))
                continue
            conn = await self._open(session, name)
            if conn is None:
                if name == "depth":
                    self._drop_books("venue unreachable")
                self.reconnects += 1
                await self._sleep(backoff.next_delay())
                continue
            backoff.reset()
            self._promote(conn, None)
            await self._catch_up(conn)
            lived_ns = await self._keep(session, conn)
            self._set_connected(name, False)
            if self._stopping.is_set():
                return
            self.reconnects += 1
            if lived_ns < _HEALTHY_S * 1e9:
                await self._sleep(backoff.next_delay())

    async def _keep(self, session: aiohttp.ClientSession, conn: _Conn) -> int:
        """Serve `conn`, and each connection that takes over from it at the end of its
        lifetime, until one ends; returns how long the last one lived, in ns."""
        while True:
            due_s = (conn.opened_ns + self.lifetime_ns - self.clock_ns()) / 1e9
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(conn.task), max(0.0, due_s))
            if conn.task.done() or self._stopping.is_set():
                return self.clock_ns() - conn.opened_ns
            successor = await self._roll(session, conn)
            if successor is None:
                # The venue did not take a new connection: keep the old one (it is still
                # good until the venue closes it) and try again shortly.
                conn.opened_ns += int(min(60.0, self.lifetime_ns / 1e9 / 10) * 1e9)
                continue
            conn = successor

    async def _roll(self, session: aiohttp.ClientSession, old: _Conn) -> _Conn | None:
        """Make before break: open the next connection while `old` keeps feeding the books,
        switch once it has caught up, then close `old`."""
        if not self.connect_breakers[old.name].allow():
            return None
        new = await self._open(session, old.name)
        if new is None:
            return None
        await self._catch_up(new)
        if old.name == "depth" and any(f.sync is not None and f.sync.synced for f in self.feeds):
            self._incoming = new
            waits = [asyncio.ensure_future(new.caught_up.wait()), old.task, new.task]
            await asyncio.wait(waits, timeout=_HANDOVER_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
            waits[0].cancel()
            self._incoming = None
            if new.task.done() or self._stopping.is_set():
                if not self._stopping.is_set():
                    log.warning("rollover connection ended before it took over")
                return None
        if not new.primary:
            self._promote(new, old)
        self.rollovers += 1
        log.info("stream rolled over", extra={"stream": old.name})
        await old.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await old.task
        return new

    def _promote(self, new: _Conn, old: _Conn | None) -> None:
        """Make `new` the connection that feeds the books. From a rollover (`old` still
        up), a synced symbol the new stream has caught up on simply continues: its next
        event chains or is a duplicate. Any other synced symbol resumes (it continues the
        chain or is rebuilt from a snapshot); an unsynced one starts over."""
        if old is not None:
            old.primary = False
        new.primary = True
        self._primary[new.name] = new
        if new.name == "depth" and old is not None:
            now = self.clock_ns()
            for feed in self.feeds:
                sync = feed.sync
                if sync is None or (sync.synced and self._caught_up(new, feed)):
                    continue
                sync.resume("connection rolled over")
                feed.resume_ns = now
                feed.version += 1
        if old is None:
            self._set_connected(new.name, True)
            # The stale watchdog measures each stream from the moment it can first deliver.
            now = self.clock_ns()
            for feed in self.feeds:
                if new.name == "depth":
                    feed.depth_ns = feed.ticker_ns = now
                else:
                    feed.trade_ns = now
                    # A fresh connection (not a rollover) may face a restarted venue whose
                    # trade ids start again: only a rollover's overlap can repeat one.
                    feed.last_trade_id = 0

    @staticmethod
    def _caught_up(new: _Conn, feed: SymbolFeed) -> bool:
        # The new stream started at or before the book (its first event's pu is covered)
        # and has delivered nothing the book lacks: from here on it carries the same chain.
        ids = new.seen.get(feed.symbol)
        if ids is None or feed.sync is None or feed.sync.state != SyncState.SYNCED:
            return False
        return ids[0] <= feed.sync.last_update_id and ids[1] <= feed.sync.last_update_id

    def _on_incoming(self, conn: _Conn, raw: bytes) -> None:
        """A frame on a rollover connection that has not taken over yet: only its depth ids
        are noted (the old connection still feeds the books). Rare, so plain JSON."""
        if conn is not self._incoming or raw.find(b'"depthUpdate"') < 0:
            return
        try:
            message = orjson.loads(raw)
            event = message.get("data", message) if isinstance(message, dict) else None
            symbol, prev, final = event["s"], event["pu"], event["u"]  # type: ignore[index]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return  # the primary connection's copy of it is judged on the receive path
        if not (isinstance(symbol, str) and _is_id(prev) and _is_id(final)):
            return
        ids = conn.seen.get(symbol)
        if ids is None:
            conn.seen[symbol] = [prev, final]
        else:
            ids[1] = final
        if all(
            self._caught_up(conn, f)
            for f in self.feeds
            if f.sync is not None and f.sync.state == SyncState.SYNCED
        ):
            # Switch now, between two frames: nothing the new stream delivers from here on
            # can be missed, and the old one's remaining frames are duplicates.
            self._promote(conn, self._primary.get(conn.name))
            conn.caught_up.set()

    async def _receive(
        self, ws: aiohttp.ClientWebSocketResponse, channel: str, conn: _Conn | None = None
    ) -> None:
        recorder = self.recorder
        queued = _queue_of(ws)
        burst: list[bytes] = []
        burst_ns = 0
        while True:
            message = await ws.receive()
            kind = message.type
            if kind is _TEXT or kind is _BINARY:
                data = message.data
                raw = data.encode() if isinstance(data, str) else data
                recv_ns = self.clock_ns()
                if conn is not None:
                    conn.recv_ns = recv_ns
                    if not conn.primary and conn.name == "depth":
                        self._on_incoming(conn, raw)
                        continue
                    # A trades connection replaced at a rollover keeps delivering what it
                    # already has until it closes: trades are de-duplicated by their id.
                if recorder is not None:
                    recorder.write(recv_ns, channel, raw)  # a queue put; a thread writes
                if not burst:
                    burst_ns = recv_ns
                burst.append(raw)
                # More already read from the socket: take them too before handling any (the
                # next receive returns at once), up to a bound.
                if len(burst) < _MAX_BURST and _data_next(queued):
                    continue
                self._take(burst, burst_ns)
                burst = []
                continue
            if burst:
                self._take(burst, burst_ns)
                burst = []
            if kind in _ENDS:
                break
            if kind is aiohttp.WSMsgType.ERROR:
                self._stream_error(ws, message.data)
                return
        if ws.close_code is not None:
            log.info("stream closed", extra={"stream": channel, "code": ws.close_code})

    def _stream_error(self, ws: aiohttp.ClientWebSocketResponse, error: object) -> None:
        # aiohttp puts protocol errors (a frame over max_msg_size among them) in the
        # message, not in ws.exception(), and has already closed the socket.
        if isinstance(error, aiohttp.WebSocketError) and (
            error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        ):
            self._bad("oversized frame", str(error))
        log.warning("stream error", extra={"error": repr(error or ws.exception())})

    def _take(self, burst: list[bytes], recv_ns: int) -> None:
        if len(burst) == 1:
            self.on_frame(burst[0], recv_ns)
        else:
            self.on_frames(burst, recv_ns)
        check = self.verifier.check
        if check is not None:  # a book check in progress sees every frame too
            for raw in burst:
                check.on_frame(raw)

    async def _watchdog(self) -> None:
        while not self._stopping.is_set():
            await self._sleep(max(0.5, self.stale_after_ns / 4e9))
            stale = self._check_feeds()
            depth = self._primary.get("depth")
            if stale and depth is not None and depth.primary and not depth.ws.closed:
                await self._resubscribe(depth, stale)
            for conn in self._silent_connections():
                log.warning("stream silent; reconnecting", extra={"stream": conn.name})
                await conn.ws.close()

    def _check_feeds(self) -> list[str]:
        """Per-symbol checks; returns the depth streams to subscribe to again."""
        now = self.clock_ns()
        stale_after = self.stale_after_ns
        streams: list[str] = []
        for feed in self.feeds:
            sync = feed.sync
            if sync is None:
                continue
            if (
                feed.disagree_ns
                and now - feed.disagree_ns >= self.top_tolerance_ns
                and sync.synced
                and sync.last_update_id >= sync.book.ticker_u
            ):
                self._check_top(feed)  # a quiet symbol: no diff came to look again
            if sync.resuming and now - feed.resume_ns > stale_after:
                # A kept book is shown only while its replacement is on the way.
                sync.reset("resume took too long")
                feed.version += 1
            # Every top-of-book change and every trade changes the depth too, so a symbol
            # that keeps ticking or trading with no depth event for the stale time has lost
            # its depth stream: its book no longer follows the venue.
            other = max(feed.ticker_ns, feed.trade_ns)
            if (
                self.depth_connected
                and other - feed.depth_ns > stale_after
                and now - other <= stale_after
            ):
                log.warning(
                    "depth stream stale; resubscribing",
                    extra={"symbol": feed.symbol, "silent_ms": (other - feed.depth_ns) // 10**6},
                )
                self.stale_resyncs += 1
                if sync.state != SyncState.WAITING_SNAPSHOT:
                    sync.reset("depth stream stale")
                feed.version += 1
                feed.depth_ns = now  # judged again one stale time from now
                streams.append(depth_stream(feed.symbol, self.depth_speed))
        return streams

    def _silent_connections(self) -> list[_Conn]:
        """Connections to close (and so reconnect) for delivering nothing: after the stale
        time while the other connection shows the venue is alive, after twice that when both
        are silent. The trades connection gets four times as long: a quiet symbol may not
        trade for a while, whereas the depth connection's bookTicker ticks all the time."""
        now = self.clock_ns()
        conns = [c for c in self._primary.values() if c.primary and not c.ws.closed]
        silent: list[_Conn] = []
        for conn in conns:
            quiet_ns = now - conn.recv_ns
            others_alive = any(
                now - c.recv_ns <= self.stale_after_ns for c in conns if c is not conn
            )
            limit = self.stale_after_ns if others_alive else 2 * self.stale_after_ns
            if conn.name == "trades":
                limit = max(limit, 4 * self.stale_after_ns)
            if quiet_ns > limit:
                silent.append(conn)
        return silent

    async def _resubscribe(self, conn: _Conn, streams: list[str]) -> None:
        # One UNSUBSCRIBE and one SUBSCRIBE for all of them: the venue allows a connection
        # only a few control messages a second.
        for method in ("UNSUBSCRIBE", "SUBSCRIBE"):
            await self._send_control(conn, method, streams)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self) -> None:
        self._stopping.set()
        for ws in list(self._sockets):
            await ws.close()

    # ---- the receive path -----------------------------------------------------------------

    def _unknown(self, what: str, symbol: object, frame: str | bytes) -> None:
        # A symbol dropped at run time still has frames in flight: those are expected.
        if symbol not in self._unfollowed:
            self._bad(f"{what} for an unknown symbol", frame)

    def _bad(self, why: str, frame: str | bytes) -> None:
        self.bad_frames += 1
        # Log the first few, then one in a thousand: a flood must not become a disk flood.
        if self.bad_frames <= 20 or self.bad_frames % 1000 == 0:
            log.warning(
                "bad frame dropped",
                extra={"why": why, "count": self.bad_frames, "frame": repr(frame[:200])},
            )

    def on_frame(self, frame: str | bytes, recv_ns: int) -> None:
        """Handle one stream frame. Never raises: bad input is counted and dropped."""
        size = len(frame)
        self.msgs_total += 1
        self.bytes_total += size
        if size > _MAX_FRAME:  # a replayed or injected frame the socket would refuse
            self._bad("oversized frame", frame)
            return
        raw = frame if type(frame) is bytes else _as_bytes(frame)
        # Diff-depth frames skip orjson, inline here (a call is a good part of a frame's
        # cost): the symbol found by a byte search picks the book, and one numba call checks
        # that it is the event's own symbol, parses and, when the frame continues the chain,
        # applies it. Whatever that call declines takes the general path, which explains
        # any problem. (find, not `in`: the method is the faster of the two on bytes.)
        if raw.find(b'"depthUpdate"') >= 0:
            start = raw.find(b'"s":"') + 5
            feed = self._by_symbol_bytes.get(raw[start : raw.find(b'"', start)])
            sync = feed.sync if feed is not None and start >= 5 else None
            result = sync.on_frame(raw, start, recv_ns) if sync is not None else None
            if result is not None and feed is not None and sync is not None:
                feed.recv_ns = feed.depth_ns = recv_ns
                feed.msgs += 1
                event_time = sync.event_time_ms
                if not sync.timed:  # else observed by on_frame, most in its kernel
                    self._observe_depth(feed, recv_ns, event_time)
                if event_time:
                    feed.event_time_ms = event_time
                if result is not _APPLIED:
                    if result == DiffResult.CORRUPT:  # read, but impossible (U > u)
                        self._bad("malformed depth event", raw)
                    self._after_diff(feed, result)
                    return
                # The steady state's share of `_after_diff`: the next event of a synced book
                # (APPLIED always leaves it synced; only the bookTicker check can reset it).
                feed.version += 1
                if sync.top_due:
                    sync.top_due = False
                    self._check_top(feed)
                    if sync.needs_snapshot:  # the check reset it
                        self._want_snapshot(feed, result)
                        return
                if self.on_book is not None:
                    self.on_book(feed.symbol, sync.book, recv_ns)
                return
        elif raw.find(b'"bookTicker"') >= 0 and self._ticker_frame(raw, recv_ns):
            return
        self._on_json(frame, recv_ns)

    def _feed_of(self, raw: bytes) -> SymbolFeed | None:
        # The feed named by the frame's first "s" value, as on_frame finds it inline (the
        # kernel then checks that it is the event's own symbol).
        start = raw.find(b'"s":"') + 5
        if start < 5:
            return None
        return self._by_symbol_bytes.get(raw[start : raw.find(b'"', start)])

    def _ticker_frame(self, raw: bytes, recv_ns: int) -> bool:
        # A bookTicker read by its book's kernel, as in a burst (a run of one frame); False
        # if the kernel leaves it to the JSON path.
        feed = self._feed_of(raw)
        sync = feed.sync if feed is not None else None
        if feed is None or sync is None:
            return False
        blob, sizes = one_frame(raw, self._one_size)
        taken, result = sync.on_run(blob, sizes, 0, recv_ns)
        if taken:
            self._took_run(feed, sync, taken, result, recv_ns)
        return taken > 0

    def on_frames(self, frames: list[bytes], recv_ns: int) -> None:
        """Frames drained from one connection in a burst, the first received at `recv_ns`:
        the same as `on_frame` on each in turn, except that a run of consecutive frames of
        one synced book, diffs it applies outright and bookTickers it can check, is taken in
        one kernel call (`DepthSync.on_run`), and `on_book` sees the book once per run,
        after its last diff: a listener that fell behind decides on the freshest book, not
        on each step it missed. Never raises."""
        count = len(frames)
        if count < _MIN_BURST:
            for frame in frames:
                self.on_frame(frame, recv_ns)
            return
        blob, sizes = frame_run(frames)
        if len(blob) > _MAX_FRAME:  # frame by frame: on_frame judges any oversized one
            for frame in frames:
                self.on_frame(frame, recv_ns)
            return
        i = 0
        while i < count:
            raw = frames[i]
            feed = sync = None
            if raw.find(b'"depthUpdate"') >= 0 or raw.find(b'"bookTicker"') >= 0:
                feed = self._feed_of(raw)
                sync = feed.sync if feed is not None else None
            # Untimed books (a replay's clock) observe each frame's own E in Python.
            if feed is None or sync is None or not sync.timed:
                self.on_frame(raw, recv_ns)
                i += 1
                continue
            taken, result = sync.on_run(blob, sizes, i, recv_ns)
            if not taken:  # not a frame the run takes: on_frame sorts it out
                self.on_frame(raw, recv_ns)
                i += 1
                continue
            self.msgs_total += taken
            self.bytes_total += sync.book.run_bytes()
            i += taken
            self._took_run(feed, sync, taken, result, recv_ns)

    def _took_run(
        self, feed: SymbolFeed, sync: DepthSync, taken: int, result: SyncResult, recv_ns: int
    ) -> None:
        # What on_frame does after each frame of a run, once for the run: its depth frames
        # were applied, its bookTickers kept (and compared where they agreed).
        tickers = sync.book.run_tickers()
        depth = taken - tickers
        feed.recv_ns = recv_ns
        if tickers:
            feed.ticker_ns = recv_ns
        if not depth:
            return  # the kernel takes a bookTicker only where it leaves nothing to compare
        feed.depth_ns = recv_ns
        feed.msgs += depth
        if sync.event_time_ms:
            feed.event_time_ms = sync.event_time_ms
        if result is not _APPLIED:
            self._after_diff(feed, result)
            return
        feed.version += 1
        if sync.book.ticker_due():  # the run left the comparison to us
            self._check_top(feed)
            if sync.needs_snapshot:  # the check reset it
                self._want_snapshot(feed, result)
                return
        if self.on_book is not None:
            self.on_book(feed.symbol, sync.book, recv_ns)

    def _observe_depth(self, feed: SymbolFeed, recv_ns: int, event_time: int) -> None:
        feed.ingest.observe(self.clock_ns() - recv_ns)
        if event_time:
            feed.feed_delay.observe(recv_ns - event_time * 1_000_000)

    def _on_json(self, frame: str | bytes, recv_ns: int) -> None:
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self._bad("not JSON", frame)
            return
        if not isinstance(message, dict):
            self._bad("not an object", frame)
            return
        payload = message.get("data", message) if "stream" in message else message
        if not isinstance(payload, dict):
            self._bad("data is not an object", frame)
            return
        kind = payload.get("e")
        try:
            if kind == "depthUpdate":
                self._on_depth(payload, recv_ns, frame)
            elif kind == "aggTrade":
                self._on_trade(payload, recv_ns, frame)
            elif kind == "bookTicker":
                self._on_ticker(payload, recv_ns, frame)
            elif kind == "markPriceUpdate":
                self._on_mark(payload, frame)
            elif "id" in message and ("result" in message or "code" in message):
                pass  # a reply to a control frame
            else:
                self._bad(f"unknown event {kind!r}", frame)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self._bad(f"{type(exc).__name__}: {exc}", frame)

    def _after_diff(self, feed: SymbolFeed, result: DiffResult) -> None:
        feed.version += 1
        sync = feed.sync
        if sync is None:
            return
        sync.top_due = False
        if sync.synced and sync.book.ticker_due():
            self._check_top(feed)
        if self.on_book is not None and sync.synced:
            self.on_book(feed.symbol, sync.book, feed.recv_ns)
        if sync.needs_snapshot:
            self._want_snapshot(feed, result)

    def _want_snapshot(self, feed: SymbolFeed, result: DiffResult) -> None:
        if self.fetch_snapshots and feed.snapshot_task is None:
            log.info("fetching snapshot", extra={"symbol": feed.symbol, "after": result.name})
            feed.snapshot_task = asyncio.get_running_loop().create_task(self._snapshot(feed))

    def _on_depth(self, event: dict[str, object], recv_ns: int, frame: str | bytes) -> None:
        feed = self._by_symbol.get(event["s"])  # type: ignore[call-overload]
        if feed is None or feed.sync is None:
            self._unknown("depth", event["s"], frame)
            return
        first, final, prev = event.get("U"), event.get("u"), event.get("pu")
        bids, asks = event.get("b"), event.get("a")
        if not (_is_id(first) and _is_id(final) and _is_id(prev)) or not (
            isinstance(bids, list) and isinstance(asks, list)
        ):
            self._bad("depth fields missing or mistyped", frame)
            # The symbol's stream has lost an event, so its book may be missing a change:
            # start over now rather than keep showing it as synced until the next event.
            feed.sync.reset("malformed depth event")
            self._after_diff(feed, DiffResult.CORRUPT)
            return
        feed.recv_ns = recv_ns
        feed.depth_ns = recv_ns
        feed.msgs += 1
        event_time = event.get("E")
        if type(event_time) is int:
            feed.event_time_ms = event_time
        result = feed.sync.on_diff(first, final, prev, bids, asks)
        feed.ingest.observe(self.clock_ns() - recv_ns)
        if type(event_time) is int:
            feed.feed_delay.observe(recv_ns - event_time * 1_000_000)
        if result == DiffResult.CORRUPT:
            self._bad("malformed depth levels", frame)
        self._after_diff(feed, result)

    def _on_ticker(self, event: dict[str, object], recv_ns: int, frame: str | bytes) -> None:
        feed = self._by_symbol.get(event.get("s"))  # type: ignore[call-overload]
        if feed is None:
            self._unknown("bookTicker", event.get("s"), frame)
            return
        feed.recv_ns = recv_ns
        feed.ticker_ns = recv_ns
        book = feed.book
        update_id = event.get("u")
        if book is None:
            return
        if not _is_id(update_id):
            self._bad("bookTicker update id missing or mistyped", frame)
            return
        # All four read before any is kept: a bad field leaves the last good ticker whole.
        top = (
            book.price_to_ticks(event["b"]),
            book.qty_to_lots(event["B"]),
            book.price_to_ticks(event["a"]),
            book.qty_to_lots(event["A"]),
        )
        book.set_ticker(update_id, *top)
        sync = feed.sync
        if sync is not None and sync.synced and sync.last_update_id >= update_id:
            self._check_top(feed)  # the diff got here first

    def _check_top(self, feed: SymbolFeed) -> None:
        """Compare the book's top with the venue's bookTicker. The book has applied at least
        the ticker's update id, so they should agree; a disagreement can still be the two
        streams' different pace, so only one that lasts the tolerance counts: the book is
        then wrong in a way the update-id chain did not show, and is rebuilt."""
        sync = feed.sync
        if sync is None:
            return
        book = sync.book
        ticker_u = book.checked_u = book.ticker_u
        ticker_bid, ticker_bid_qty, ticker_ask, ticker_ask_qty = book.ticker()
        bid, ask = book.best_bid(), book.best_ask()
        if (
            bid == ticker_bid
            and ask == ticker_ask
            and book.qty_at(BIDS, bid) == ticker_bid_qty
            and book.qty_at(ASKS, ask) == ticker_ask_qty
        ):
            self._disagree(feed, 0)
            return
        now = self.clock_ns()
        if not feed.disagree_ns:
            self._disagree(feed, now)
            return
        if now - feed.disagree_ns < self.top_tolerance_ns:
            return
        feed.top_mismatches += 1
        self.top_mismatches += 1
        self._disagree(feed, 0)
        log.warning(
            "book disagrees with bookTicker; resyncing",
            extra={
                "symbol": feed.symbol,
                "book": [book.format_price(bid), book.format_price(ask)],
                "ticker": [book.format_price(ticker_bid), book.format_price(ticker_ask)],
                "u": sync.last_update_id,
                "ticker_u": ticker_u,
            },
        )
        sync.reset("book disagrees with bookTicker")
        feed.version += 1

    @staticmethod
    def _disagree(feed: SymbolFeed, since_ns: int) -> None:
        # Since when the tops disagree (0: they agree); the book's kernel compares them
        # itself only while no disagreement is being timed.
        feed.disagree_ns = since_ns
        if feed.sync is not None:
            feed.sync.book.set_calm(since_ns == 0)

    def _on_mark(self, event: dict[str, object], frame: str | bytes) -> None:
        feed = self._by_symbol.get(event.get("s"))  # type: ignore[call-overload]
        if feed is None:
            self._unknown("markPrice", event.get("s"), frame)
            return
        mark = float(event["p"])  # type: ignore[arg-type]
        rate = float(event.get("r", 0.0))  # type: ignore[arg-type]
        next_ms = event.get("T", 0)
        if not (math.isfinite(mark) and mark > 0 and math.isfinite(rate) and _is_id(next_ms)):
            self._bad("markPrice fields out of range", frame)
            return
        feed.mark_price = mark
        feed.funding_rate = rate
        feed.next_funding_ms = next_ms
        feed.version += 1

    def _on_trade(self, event: dict[str, object], recv_ns: int, frame: str | bytes) -> None:
        feed = self._by_symbol.get(event["s"])  # type: ignore[call-overload]
        book = feed.book if feed is not None else None
        if feed is None or book is None:
            self._unknown("trade", event["s"], frame)
            return
        agg_id = event.get("a")
        if type(agg_id) is int:
            # Two trades connections overlap at a rollover: the same trade may come twice,
            # and taken twice it would also eat a paper order's queue twice.
            if agg_id <= feed.last_trade_id:
                feed.trade_repeats += 1
                return
            feed.last_trade_id = agg_id
        ticks = book.price_to_ticks(event["p"])
        lots = book.qty_to_lots(event["q"])
        slot = feed.trade_count % TRADE_SLOTS
        feed.trade_px[slot] = ticks * book.tick_units
        feed.trade_qty[slot] = lots * book.lot_units
        feed.trade_time_ms[slot] = int(event["T"])  # type: ignore[call-overload]
        buyer_maker = event["m"] is True
        feed.trade_buyer_maker[slot] = 1 if buyer_maker else 0
        feed.trade_count += 1
        feed.recv_ns = recv_ns
        feed.trade_ns = recv_ns
        feed.version += 1
        if self.on_trade is not None:
            self.on_trade(feed.symbol, ticks, lots, buyer_maker, recv_ns)

    async def _snapshot(self, feed: SymbolFeed) -> None:
        backoff = Backoff(0.25, 10.0)
        try:
            while (
                self.rest is not None
                and feed.sync is not None
                and feed.sync.needs_snapshot
                and self.depth_connected
            ):
                breaker = self.snapshot_breaker
                if not breaker.allow():
                    # Open: the venue's depth endpoint keeps failing. Look again soon: another
                    # symbol's probe may close it before this one's turn would come.
                    await self._sleep(max(0.01, min(0.25, breaker.wait_s())))
                    continue
                try:
                    try:
                        snap = await self.rest.depth(feed.symbol, DEPTH_SNAPSHOT_LIMIT)
                    except VenueError:
                        breaker.failure()
                        raise
                    breaker.success()
                    if self.recorder is not None:
                        self.recorder.write(
                            self.clock_ns(), f"snapshot:{feed.symbol}", orjson.dumps(snap)
                        )
                    result = feed.sync.on_snapshot(
                        snap["lastUpdateId"],  # type: ignore[arg-type]
                        snap["bids"],  # type: ignore[arg-type]
                        snap["asks"],  # type: ignore[arg-type]
                    )
                    self.verifier.note_sync_snapshot(feed.sync.book, snap, DEPTH_SNAPSHOT_LIMIT)
                    feed.version += 1
                    log.info(
                        "snapshot applied",
                        extra={
                            "symbol": feed.symbol,
                            "result": result.name,
                            "last_update_id": snap["lastUpdateId"],
                        },
                    )
                    if not feed.sync.needs_snapshot:
                        return
                except (VenueError, KeyError, TypeError, ValueError) as exc:
                    log.warning("snapshot failed", extra={"symbol": feed.symbol, "error": str(exc)})
                # Resync storms burn the venue's weight budget: back off between attempts.
                await self._sleep(backoff.next_delay())
        finally:
            feed.snapshot_task = None

    def connected(self) -> bool:
        return self.depth_connected

    def mark_price(self, symbol: str) -> float:
        """The venue's mark price in USDT from the markPrice stream; 0 before the first."""
        feed = self._by_symbol.get(symbol)
        return feed.mark_price if feed is not None else 0.0

    def touch(self, symbol: str) -> tuple[int, int]:
        """Best bid and ask in ticks of a synced book; (-1, -1) otherwise."""
        feed = self._by_symbol.get(symbol)
        if feed is None or feed.sync is None or not feed.sync.synced:
            return -1, -1
        return feed.sync.book.best_bid(), feed.sync.book.best_ask()

    def feed_states(self) -> list[FeedState]:
        now = self.clock_ns()
        return [f.state(self.depth_connected, now, self.stale_after_ns) for f in self.feeds]
