"""Shadow verification: each book is checked, level by level, against the venue's snapshot.

Owns: the one check in progress (a shadow `DepthSync` of one symbol), the range each live book
was synced over, and the per-symbol counts of checks made and mismatches found.

The pu chain, crossed books and bookTicker catch most damage, but not a wrong quantity deep in
a book whose chain is intact. So, every `interval_s` per symbol (the symbols take turns), a
REST snapshot is fetched through the same circuit breaker as the sync, and a shadow book is
built from it plus the diffs received from just before the request on, by the very procedure
the sync uses (buffer, drop older, straddling first event, chain). Once the shadow has applied
the same last update id as the live book, the two are compared once, over the prices the
snapshot covers: a snapshot holds the top `limit` levels, so a side that came back full is
known only at or above its worst level (bids; at or below for asks). Prices beyond the range
the live book's own sync snapshot covered are skipped too: the live book knows those only
where a diff has touched them. A difference is counted, alerted with the symbol, the price
and both quantities, and healed by a resync.

Nothing here runs on the hot path unless a check is in progress: the receive loop hands the
check each frame after the live book has taken it (a byte search, and for the symbol's depth
events one parse and apply on the shadow's own book).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import orjson
from yarl import URL

from hftui.engine.binance.constants import DEPTH_SNAPSHOT_LIMIT
from hftui.engine.binance.rest import VenueError
from hftui.engine.book import ASKS, BIDS, OrderBook
from hftui.engine.depth_sync import DepthSync, SyncResult, SyncState

if TYPE_CHECKING:
    from hftui.engine.market_data import MarketData, SymbolFeed

__all__ = [
    "DEFAULT_VERIFY_INTERVAL_S",
    "BookVerifier",
    "LevelMismatch",
    "ShadowCheck",
    "compare_books",
    "compare_side",
    "covered_edge",
]

log = logging.getLogger(__name__)

DEFAULT_VERIFY_INTERVAL_S: Final = 300.0
# After the snapshot, how long the shadow may take to reach the live book's update id; the
# next diff normally does it (100 ms).
_SETTLE_S: Final = 5.0
# A 1000-level snapshot weighs 20 of Binance's 2400 a minute: checks at least 5 s apart keep
# them under a tenth of it, whatever the interval and the number of symbols. The local
# exchange has no such budget.
_MIN_SPACING_S: Final = 5.0
_MIN_SPACING_LOOPBACK_S: Final = 0.1
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})

Levels = Sequence[tuple[int, int]]  # (ticks, lots), best first

# What ends a shadow's sync, and with it the check: the next one starts afresh.
_SHADOW_LOST: Final = frozenset(
    {
        SyncResult.GAP,
        SyncResult.CROSSED,
        SyncResult.CORRUPT,
        SyncResult.OVERFLOW,
        SyncResult.STALE_SNAPSHOT,
    }
)


@dataclass(frozen=True, slots=True)
class LevelMismatch:
    """One price at which the live book and the venue's disagree (lots; 0: no level)."""

    side: int  # BIDS or ASKS
    ticks: int
    book: int
    venue: int


def covered_edge(side_levels: Levels, limit: int) -> int | None:
    """The worst price a snapshot side vouches for: every venue level at or better than it is
    in the snapshot. None when the side came back short of `limit`: it is the whole side."""
    if len(side_levels) < limit:
        return None
    ticks = [t for t, _ in side_levels]
    return min(ticks) if ticks else None


def _narrower(side: int, a: int | None, b: int | None) -> int | None:
    # The range both edges cover: the better of the two worst prices.
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if side == BIDS else min(a, b)


