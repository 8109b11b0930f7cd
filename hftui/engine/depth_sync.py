"""Binance USD-M's diff-depth sync procedure for one symbol, as a pure state machine.

Owns: the symbol's `OrderBook`, the event buffer while unsynced, and the sync counters.
The caller feeds stream events and REST snapshots and fetches a snapshot whenever
`needs_snapshot` is set; nothing here does I/O.

The procedure (and where it is stricter than most clients):
1. While unsynced, buffer every event (bounded).
2. With a snapshot of id L: drop buffered events with u < L; the first event applied must
   straddle it (U <= L <= u) or start right after it (pu == L). If none has arrived yet, keep
   the snapshot and wait; if the earliest kept event is already past L (U > L, pu != L), the
   snapshot is older than the stream: fetch another.
3. Every later event must chain: pu == u of the previous one. A break, a crossed book after
   applying, or a malformed event throws the book away and starts again at 1.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Sequence
from typing import Final

from hftui.engine.book import OrderBook, RawDiff

__all__ = ["DepthSync", "DiffResult", "SnapshotResult", "SyncState"]

log = logging.getLogger(__name__)

Levels = Sequence[Sequence[str]]


class SyncState(enum.IntEnum):
    WAITING_SNAPSHOT = 0
    SYNCED = 1


class DiffResult(enum.IntEnum):
    APPLIED = 0
    BUFFERED = 1
    DROPPED_OLD = 2  # already covered by the book (duplicate or pre-snapshot)
    GAP = 3  # pu chain broken: book discarded
    CROSSED = 4  # applying crossed the book: discarded
    CORRUPT = 5  # malformed levels: discarded
    SYNCED = 6  # this event completed a pending snapshot


class SnapshotResult(enum.IntEnum):
    SYNCED = 0
    WAITING = 1  # no event straddles it yet; kept until one arrives
    STALE = 2  # older than the stream: fetch another
    CORRUPT = 3  # malformed levels: discarded, fetch another
    GAP = 4  # the buffered events do not chain: discarded, fetch another


_DEFAULT_BUFFER: Final = 10_000


class DepthSync:
    """Keeps one `OrderBook` in sync with a diff-depth stream."""

    def __init__(self, book: OrderBook, max_buffer: int = _DEFAULT_BUFFER) -> None:
        self.book = book
        self.max_buffer = max_buffer
        self.state = SyncState.WAITING_SNAPSHOT
        self.last_update_id = 0
        self.needs_snapshot = True
        self._buffer: deque[RawDiff] = deque()
        self._pending: tuple[int, Levels, Levels] | None = None  # snapshot awaiting an event
        self.gaps = 0
        self.resyncs = 0
        self.stale_snapshots = 0
        self.dropped_events = 0
        self.crossed = 0
        self.corrupt = 0
        self.buffer_overflows = 0

    @property
    def synced(self) -> bool:
        return self.state == SyncState.SYNCED

    def reset(self, reason: str) -> None:
        """Discard the book and start buffering again; a snapshot is wanted."""
        if self.state == SyncState.SYNCED:
            self.resyncs += 1
        log.info("depth resync", extra={"symbol": self.book.symbol, "reason": reason})
        self.state = SyncState.WAITING_SNAPSHOT
        self.book.clear()
        self._buffer.clear()
        self._pending = None
        self.needs_snapshot = True

    # ---- stream events --------------------------------------------------------------------

    def on_diff(
        self, first_id: int, final_id: int, prev_final_id: int, bids: Levels, asks: Levels
    ) -> DiffResult:
        """One diff-depth event (U, u, pu, b, a) with levels as decimal strings."""
        try:
            bid_ticks, bid_lots = self.book._parse(bids)
            ask_ticks, ask_lots = self.book._parse(asks)
        except ValueError:
            self.corrupt += 1
            if self.state == SyncState.SYNCED:
                self.reset("malformed levels")
            return DiffResult.CORRUPT
        return self.on_raw(
            RawDiff(
                first_id,
                final_id,
                prev_final_id,
                bid_ticks,
                bid_lots,
                len(bids),
                ask_ticks,
                ask_lots,
                len(asks),
            )
        )

    def on_raw(self, diff: RawDiff) -> DiffResult:
        """One diff-depth event already parsed into ticks (the hot path)."""
        if self.state == SyncState.SYNCED:
            if diff.final_id <= self.last_update_id:
                self.dropped_events += 1
                return DiffResult.DROPPED_OLD
            if diff.prev_final_id != self.last_update_id:
                self.gaps += 1
                self.reset(f"gap: pu {diff.prev_final_id} != last u {self.last_update_id}")
                self._buffer.append(diff.copy())
                return DiffResult.GAP
            return self._apply(diff)
        if len(self._buffer) >= self.max_buffer:
            self.buffer_overflows += 1
            self.reset("buffer overflow while waiting for a snapshot")
        self._buffer.append(diff.copy())
        if self._pending is not None:
            result = self._try_pending(self._pending)
            if result == SnapshotResult.SYNCED:
                return DiffResult.SYNCED
            if result == SnapshotResult.CORRUPT:
                return DiffResult.CORRUPT
            if result == SnapshotResult.GAP:
                return DiffResult.GAP
        return DiffResult.BUFFERED

    def _apply(self, diff: RawDiff) -> DiffResult:
        self.book.apply_ticks(
            diff.bid_ticks, diff.bid_lots, diff.n_bids, diff.ask_ticks, diff.ask_lots, diff.n_asks
        )
        self.last_update_id = diff.final_id
        if self.book.is_crossed():
            self.crossed += 1
            self.reset("crossed book")
            return DiffResult.CROSSED
        return DiffResult.APPLIED

    # ---- snapshots ------------------------------------------------------------------------

    def on_snapshot(self, last_update_id: int, bids: Levels, asks: Levels) -> SnapshotResult:
        """A REST snapshot (`lastUpdateId`, bids, asks) fetched after `needs_snapshot`."""
        self.needs_snapshot = False
        self._pending = (last_update_id, bids, asks)
        return self._try_pending(self._pending)

    def _try_pending(self, pending: tuple[int, Levels, Levels]) -> SnapshotResult:
        snap_id, bids, asks = pending
        while self._buffer and self._buffer[0].final_id < snap_id:
            self._buffer.popleft()
            self.dropped_events += 1
        if not self._buffer:
            return SnapshotResult.WAITING
        first = self._buffer[0]
        if not (first.first_id <= snap_id <= first.final_id or first.prev_final_id == snap_id):
            self.stale_snapshots += 1
            self._pending = None
            self.needs_snapshot = True
            return SnapshotResult.STALE
        self._pending = None
        try:
            self.book.load_snapshot(bids, asks)
        except (ValueError, TypeError):
            self.corrupt += 1
            self.reset("malformed snapshot")
            return SnapshotResult.CORRUPT
        self.state = SyncState.SYNCED
        self.last_update_id = snap_id
        buffered, self._buffer = list(self._buffer), deque()
        for k, event in enumerate(buffered):
            if k and event.prev_final_id != self.last_update_id:
                self.gaps += 1
                self.reset(
                    f"gap in buffered events: pu {event.prev_final_id} != u {self.last_update_id}"
                )
                self._buffer.extend(buffered[k:])  # still good for the next snapshot
                return SnapshotResult.GAP
            result = self._apply(event)
            if result != DiffResult.APPLIED:
                return SnapshotResult.CORRUPT
        return SnapshotResult.SYNCED
