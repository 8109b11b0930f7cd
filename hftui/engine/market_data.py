"""Market data: stream connections, frame dispatch, depth sync per symbol, recent trades.

`MarketData` alone owns the books (through each symbol's `DepthSync`), the trade rings and
the feed counters. Everything else reads them. The receive path is frame -> orjson -> sync ->
kernel, with no I/O, locks or awaits in between; snapshot fetches run as separate tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import aiohttp
import numpy as np
import orjson
from yarl import URL

from hftui.engine.binance.constants import DEPTH_SNAPSHOT_LIMIT, depth_stream
from hftui.engine.binance.rest import PublicRest, VenueError
from hftui.engine.book import OrderBook
from hftui.engine.depth_sync import DepthSync, DiffResult, SyncState
from hftui.engine.instrument import Instrument, parse_instruments
from hftui.protocol import TRADE_SLOTS, FeedState
from hftui.recording import Recorder

__all__ = ["Backoff", "MarketData", "SymbolFeed", "SymbolSpec"]

log = logging.getLogger(__name__)

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_FRAME: Final = 4 << 20  # a 1000-level snapshot is ~40 KB; anything near this is hostile
# Update ids go to the numba kernels as int64: a larger one (JSON allows it) would raise
# OverflowError on the next frame, and a negative one can never be a venue's.
_MAX_ID: Final = (1 << 63) - 1


def _is_id(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_ID


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


@dataclass(slots=True)
class SymbolFeed:
    """One symbol's live state. Mutated only by `MarketData`."""

    index: int
    symbol: str
    sync: DepthSync | None = None  # None until exchangeInfo told us the grid
    recv_ns: int = 0
    event_time_ms: int = 0
    msgs: int = 0
    version: int = 0  # bumped on every visible change; the publisher compares it
    trade_count: int = 0
    trade_px: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.int64))
    trade_qty: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.int64))
    trade_time_ms: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.int64))
    trade_buyer_maker: np.ndarray = field(default_factory=lambda: np.zeros(TRADE_SLOTS, np.uint8))
    snapshot_task: asyncio.Task[None] | None = None

    @property
    def book(self) -> OrderBook | None:
        return self.sync.book if self.sync is not None else None

    def state(self, connected: bool, now_ns: int, stale_after_ns: int) -> FeedState:
        if not connected:
            return FeedState.DOWN
        if self.sync is None or self.sync.state != SyncState.SYNCED:
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
        self.feeds = [SymbolFeed(i, s) for i, s in enumerate(symbols)]
        self._by_symbol = {f.symbol: f for f in self.feeds}
        self._by_symbol_bytes = {f.symbol.encode(): f for f in self.feeds}
        self.depth_connected = False
        self.trades_connected = False
        self.msgs_total = 0
        self.bytes_total = 0
        self.bad_frames = 0
        self.reconnects = 0
        self._stopping = asyncio.Event()
        self.recorder: Recorder | None = None
        self.fetch_snapshots = True  # off in replay, where snapshots come from the recording
        self._sockets: set[aiohttp.ClientWebSocketResponse] = set()
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
            feed.sync = DepthSync(book)
            feed.version += 1

    # ---- connections ----------------------------------------------------------------------

    def _urls(self) -> tuple[str, str]:
        symbols = [f.symbol for f in self.feeds if f.sync is not None]
        depth = "/".join(
            name
            for s in symbols
            for name in (depth_stream(s, self.depth_speed), f"{s.lower()}@bookTicker")
        )
        trades = "/".join(f"{s.lower()}@aggTrade" for s in symbols)
        return (
            f"{self.stream_url}/public/stream?streams={depth}",
            f"{self.stream_url}/market/stream?streams={trades}",
        )

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
            depth_url, trades_url = self._urls()
            await asyncio.gather(
                self._connection(session, "depth", depth_url),
                self._connection(session, "trades", trades_url),
                self._watchdog(),
            )
        finally:
            for feed in self.feeds:
                if feed.snapshot_task is not None:
                    feed.snapshot_task.cancel()
            await session.close()

    def _set_connected(self, name: str, up: bool) -> None:
        if name == "depth":
            self.depth_connected = up
            # Anything may have been missed while down: every book starts over.
            for feed in self.feeds:
                if feed.sync is not None:
                    feed.sync.reset("reconnect")
                    feed.version += 1
        else:
            self.trades_connected = up

    async def _connection(self, session: aiohttp.ClientSession, name: str, url: str) -> None:
        backoff = Backoff(0.25, self.reconnect_cap_s)
        while not self._stopping.is_set():
            try:
                async with session.ws_connect(
                    url, autoping=True, max_msg_size=_MAX_FRAME, compress=0, heartbeat=None
                ) as ws:
                    self._sockets.add(ws)
                    log.info("stream connected", extra={"stream": name, "url": url})
                    self._set_connected(name, True)
                    backoff.reset()
                    await self._receive(ws, name)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("stream failed", extra={"stream": name, "error": repr(exc)})
            finally:
                self._sockets = {s for s in self._sockets if not s.closed}
                self._set_connected(name, False)
            if self._stopping.is_set():
                return
            self.reconnects += 1
            await self._sleep(backoff.next_delay())

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, channel: str) -> None:
        recorder = self.recorder
        async for message in ws:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data = message.data
                raw = data.encode() if isinstance(data, str) else data
                recv_ns = self.clock_ns()
                if recorder is not None:
                    recorder.write(recv_ns, channel, raw)  # a queue put; a thread writes
                self.on_frame(raw, recv_ns)
            elif message.type == aiohttp.WSMsgType.ERROR:
                # aiohttp puts protocol errors (a frame over max_msg_size among them) in the
                # message, not in ws.exception(), and has already closed the socket.
                error = message.data
                if (
                    isinstance(error, aiohttp.WebSocketError)
                    and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
                ):
                    self._bad("oversized frame", str(error))
                log.warning("stream error", extra={"error": repr(error or ws.exception())})
                return

    async def _watchdog(self) -> None:
        # A connection that delivers nothing at all for a while is dead even if TCP says not.
        while not self._stopping.is_set():
            await self._sleep(max(0.5, self.stale_after_ns / 4e9))
            newest = max((f.recv_ns for f in self.feeds), default=0)
            if self.depth_connected and self.clock_ns() - newest > 2 * self.stale_after_ns:
                log.warning("streams silent; reconnecting")
                for ws in list(self._sockets):
                    await ws.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self) -> None:
        self._stopping.set()
        for ws in list(self._sockets):
            await ws.close()

    # ---- the receive path -----------------------------------------------------------------

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
        self.msgs_total += 1
        self.bytes_total += len(frame)
        if len(frame) > _MAX_FRAME:  # a replayed or injected frame the socket would refuse
            self._bad("oversized frame", frame)
            return
        raw = frame.encode() if isinstance(frame, str) else frame
        if raw.find(b'"depthUpdate"') >= 0 and self._depth_fast(raw, recv_ns):
            return
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
                feed = self._by_symbol.get(payload.get("s"))  # type: ignore[arg-type]
                if feed is None:
                    self._bad("bookTicker for an unknown symbol", frame)
                else:
                    feed.recv_ns = recv_ns
            elif "id" in message and ("result" in message or "code" in message):
                pass  # a reply to a control frame
            else:
                self._bad(f"unknown event {kind!r}", frame)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self._bad(f"{type(exc).__name__}: {exc}", frame)

    def _depth_fast(self, raw: bytes, recv_ns: int) -> bool:
        # Diff-depth frames skip orjson: the symbol by a byte search, the rest parsed in numba.
        # False sends the frame down the general path, which explains any problem.
        start = raw.find(b'"s":"')
        if start < 0:
            return False
        start += 5
        feed = self._by_symbol_bytes.get(raw[start : raw.find(b'"', start)])
        if feed is None or feed.sync is None:
            return False
        result = feed.sync.on_frame(raw)  # parsed and, when it chains, applied in one call
        if result is None:
            return False
        if result == DiffResult.CORRUPT:  # read, but impossible (U > u): as the JSON path
            self._bad("malformed depth event", raw)
        feed.recv_ns = recv_ns
        feed.msgs += 1
        event_time = feed.sync.book.raw_event_time_ms()
        if event_time:
            feed.event_time_ms = event_time
        self._after_diff(feed, result)
        return True

    def _after_diff(self, feed: SymbolFeed, result: DiffResult) -> None:
        feed.version += 1
        if self.on_book is not None and feed.sync is not None and feed.sync.synced:
            self.on_book(feed.symbol, feed.sync.book, feed.recv_ns)
        if (
            self.fetch_snapshots
            and feed.sync is not None
            and feed.sync.needs_snapshot
            and feed.snapshot_task is None
        ):
            log.info("fetching snapshot", extra={"symbol": feed.symbol, "after": result.name})
            feed.snapshot_task = asyncio.get_running_loop().create_task(self._snapshot(feed))

    def _on_depth(self, event: dict[str, object], recv_ns: int, frame: str | bytes) -> None:
        feed = self._by_symbol.get(event["s"])  # type: ignore[call-overload]
        if feed is None or feed.sync is None:
            self._bad("depth for an unknown symbol", frame)
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
        feed.msgs += 1
        event_time = event.get("E")
        if type(event_time) is int:
            feed.event_time_ms = event_time
        result = feed.sync.on_diff(first, final, prev, bids, asks)
        if result == DiffResult.CORRUPT:
            self._bad("malformed depth levels", frame)
        self._after_diff(feed, result)

    def _on_trade(self, event: dict[str, object], recv_ns: int, frame: str | bytes) -> None:
        feed = self._by_symbol.get(event["s"])  # type: ignore[call-overload]
        book = feed.book if feed is not None else None
        if feed is None or book is None:
            self._bad("trade for an unknown symbol", frame)
            return
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
                try:
                    snap = await self.rest.depth(feed.symbol, DEPTH_SNAPSHOT_LIMIT)
                    if self.recorder is not None:
                        self.recorder.write(
                            self.clock_ns(), f"snapshot:{feed.symbol}", orjson.dumps(snap)
                        )
                    result = feed.sync.on_snapshot(
                        snap["lastUpdateId"],  # type: ignore[arg-type]
                        snap["bids"],  # type: ignore[arg-type]
                        snap["asks"],  # type: ignore[arg-type]
                    )
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

    def touch(self, symbol: str) -> tuple[int, int]:
        """Best bid and ask in ticks of a synced book; (-1, -1) otherwise."""
        feed = self._by_symbol.get(symbol)
        if feed is None or feed.sync is None or not feed.sync.synced:
            return -1, -1
        return feed.sync.book.best_bid(), feed.sync.book.best_ask()

    def feed_states(self) -> list[FeedState]:
        now = self.clock_ns()
        return [f.state(self.depth_connected, now, self.stale_after_ns) for f in self.feeds]