def compare_side(side: int, book: Levels, venue: Levels, edge: int | None) -> list[LevelMismatch]:
    """Prices at or better than `edge` (all when None) whose quantities differ, best first; a
    price on one side only differs from 0 lots on the other."""

    def covered(ticks: int) -> bool:
        return edge is None or (ticks >= edge if side == BIDS else ticks <= edge)

    if _within(side, book, edge) == _within(side, venue, edge):
        return []  # the usual answer, at the cost of one list comparison
    ours = {t: q for t, q in book if q and covered(t)}
    theirs = {t: q for t, q in venue if q and covered(t)}
    prices = sorted(ours.keys() | theirs.keys(), reverse=side == BIDS)
    return [
        LevelMismatch(side, t, ours.get(t, 0), theirs.get(t, 0))
        for t in prices
        if ours.get(t, 0) != theirs.get(t, 0)
    ]


def _within(side: int, levels: Levels, edge: int | None) -> Sequence[tuple[int, int]]:
    # Best first, so the covered levels are a prefix.
    if edge is None:
        return levels
    if side == BIDS:
        return levels[: bisect.bisect_right(levels, -edge, key=lambda level: -level[0])]
    return levels[: bisect.bisect_right(levels, edge, key=lambda level: level[0])]


def compare_books(
    book: OrderBook, venue: OrderBook, edges: tuple[int | None, int | None]
) -> list[LevelMismatch]:
    """Both sides of two books compared within (bid edge, ask edge); bids first."""
    ours, theirs = book.levels(), venue.levels()
    return compare_side(BIDS, ours[0], theirs[0], edges[0]) + compare_side(
        ASKS, ours[1], theirs[1], edges[1]
    )


class ShadowCheck:
    """One verification of one live book: a shadow synced from a snapshot and the diffs seen
    since just before it was requested, compared once with the live book at the same id.

    Args:
        live: the live book's sync (read only here).
        known: the (bid, ask) edges the live book's own sync snapshot covered.
        limit: the snapshot's requested depth.
    """

    def __init__(self, live: DepthSync, known: tuple[int | None, int | None], limit: int) -> None:
        book = live.book
        self.live = live
        self.symbol = book.symbol
        self.known = known
        self.limit = limit
        self.shadow = DepthSync(OrderBook(book.symbol, book.tick_size, book.step_size, book.window))
        self._needle = b'"s":"' + book.symbol.encode() + b'"'
        self._resyncs = live.resyncs  # a live resync meanwhile voids the check
        self._snapshot = False
        self.edges: tuple[int | None, int | None] = (None, None)
        self.mismatches: list[LevelMismatch] | None = None  # set once compared
        self.void = ""  # why it cannot conclude
        self.finished = asyncio.Event()

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def _end(self, void: str = "") -> None:
        self.void = void
        self.finished.set()

    # ---- inputs ---------------------------------------------------------------------------

    def on_frame(self, raw: bytes) -> None:
        """A depth-connection frame, after the live book has taken it."""
        if self.done or raw.find(b'"depthUpdate"') < 0 or raw.find(self._needle) < 0:
            return
        shadow = self.shadow
        try:
            diff = shadow.book.parse_raw(raw)
            result = shadow.on_raw(diff) if diff is not None else self._on_json(raw)
            if result in _SHADOW_LOST:
                self._end(f"shadow: {result.name.lower()}")
            elif self._snapshot:
                self._try_compare()
        except Exception as exc:  # a check must never take the receive loop down with it
            log.exception("book check failed", extra={"symbol": self.symbol})
            self._end(f"failed: {exc!r}")

    def _on_json(self, raw: bytes) -> SyncResult:
        # The frames the fast path declines; malformed ones the live path has judged already.
        try:
            message = orjson.loads(raw)
            event = message.get("data", message) if "stream" in message else message
            return self.shadow.on_diff(event["U"], event["u"], event["pu"], event["b"], event["a"])
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            return SyncResult.CORRUPT

    def on_snapshot(self, last_update_id: int, bids: object, asks: object) -> None:
        """The venue's REST snapshot for this check."""
        if self.done:
            return
        book = self.shadow.book
        try:
            arrays = book.parse_levels(bids, asks)  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            self._end(f"malformed snapshot: {exc}")
            return
        bid_ticks, bid_lots, ask_ticks, ask_lots = arrays
        edges = (
            covered_edge(list(zip(bid_ticks.tolist(), bid_lots.tolist(), strict=True)), self.limit),
            covered_edge(list(zip(ask_ticks.tolist(), ask_lots.tolist(), strict=True)), self.limit),
        )
        self.edges = (
            _narrower(BIDS, edges[0], self.known[0]),
            _narrower(ASKS, edges[1], self.known[1]),
        )
        self._snapshot = True
        if self._live_voided():
            return
        if self.live.last_update_id == last_update_id:
            # The live book is at the snapshot's id: the snapshot is the shadow.
            book.load_ticks(*arrays)
            self._compare()
            return
        result = self.shadow.on_snapshot(last_update_id, bids, asks)  # type: ignore[arg-type]
        if result in _SHADOW_LOST:
            # Older than the diffs seen since the request (or not readable): the next check.
            self._end(f"snapshot: {result.name.lower()}")
            return
        self._try_compare()

    # ---- the comparison -------------------------------------------------------------------

    def _live_voided(self) -> bool:
        live = self.live
        if live.state != SyncState.SYNCED or live.resyncs != self._resyncs:
            self._end("the live book resynced meanwhile")
            return True
        return False

    def _try_compare(self) -> None:
        if self._live_voided():
            return
        shadow, live = self.shadow, self.live
        if shadow.state != SyncState.SYNCED:
            return  # the snapshot waits for an event that reaches its id
        if shadow.last_update_id == live.last_update_id:
            self._compare()
        elif shadow.last_update_id > live.last_update_id:
            self._end("the shadow is ahead of the live book")

    def _compare(self) -> None:
        self.mismatches = compare_books(self.live.book, self.shadow.book, self.edges)
        self._end()


