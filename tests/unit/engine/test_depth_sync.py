"""The futures depth-sync procedure: edge cases, and a generated stream against a reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook
from hftui.engine.depth_sync import DepthSync, DiffResult, SnapshotResult, SyncState


def new_sync(max_buffer: int = 10_000) -> DepthSync:
    return DepthSync(OrderBook("BTCUSDT", "0.10", "0.001"), max_buffer=max_buffer)


SNAP_BIDS = [["100.00", "1.000"]]
SNAP_ASKS = [["100.10", "1.000"]]


def test_starts_wanting_a_snapshot() -> None:
    sync = new_sync()
    assert sync.needs_snapshot
    assert sync.state == SyncState.WAITING_SNAPSHOT


def test_events_before_the_snapshot_are_dropped_and_straddler_applies() -> None:
    sync = new_sync()
    assert sync.on_diff(90, 95, 89, [["99.00", "9.000"]], []) == DiffResult.BUFFERED
    assert sync.on_diff(96, 101, 95, [["100.00", "2.000"]], []) == DiffResult.BUFFERED
    assert sync.on_diff(102, 104, 101, [], [["100.10", "3.000"]]) == DiffResult.BUFFERED
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.SYNCED
    assert sync.synced
    assert sync.dropped_events == 1
    assert sync.last_update_id == 104
    # The pre-snapshot level at 99.00 never made it in; the straddler and its successor did.
    assert sync.book.levels() == ([(1000, 2000)], [(1001, 3000)])


def test_first_event_starting_right_after_the_snapshot() -> None:
    sync = new_sync()
    sync.on_diff(101, 103, 100, [["100.00", "5.000"]], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.SYNCED
    assert sync.book.levels()[0] == [(1000, 5000)]


def test_snapshot_waits_for_a_qualifying_event() -> None:
    sync = new_sync()
    sync.on_diff(90, 95, 89, [], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.WAITING
    assert not sync.needs_snapshot
    assert sync.on_diff(96, 99, 95, [], []) == DiffResult.BUFFERED  # still before it
    assert sync.on_diff(100, 102, 99, [["99.90", "1.000"]], []) == DiffResult.SYNCED
    assert sync.synced
    assert sync.last_update_id == 102


def test_stale_snapshot_asks_again() -> None:
    sync = new_sync()
    sync.on_diff(120, 125, 118, [], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.STALE
    assert sync.needs_snapshot
    assert sync.stale_snapshots == 1
    assert sync.on_snapshot(122, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.SYNCED


def test_broken_pu_chain_resyncs() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS)
    assert sync.on_diff(102, 105, 101, [], []) == DiffResult.APPLIED
    assert sync.on_diff(107, 110, 106, [["100.00", "7.000"]], []) == DiffResult.GAP
    assert sync.gaps == 1
    assert sync.resyncs == 1
    assert sync.needs_snapshot
    assert not sync.synced
    assert sync.book.levels() == ([], [])
    # The event that exposed the gap is kept for the next snapshot.
    assert sync.on_snapshot(108, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.SYNCED
    assert sync.book.levels()[0] == [(1000, 7000)]


def test_gap_inside_the_buffer_is_caught() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_diff(105, 106, 103, [], [])  # pu should have been 101
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.GAP
    assert sync.needs_snapshot
    assert sync.on_snapshot(105, SNAP_BIDS, SNAP_ASKS) == SnapshotResult.SYNCED


def test_duplicates_after_sync_are_dropped_not_gaps() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS)
    sync.on_diff(102, 105, 101, [], [])
    assert sync.on_diff(102, 105, 101, [], []) == DiffResult.DROPPED_OLD
    assert sync.synced
    assert sync.gaps == 0


def test_crossed_book_resyncs() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS)
    assert sync.on_diff(102, 103, 101, [["100.20", "1.000"]], []) == DiffResult.CROSSED
    assert sync.crossed == 1
    assert sync.needs_snapshot


def test_malformed_levels_resync_without_raising() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS)
    assert sync.on_diff(102, 103, 101, [["1x0", "1"]], []) == DiffResult.CORRUPT
    # While resyncing, a malformed event is dropped; the hole it leaves in the pu chain is
    # caught when the next snapshot is applied.
    assert sync.on_diff(104, 105, 103, [[None, 3]], []) == DiffResult.CORRUPT  # type: ignore[list-item]
    assert sync.corrupt == 2
    sync.on_diff(106, 107, 105, [], [])
    assert sync.on_snapshot(106, [["bad", "1"]], SNAP_ASKS) == SnapshotResult.CORRUPT


def test_buffer_is_bounded() -> None:
    sync = new_sync(max_buffer=3)
    for k in range(5):
        sync.on_diff(k * 2 + 1, k * 2 + 2, k * 2, [], [])
    assert sync.buffer_overflows == 1
    assert sync.needs_snapshot


# A generated venue: random changes with ids, random event windows, random snapshot point.
change_st = st.tuples(st.booleans(), st.integers(990, 1010), st.integers(0, 4))


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(change_st, min_size=2, max_size=60),
    cuts=st.lists(st.integers(1, 5), min_size=60, max_size=60),
    snap_at=st.integers(0, 59),
    join_at=st.integers(0, 59),
)
def test_generated_stream_matches_reference(
    changes: list[tuple[bool, int, int]], cuts: list[int], snap_at: int, join_at: int
) -> None:
    # Keep the venue uncrossed: bids below 1000, asks from 1000 up.
    changes = [(is_bid, (t % 10) + (990 if is_bid else 1000), q) for is_bid, t, q in changes]
    events: list[tuple[int, int, list[tuple[bool, int, int]]]] = []
    k = 0
    while k < len(changes):
        n = cuts[len(events)]
        events.append((k + 1, min(k + n, len(changes)), changes[k : k + n]))
        k += n
    snap_id = min(snap_at, len(changes))
    join = min(join_at, len(events) - 1)
    join = min(
        join, next(i for i, e in enumerate(events) if e[1] >= snap_id)
    )  # stream opened first

    def state(upto: int) -> tuple[dict[int, int], dict[int, int]]:
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for is_bid, t, q in changes[:upto]:
            side = bids if is_bid else asks
            if q:
                side[t] = q
            else:
                side.pop(t, None)
        return bids, asks

    def wire(levels: dict[int, int]) -> list[list[str]]:
        return [[f"{t // 10}.{t % 10}0", f"0.{q:03d}"] for t, q in levels.items()]

    sync = new_sync()
    for i, (first, final, window) in enumerate(events[join:], start=join):
        bids = {t: q for is_bid, t, q in window if is_bid}
        asks = {t: q for is_bid, t, q in window if not is_bid}
        prev = events[i - 1][1] if i else 0
        sync.on_diff(first, final, prev, wire(bids), wire(asks))
        if i == join:
            snap_bids, snap_asks = state(snap_id)
            result = sync.on_snapshot(snap_id, wire(snap_bids), wire(snap_asks))
            assert result in (SnapshotResult.SYNCED, SnapshotResult.WAITING)
    assert sync.synced
    want_bids, want_asks = state(len(changes))
    assert sync.book.levels() == (
        sorted(want_bids.items(), reverse=True),
        sorted(want_asks.items()),
    )
    assert sync.last_update_id == len(changes)
