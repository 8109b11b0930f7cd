"""Binance USD-M's diff-depth sync procedure for one symbol, as a pure state machine.

Owns: the symbol's `OrderBook`, the events buffered while unsynced, a pending snapshot, and
the sync counters. The caller feeds stream events and REST snapshots and fetches a snapshot
(`GET /fapi/v1/depth?limit=1000`) whenever `needs_snapshot` is set; nothing here does I/O.

The procedure, with the details clients often get wrong:
1. While unsynced, buffer every event (bounded: on overflow drop the buffer, start again).
2. With a snapshot of id L, drop buffered events with u < L. The first event applied must
   straddle it (U <= L <= u) or start right after it (pu == L): the second form is needed
   when the snapshot falls exactly between two events. If no event has reached L yet, keep
   the snapshot pending and check each new event against it. If the earliest kept event is
   already past L (U > L and pu != L), the snapshot is older than the stream: fetch another,
   keeping the buffer.
3. Every later event must chain: pu == u of the event applied before it (never check U, ids
   skip). An event wholly at or below the book's id is a duplicate: dropped, not a gap.
   A break in the chain, a crossed book after applying, or a malformed event throws the book
   away and starts again at 1; the event that exposed a gap is kept for the next snapshot.
4. After the stream connection changed (a reconnect), `resume` keeps a synced book, which is
   the venue's book as of `last_update_id`, and continues the chain: if the first new event
   follows it (pu == u), nothing was missed and no snapshot is needed. If it does not, the
   book is behind: it is thrown away as after any gap, and step 2 rebuilds it.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

import numpy as np

from hftui.engine.book import (
    ANY_SYMBOL,
    CROSSED_BOOK,
    INVALID,
    OrderBook,
    RawDiff,
)
from hftui.engine.kernels.book import FLAG_BITS, FLAG_MASK, PARSED, TOP_DUE
from hftui.engine.metrics import LatencyHistogram

__all__ = ["DepthSync", "DiffResult", "SnapshotResult", "SyncResult", "SyncState"]

log = logging.getLogger(__name__)

Levels = Sequence[Sequence[str]]

_DEFAULT_BUFFER: Final = 10_000
_MAX_ID: Final = (1 << 63) - 1


class SyncState(enum.IntEnum):
    WAITING_SNAPSHOT = 0  # buffering; a snapshot is wanted or pending
    SYNCED = 1
    # The connection changed: the book is kept (right as of `last_update_id`) until the new
    # stream either chains onto it or a snapshot plus the events buffered since replace it.
    RESUMING = 2


class SyncResult(enum.IntEnum):
    """What one event or snapshot did, for the caller to log and count."""

    APPLIED = 0  # the event was applied to the synced book
    BUFFERED = 1  # kept until a snapshot it can follow
    DROPPED_OLD = 2  # already covered by the book (a duplicate): dropped
    GAP = 3  # the pu chain broke: book discarded, snapshot wanted
    CROSSED = 4  # applying crossed the book: discarded, snapshot wanted
    CORRUPT = 5  # a malformed or off-grid level: discarded, snapshot wanted
    OVERFLOW = 6  # the buffer was full: dropped and started again, snapshot wanted
    SYNCED = 7  # the book is now synced (snapshot plus buffered events applied)
    STALE_SNAPSHOT = 8  # the snapshot is older than the stream: another is wanted
    WAITING = 9  # the snapshot is kept until an event reaches its id
    IGNORED = 10  # a snapshot arriving while already synced (a late reply): dropped


# The names the two entry points are documented with; one enum, so counting is uniform.
DiffResult = SyncResult
SnapshotResult = SyncResult

# Module constants for the per-frame path: an enum member's class lookup costs more.
_SYNCED: Final = SyncState.SYNCED
_APPLIED: Final = SyncResult.APPLIED


class _Snapshot(NamedTuple):
    last_update_id: int
    bid_ticks: np.ndarray
    bid_lots: np.ndarray
    ask_ticks: np.ndarray
    ask_lots: np.ndarray


class DepthSync:
    """Keeps one `OrderBook` in sync with a diff-depth stream."""

    def __init__(self, book: OrderBook, max_buffer: int = _DEFAULT_BUFFER) -> None:
        self.book = book
        self.max_buffer = max_buffer
        self._state = SyncState.WAITING_SNAPSHOT
        self.last_update_id = 0  # u of the last applied event, or the snapshot's id
        self.needs_snapshot = True
        self.timed = False  # on_frame observes latencies (see `time_frames`)
        self.event_time_ms = 0  # E of the last frame `on_frame` took (0: none)
        self.top_due = False  # see on_frame
        self._buffer: deque[RawDiff] = deque()
        self._pending: _Snapshot | None = None
        # Counters (plain ints: the engine's collector reads them).
        self.gaps = 0  # pu chain breaks, synced or inside the buffer
        self.resyncs = 0  # synced books thrown away
        self.stale_snapshots = 0
        self.dropped_events = 0  # buffered events older than the snapshot
        self.duplicates = 0  # events already covered by the synced book
        self.crossed = 0
        self.corrupt = 0  # malformed events and snapshots
        self.buffered_overflow = 0

    # The chain (the last applied u, and whether the next frame may be applied to it) lives
    # in the book's state array, where the receive path's kernel checks and advances it.
    @property
    def state(self) -> SyncState:
        return self._state

    @state.setter
    def state(self, state: SyncState) -> None:
        self._state = state
        self.book.follow(self.book.update_id, state is _SYNCED)

    @property
    def last_update_id(self) -> int:
        """u of the last applied event, or the snapshot's id."""
        return self.book.update_id

    @last_update_id.setter
    def last_update_id(self, update_id: int) -> None:
        self.book.follow(update_id, self._state is _SYNCED)

    def time_frames(self, ingest: LatencyHistogram, feed_delay: LatencyHistogram) -> None:
        """Have `on_frame` observe every frame it takes into these histograms: `ingest` from
        its receive time to the book applied (the wall clock, as `time.time_ns`), and
        `feed_delay` from its event time E to its receive time."""
        self.book.time_frames(ingest, feed_delay)
        self.timed = True

    @property
    def synced(self) -> bool:
        """The book holds the venue's book as of `last_update_id` (live or resuming)."""
        return self.state != SyncState.WAITING_SNAPSHOT

    @property
    def resuming(self) -> bool:
        return self.state == SyncState.RESUMING

    @property
    def buffered(self) -> int:
        """Events waiting for a snapshot."""
        return len(self._buffer)

    def reset(self, reason: str) -> None:
        """Discard the book and any buffered events or pending snapshot, and start
        buffering again; a snapshot is wanted (a gap, a reconnect)."""
        self._restart(reason, ())

    def resume(self, reason: str) -> None:
        """The stream connection changed: keep a synced book and continue its chain with the
        next event (see step 4); an unsynced one simply starts over."""
        if self.state != SyncState.SYNCED:
            self._restart(reason, ())
            return
        log.info("depth resuming", extra={"symbol": self.book.symbol, "reason": reason})
        self.state = SyncState.RESUMING
        self._buffer.clear()
        self._pending = None
        self.needs_snapshot = False

    def _restart(self, reason: str, keep: Iterable[RawDiff]) -> None:
        if self.state != SyncState.WAITING_SNAPSHOT:
            self.resyncs += 1
        log.info("depth resync", extra={"symbol": self.book.symbol, "reason": reason})
        self.state = SyncState.WAITING_SNAPSHOT
        self.book.clear()
        self._buffer.clear()
        self._buffer.extend(keep)
        self._pending = None
        self.needs_snapshot = True

    # ---- stream events --------------------------------------------------------------------

    def on_diff(
        self, first_id: int, final_id: int, prev_final_id: int, bids: Levels, asks: Levels
    ) -> SyncResult:
        """One diff-depth event (U, u, pu, b, a) with levels as decimal strings. Never
        raises on bad levels: the event counts as corrupt."""
        if self.state == SyncState.SYNCED:
            # The hot path: check the ids, then parse and apply in one kernel call.
            if final_id <= self.last_update_id:
                self.duplicates += 1
                return SyncResult.DROPPED_OLD
            if prev_final_id == self.last_update_id and first_id <= final_id:
                outcome = self.book.ingest(bids, asks)
                if outcome == INVALID:
                    return self._corrupt(final_id)
                self.last_update_id = final_id
                if outcome == CROSSED_BOOK:
                    return self._crossed(final_id)
                return SyncResult.APPLIED
        diff = self.book.parse_diff(first_id, final_id, prev_final_id, bids, asks)
        if diff is None or first_id > final_id:
            return self._corrupt(final_id)
        return self.on_raw(diff)

    def on_frame(
        self, frame: bytes, symbol_at: int = ANY_SYMBOL, recv_ns: int = 0
    ) -> SyncResult | None:
        """One diff-depth frame as received at `recv_ns` (raw or combined stream bytes):
        parsed and, when it continues the synced chain, applied in a single numba call, which
        also observes its latencies when `time_frames` asked for them (the other outcomes
        are observed here). `symbol_at` is where the caller found the symbol that chose this
        book (see `OrderBook.take_frame`).

        Returns None if the fast path cannot read the frame (malformed, off the grid,
        unusual, or not this book's); the caller then decodes it and uses `on_diff`, which
        explains the problem. `event_time_ms` is the frame's E (0 if it had none). When the
        book is left synced and has reached a bookTicker the kernel could not settle with,
        `top_due` is set for the caller, who compares the tops and clears it.
        """
        if type(frame) is not bytes:  # the kernel's entry point takes bytes and nothing else
            frame = bytes(frame)
        book = self.book
        packed = book.take_frame(frame, symbol_at, recv_ns)
        if packed < 0:
            return None
        self.event_time_ms = packed >> FLAG_BITS
        flags = packed & FLAG_MASK
        if flags == 0:  # the steady state: the next event of the chain, applied and timed
            return _APPLIED
        if flags == TOP_DUE:  # the same, and the tops to compare
            self.top_due = True
            return _APPLIED
        if flags == PARSED:
            result = self.on_raw(book.raw_diff())  # the general rules decide
        else:  # applied (the chain advanced), with something for the book to settle
            result = _APPLIED
            if book.settle(flags) == CROSSED_BOOK:
                result = self._crossed(book.raw_final_id())
        if self.timed:
            book.observe_frame(recv_ns)
        self.top_due = self.synced and book.ticker_due()
        return result

    def on_run(
        self, blob: np.ndarray, sizes: np.ndarray, first: int, recv_ns: int
    ) -> tuple[int, SyncResult]:
        """`on_frame` for a run of frames (`book.frame_run`'s arrays) from frame `first` on,
        received by `recv_ns`: the synced book takes, in one numba call, each depth frame
        that `on_frame` would apply outright and each of its bookTickers while it is live,
        up to the first frame it cannot take (left for the caller, untouched), or until the
        caller must compare the book's top with the bookTicker (see `OrderBook.take_run`).

        Returns:
            (frames taken, the last depth frame's result: APPLIED, or CROSSED if it crossed
            the book). `event_time_ms` is the last depth frame's E;
            `book.run_tickers()` says how many of the frames were bookTickers.
        """
        book = self.book
        packed = book.take_run(blob, sizes, first, recv_ns)
        taken = packed >> FLAG_BITS
        if taken > book.run_tickers():
            self.event_time_ms = book.run_event_time_ms()
        flags = packed & FLAG_MASK
        if flags == 0:
            return taken, _APPLIED
        result = _APPLIED
        if book.settle(flags) == CROSSED_BOOK:
            result = self._crossed(book.raw_final_id())
        if self.timed:
            book.observe_frame(recv_ns)
        return taken, result

    def on_raw(self, diff: RawDiff) -> SyncResult:
        """One diff-depth event already parsed into ticks (`OrderBook.parse_raw` or
        `parse_diff`); its arrays may be the book's scratch."""
        if diff.first_id > diff.final_id:
            return self._corrupt(diff.final_id)
        if self.state == SyncState.SYNCED:
            return self._follow(diff, copy=True)
        if self.state == SyncState.RESUMING and not self._buffer:
            if diff.final_id <= self.last_update_id:
                self.duplicates += 1
                return SyncResult.DROPPED_OLD
            if diff.prev_final_id == self.last_update_id:
                # The chain continues across the reconnect: nothing was missed.
                self.state = SyncState.SYNCED
                log.info("depth resumed", extra={"symbol": self.book.symbol, "u": diff.final_id})
                return self._apply(diff)
            # Events were missed between the connections: the kept book is now known to be
            # behind, so it stops counting as synced (never silently wrong) and is rebuilt
            # from a snapshot, this event kept for it, as after any gap.
            return self._gap(diff.prev_final_id, (diff.copy(),))
        if len(self._buffer) >= self.max_buffer:
            self.buffered_overflow += 1
            self._restart(f"more than {self.max_buffer} events buffered", (diff.copy(),))
            return SyncResult.OVERFLOW
        self._buffer.append(diff.copy())
        if self._pending is None:
            return SyncResult.BUFFERED
        return self._try_pending(self._pending, SyncResult.BUFFERED)

    def _follow(self, diff: RawDiff, copy: bool) -> SyncResult:
        # A synced book takes the next event of the chain.
        if diff.final_id <= self.last_update_id:
            self.duplicates += 1
            return SyncResult.DROPPED_OLD
        if diff.prev_final_id != self.last_update_id:
            return self._gap(diff.prev_final_id, (diff.copy() if copy else diff,))
        return self._apply(diff)

    def _apply(self, diff: RawDiff) -> SyncResult:
        outcome = self.book.apply_ticks(
            diff.bid_ticks, diff.bid_lots, diff.n_bids, diff.ask_ticks, diff.ask_lots, diff.n_asks
        )
        self.last_update_id = diff.final_id
        if outcome == CROSSED_BOOK:
            return self._crossed(diff.final_id)
        return SyncResult.APPLIED

    def _gap(self, prev_final_id: int, keep: Iterable[RawDiff]) -> SyncResult:
        self.gaps += 1
        self._restart(f"gap: pu {prev_final_id} != u {self.last_update_id}", keep)
        return SyncResult.GAP

    def _crossed(self, final_id: int) -> SyncResult:
        self.crossed += 1
        self._restart(f"crossed book after u {final_id}", ())
        return SyncResult.CROSSED

    def _corrupt(self, final_id: int) -> SyncResult:
        self.corrupt += 1
        self._restart(f"malformed levels in u {final_id}", ())
        return SyncResult.CORRUPT

    # ---- snapshots ------------------------------------------------------------------------

    def on_snapshot(self, last_update_id: int, bids: Levels, asks: Levels) -> SyncResult:
        """A REST snapshot (`lastUpdateId`, bids, asks) fetched after `needs_snapshot`."""
        if self.state == SyncState.SYNCED:
            return SyncResult.IGNORED
        self.needs_snapshot = False
        try:
            # The id becomes the next frame's expected pu in the kernel, as an int64.
            if type(last_update_id) is not int or not 0 <= last_update_id <= _MAX_ID:
                raise ValueError(f"lastUpdateId {last_update_id!r} is not an update id")
            arrays = self.book.parse_levels(bids, asks)
        except ValueError as exc:
            self.corrupt += 1
            self.needs_snapshot = True  # the buffered events are still good
            self._pending = None
            log.warning(
                "malformed depth snapshot", extra={"symbol": self.book.symbol, "error": str(exc)}
            )
            return SyncResult.CORRUPT
        self._pending = _Snapshot(last_update_id, *arrays)
        return self._try_pending(self._pending, SyncResult.WAITING)

    def _try_pending(self, snap: _Snapshot, waiting: SyncResult) -> SyncResult:
        buffer = self._buffer
        snap_id = snap.last_update_id
        while buffer and buffer[0].final_id < snap_id:
            buffer.popleft()
            self.dropped_events += 1
        if not buffer:
            return waiting
        first = buffer[0]
        if not (first.first_id <= snap_id or first.prev_final_id == snap_id):
            self.stale_snapshots += 1
            self._pending = None
            self.needs_snapshot = True
            return SyncResult.STALE_SNAPSHOT
        self._pending = None
        self.book.load_ticks(snap.bid_ticks, snap.bid_lots, snap.ask_ticks, snap.ask_lots)
        self.state = SyncState.SYNCED
        self.last_update_id = snap_id
        events = list(buffer)
        buffer.clear()
        result = self._apply(events[0])
        for k in range(1, len(events)):
            if result != SyncResult.APPLIED:
                break
            event = events[k]
            if event.final_id > self.last_update_id and event.prev_final_id != self.last_update_id:
                return self._gap(event.prev_final_id, events[k:])  # kept for the next snapshot
            result = self._follow(event, copy=False)
            if result == SyncResult.DROPPED_OLD:
                result = SyncResult.APPLIED
        if result != SyncResult.APPLIED:
            return result
        log.info("depth synced", extra={"symbol": self.book.symbol, "u": self.last_update_id})
        return SyncResult.SYNCED