class BookVerifier:
    """Runs a `ShadowCheck` for each symbol in turn, every `interval_s` per symbol (0: off).

    `alert` (level, text) reports a mismatch to the trader; the engine sets it.
    """

    def __init__(
        self,
        market: MarketData,
        interval_s: float,
        stopping: asyncio.Event,
        limit: int = DEPTH_SNAPSHOT_LIMIT,
    ) -> None:
        self.market = market
        self.interval_s = interval_s
        self.limit = limit
        self.alert: Callable[[int, str], None] | None = None
        self.check: ShadowCheck | None = None  # the one in progress; fed every depth frame
        self.runs: dict[str, int] = {}  # checks that compared, per symbol
        self.mismatches: dict[str, int] = {}  # checks that found a difference, per symbol
        self.voids = 0  # checks that could not compare (a resync meanwhile, a stale snapshot)
        self._known: dict[str, tuple[int | None, int | None]] = {}
        self._stopping = stopping
        host = URL(market.stream_url).host or ""
        self.min_spacing_s = _MIN_SPACING_LOOPBACK_S if host in _LOOPBACK else _MIN_SPACING_S

    def configure(self, interval_s: float, alert: Callable[[int, str], None] | None) -> None:
        self.interval_s = interval_s
        self.alert = alert

    def note_sync_snapshot(self, book: OrderBook, snap: dict[str, object], limit: int) -> None:
        """A snapshot (as the venue sent it, best first) a live book is synced from: beyond
        its range the live book knows only the levels diffs have touched since."""
        edges: list[int | None] = []
        for side in (snap.get("bids"), snap.get("asks")):
            if not isinstance(side, list):
                return  # the sync refuses it too
            try:
                edges.append(book.price_to_ticks(side[-1][0]) if len(side) >= limit else None)
            except (ValueError, TypeError, IndexError):
                return
        self._known[book.symbol] = (edges[0], edges[1])

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run(self) -> None:
        """Check the symbols one after another until the market stops."""
        turn = 0
        last = time.monotonic()
        while not self._stopping.is_set():
            feeds = [f for f in self.market.feeds if f.sync is not None]
            if self.interval_s <= 0 or not feeds:
                await self._sleep(1.0)  # off, or nothing to check yet
                last = time.monotonic()
                continue
            spacing = max(self.min_spacing_s, self.interval_s / len(feeds))
            # At most a second at a time: the interval may be set (or symbols added) meanwhile.
            wait = last + spacing - time.monotonic()
            if wait > 0:
                await self._sleep(min(wait, 1.0))
                continue
            last = time.monotonic()
            turn %= len(feeds)
            await self.verify(feeds[turn])
            turn += 1

    def _may_fetch(self, feed: SymbolFeed) -> bool:
        market = self.market
        sync = feed.sync
        return (
            market.rest is not None
            and market.fetch_snapshots
            and market.depth_connected
            and sync is not None
            and sync.state == SyncState.SYNCED
            # A resync in flight needs the venue's weight budget more than a check does.
            and not any(f.snapshot_task is not None for f in market.feeds)
        )

    async def verify(self, feed: SymbolFeed) -> list[LevelMismatch] | None:
        """Check one symbol's book now; the differences found, or None if it could not
        compare (not synced, the venue's depth endpoint failing, a resync meanwhile)."""
        market, sync = self.market, feed.sync
        if sync is None or market.rest is None or not self._may_fetch(feed):
            return None
        breaker = market.snapshot_breaker
        if not breaker.allow():
            return None  # the endpoint keeps failing: the sync's probes come first
        check = ShadowCheck(sync, self._known.get(feed.symbol, (None, None)), self.limit)
        self.check = check  # diffs from here on reach the shadow
        started = time.perf_counter()
        try:
            try:
                snap = await market.rest.depth(feed.symbol, self.limit)
            except VenueError as exc:
                breaker.failure()
                log.warning(
                    "verify snapshot failed", extra={"symbol": feed.symbol, "error": str(exc)}
                )
                return None
            breaker.success()
            check.on_snapshot(snap["lastUpdateId"], snap.get("bids"), snap.get("asks"))  # type: ignore[arg-type]
            if not check.done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(check.finished.wait(), _SETTLE_S)
        finally:
            self.check = None
        return self._conclude(feed, check, time.perf_counter() - started)

    def _conclude(
        self, feed: SymbolFeed, check: ShadowCheck, took_s: float
    ) -> list[LevelMismatch] | None:
        found = check.mismatches
        if found is None:
            self.voids += 1
            log.info(
                "book check did not compare",
                extra={"symbol": feed.symbol, "why": check.void or "timed out"},
            )
            return None
        symbol = feed.symbol
        self.runs[symbol] = self.runs.get(symbol, 0) + 1
        feed.version += 1
        if not found:
            log.debug("book verified", extra={"symbol": symbol, "ms": round(took_s * 1e3, 1)})
            return found
        self.mismatches[symbol] = self.mismatches.get(symbol, 0) + 1
        first = found[0]
        book = check.shadow.book
        side = "bid" if first.side == BIDS else "ask"
        more = f" (+{len(found) - 1} more levels)" if len(found) > 1 else ""
        text = (
            f"{symbol} book differs from the venue at {side} {book.format_price(first.ticks)}: "
            f"book {book.format_qty(first.book)}, venue {book.format_qty(first.venue)}{more}; "
            "resyncing"
        )
        log.warning(
            "book differs from the venue's snapshot; resyncing",
            extra={
                "symbol": symbol,
                "side": side,
                "price": book.format_price(first.ticks),
                "book_qty": book.format_qty(first.book),
                "venue_qty": book.format_qty(first.venue),
                "levels": len(found),
                "u": check.live.last_update_id,
            },
        )
        if self.alert is not None:
            self.alert(logging.WARNING, text)
        if feed.sync is check.live:
            feed.sync.reset("book differs from the venue's snapshot")
        return found
