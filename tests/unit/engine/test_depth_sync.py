"""The futures depth-sync procedure: edge cases, and a generated stream against a reference."""

from __future__ import annotations

import random
import time

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook
from hftui.engine.depth_sync import DepthSync, SyncResult, SyncState
from hftui.engine.metrics import LatencyHistogram

R = SyncResult


def new_sync(max_buffer: int = 10_000) -> DepthSync:
    return DepthSync(OrderBook("BTCUSDT", "0.10", "0.001"), max_buffer=max_buffer)


SNAP_BIDS = [["100.00", "1.000"]]
SNAP_ASKS = [["100.10", "1.000"]]


def synced_at(last: int) -> DepthSync:
    """A sync whose book is the snapshot above at id `last`, via a straddling event."""
    sync = new_sync()
    sync.on_diff(last, last + 1, last - 1, [], [])
    assert sync.on_snapshot(last, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    return sync


def test_starts_wanting_a_snapshot() -> None:
    sync = new_sync()
    assert sync.needs_snapshot
    assert sync.state == SyncState.WAITING_SNAPSHOT
    assert sync.on_diff(1, 2, 0, [], []) == R.BUFFERED
    assert sync.buffered == 1


def test_events_before_the_snapshot_are_dropped_and_straddler_applies() -> None:
    sync = new_sync()
    assert sync.on_diff(90, 95, 89, [["99.00", "9.000"]], []) == R.BUFFERED
    assert sync.on_diff(96, 101, 95, [["100.00", "2.000"]], []) == R.BUFFERED
    assert sync.on_diff(102, 104, 101, [], [["100.10", "3.000"]]) == R.BUFFERED
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.synced
    assert not sync.needs_snapshot
    assert sync.dropped_events == 1
    assert sync.last_update_id == 104
    # The pre-snapshot level at 99.00 never made it in; the straddler and its successor did.
    assert sync.book.levels() == ([(1000, 2000)], [(1001, 3000)])


def test_straddler_ending_exactly_at_the_snapshot() -> None:
    sync = new_sync()
    sync.on_diff(95, 100, 94, [["100.00", "2.000"]], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.last_update_id == 100
    assert sync.on_diff(103, 104, 100, [], []) == R.APPLIED


def test_first_event_starting_right_after_the_snapshot() -> None:
    # The stream opened just after the event ending at L: no event straddles L, but the first
    # one seen follows it exactly (U > L, pu == L).
    sync = new_sync()
    sync.on_diff(103, 105, 100, [["100.00", "5.000"]], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.book.levels()[0] == [(1000, 5000)]
    assert sync.last_update_id == 105


def test_snapshot_waits_for_a_qualifying_event() -> None:
    sync = new_sync()
    sync.on_diff(90, 95, 89, [], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.WAITING
    assert not sync.needs_snapshot
    assert sync.dropped_events == 1
    assert sync.on_diff(96, 99, 95, [], []) == R.BUFFERED  # still before it: dropped
    assert sync.dropped_events == 2
    assert sync.on_diff(100, 102, 99, [["99.90", "1.000"]], []) == R.SYNCED
    assert sync.synced
    assert sync.last_update_id == 102
    assert sync.book.levels() == ([(1000, 1000), (999, 1000)], [(1001, 1000)])


def test_pending_snapshot_found_stale_by_a_later_event() -> None:
    sync = new_sync()
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.WAITING
    assert sync.on_diff(105, 107, 103, [], []) == R.STALE_SNAPSHOT  # skipped past 100
    assert sync.stale_snapshots == 1
    assert sync.needs_snapshot
    assert sync.on_snapshot(106, SNAP_BIDS, SNAP_ASKS) == R.SYNCED  # the event was kept


def test_stale_snapshot_asks_again() -> None:
    sync = new_sync()
    sync.on_diff(120, 125, 118, [], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.STALE_SNAPSHOT
    assert sync.needs_snapshot
    assert sync.stale_snapshots == 1
    assert not sync.synced
    assert sync.on_snapshot(122, SNAP_BIDS, SNAP_ASKS) == R.SYNCED


def test_broken_pu_chain_resyncs() -> None:
    sync = synced_at(100)
    assert sync.on_diff(102, 105, 101, [], []) == R.APPLIED
    assert sync.on_diff(107, 110, 106, [["100.00", "7.000"]], []) == R.GAP
    assert (sync.gaps, sync.resyncs) == (1, 1)
    assert sync.needs_snapshot
    assert not sync.synced
    assert sync.book.levels() == ([], [])
    # The event that exposed the gap is kept for the next snapshot.
    assert sync.on_diff(111, 112, 110, [], [["100.20", "1.000"]]) == R.BUFFERED
    assert sync.on_snapshot(108, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.book.levels() == ([(1000, 7000)], [(1001, 1000), (1002, 1000)])
    assert sync.last_update_id == 112


def test_gap_inside_the_buffer_is_caught() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_diff(105, 106, 103, [], [])  # pu should have been 101
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.GAP
    assert sync.needs_snapshot
    assert sync.gaps == 1
    assert sync.on_snapshot(105, SNAP_BIDS, SNAP_ASKS) == R.SYNCED


def test_duplicates_after_sync_are_dropped_not_gaps() -> None:
    sync = synced_at(100)
    sync.on_diff(102, 105, 101, [["100.00", "2.000"]], [])
    assert sync.on_diff(102, 105, 101, [["100.00", "9.000"]], []) == R.DROPPED_OLD
    assert sync.on_diff(98, 103, 97, [], []) == R.DROPPED_OLD
    assert sync.synced
    assert (sync.gaps, sync.duplicates) == (0, 2)
    assert sync.book.levels()[0] == [(1000, 2000)]
    assert sync.on_diff(106, 107, 105, [], []) == R.APPLIED


def test_duplicates_inside_the_buffer_are_skipped() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    sync.on_diff(102, 104, 101, [["100.00", "4.000"]], [])
    sync.on_diff(102, 104, 101, [["100.00", "4.000"]], [])  # sent twice
    sync.on_diff(105, 106, 104, [], [])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.duplicates == 1
    assert sync.last_update_id == 106


def test_crossed_book_resyncs() -> None:
    sync = synced_at(100)
    assert sync.on_diff(102, 103, 101, [["100.20", "1.000"]], []) == R.CROSSED
    assert (sync.crossed, sync.resyncs) == (1, 1)
    assert sync.needs_snapshot
    assert not sync.synced


def test_crossed_while_replaying_the_buffer() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [["99.90", "1.000"]])
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.CROSSED
    assert sync.crossed == 1
    assert sync.needs_snapshot


def test_malformed_levels_resync_without_raising() -> None:
    sync = synced_at(100)
    assert sync.on_diff(102, 103, 101, [["1x0", "1"]], []) == R.CORRUPT
    assert not sync.synced
    assert sync.needs_snapshot
    # While buffering a malformed event starts the procedure again too.
    sync.on_diff(104, 105, 103, [], [])
    assert sync.on_diff(106, 107, 105, [[None, 3]], []) == R.CORRUPT  # type: ignore[list-item]
    assert sync.buffered == 0
    assert sync.on_diff(108, 109, 107, [["100.05", "1.000"]], []) == R.CORRUPT  # off the tick
    assert sync.on_diff(110, 111, 109, [["100.00"]], []) == R.CORRUPT
    assert sync.on_diff(113, 112, 111, [], []) == R.CORRUPT  # U > u
    assert sync.corrupt == 5
    assert sync.resyncs == 1


def test_malformed_snapshot_keeps_the_buffer() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    assert sync.on_snapshot(100, [["bad", "1"]], SNAP_ASKS) == R.CORRUPT
    assert sync.needs_snapshot
    assert sync.buffered == 1
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED


def test_a_snapshot_id_that_is_not_an_update_id_is_malformed() -> None:
    sync = new_sync()
    sync.on_diff(99, 101, 98, [], [])
    for bad in ("100", 100.0, True, -1, 1 << 63):
        assert sync.on_snapshot(bad, SNAP_BIDS, SNAP_ASKS) == R.CORRUPT  # type: ignore[arg-type]
        assert sync.needs_snapshot
    assert sync.buffered == 1
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED


def test_snapshot_while_synced_is_ignored() -> None:
    sync = synced_at(100)
    assert sync.on_snapshot(50, [], []) == R.IGNORED
    assert sync.synced
    assert sync.book.levels() == ([(1000, 1000)], [(1001, 1000)])


def test_buffer_is_bounded() -> None:
    sync = new_sync(max_buffer=3)
    results = [sync.on_diff(k * 2 + 1, k * 2 + 2, k * 2, [], []) for k in range(5)]
    assert results == [R.BUFFERED] * 3 + [R.OVERFLOW, R.BUFFERED]
    assert sync.buffered_overflow == 1
    assert sync.buffered == 2  # started again from the event that overflowed
    assert sync.needs_snapshot
    assert sync.on_snapshot(8, SNAP_BIDS, SNAP_ASKS) == R.SYNCED


def test_reset_drops_everything_and_wants_a_snapshot() -> None:
    sync = synced_at(100)
    sync.reset("reconnect")
    assert sync.needs_snapshot
    assert not sync.synced
    assert sync.resyncs == 1
    assert sync.book.levels() == ([], [])
    sync.on_diff(99, 101, 98, [], [])
    assert sync.on_snapshot(100, [], []) == R.SYNCED
    assert sync.book.levels() == ([], [])


def test_raw_frames_follow_the_same_procedure() -> None:
    sync = new_sync()

    def frame(first: int, final: int, prev: int, bids: list[list[str]]) -> bytes:
        event = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first, "u": final}
        return orjson.dumps({**event, "pu": prev, "b": bids, "a": []})

    for raw in (frame(99, 101, 98, [["99.90", "2.000"]]), frame(102, 103, 101, [])):
        diff = sync.book.parse_raw(raw)
        assert diff is not None
        assert sync.on_raw(diff) == R.BUFFERED
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    diff = sync.book.parse_raw(frame(104, 105, 103, [["100.00", "0"]]))
    assert diff is not None
    assert sync.on_raw(diff) == R.APPLIED
    assert sync.book.levels() == ([(999, 2000)], [(1001, 1000)])
    diff = sync.book.parse_raw(frame(107, 108, 106, []))
    assert diff is not None
    assert sync.on_raw(diff) == R.GAP


def frame(first: int, final: int, prev: int, bids: list[list[str]], asks: list[list[str]]) -> bytes:
    event = {"e": "depthUpdate", "E": 7, "s": "BTCUSDT", "U": first, "u": final, "pu": prev}
    return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": {**event, "b": bids, "a": asks}})


def test_frames_parsed_and_applied_in_one_call() -> None:
    sync = new_sync()
    assert sync.on_frame(frame(99, 101, 98, [["99.90", "2.000"]], [])) == R.BUFFERED
    assert sync.on_snapshot(100, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.on_frame(frame(102, 103, 101, [["100.00", "0"]], [])) == R.APPLIED
    assert sync.last_update_id == 103
    assert sync.book.levels() == ([(999, 2000)], [(1001, 1000)])
    assert sync.on_frame(frame(102, 103, 101, [["100.00", "5.000"]], [])) == R.DROPPED_OLD
    assert sync.on_frame(frame(104, 105, 103, [["100.05", "1.000"]], [])) is None  # off the tick
    assert sync.synced  # declined, not judged: the JSON path will say what is wrong
    assert sync.on_frame(frame(104, 105, 103, [], [["99.90", "1.000"]])) == R.CROSSED
    assert sync.crossed == 1
    assert sync.on_frame(frame(106, 107, 105, [], [])) == R.BUFFERED
    assert sync.on_frame(b'{"e":"depthUpdate"}') is None


def test_frame_exposing_a_gap_is_kept() -> None:
    sync = synced_at(100)
    assert sync.on_frame(frame(105, 107, 104, [["100.00", "3.000"]], [])) == R.GAP
    assert sync.buffered == 1
    assert sync.on_snapshot(106, SNAP_BIDS, SNAP_ASKS) == R.SYNCED
    assert sync.book.levels()[0] == [(1000, 3000)]


def test_timed_frames_are_observed_once_whatever_their_outcome() -> None:
    sync = synced_at(100)
    ingest, delay = LatencyHistogram(), LatencyHistogram()
    ingest.observe(1_000)  # figures from before the attach are kept
    sync.time_frames(ingest, delay)
    received = time.time_ns()
    # Applied outright: observed inside the kernel.
    assert sync.on_frame(frame(102, 103, 101, [["99.90", "2.000"]], []), recv_ns=received) == (
        R.APPLIED
    )
    assert (ingest.count, delay.count) == (2, 1)
    assert 0 <= ingest.sum_ns - 1_000 < time.time_ns() - received + 1
    assert delay.sum_ns == received - 7 * 1_000_000  # E is 7 ms
    assert sync.event_time_ms == 7
    # A duplicate and a gap go through the general rules, and are observed all the same.
    assert sync.on_frame(frame(102, 103, 101, [], []), recv_ns=received) == R.DROPPED_OLD
    assert sync.on_frame(frame(105, 107, 104, [], []), recv_ns=received) == R.GAP
    assert (ingest.count, delay.count) == (4, 3)
    # Declined: left to the caller's JSON path, which observes it itself.
    assert sync.on_frame(b'{"e":"depthUpdate"}', recv_ns=received) is None
    assert ingest.count == 4


def test_the_chain_lives_in_the_book_and_survives_a_bigger_scratch() -> None:
    sync = synced_at(100)
    ingest, delay = LatencyHistogram(), LatencyHistogram()
    sync.time_frames(ingest, delay)
    assert sync.on_frame(frame(102, 103, 101, [["99.90", "2.000"]], []), recv_ns=1) == R.APPLIED
    # More levels than the scratch holds: the book moves to a bigger buffer.
    many = [[sync.book.format_price(1002 + k), "1.000"] for k in range(1500)]
    assert sync.on_diff(104, 105, 103, [], many) == R.APPLIED
    assert sync.book._scratch.shape[1] >= len(many)  # it did move
    assert sync.last_update_id == 105
    assert sync.on_frame(frame(106, 107, 105, [["99.90", "3.000"]], []), recv_ns=1) == R.APPLIED
    assert sync.last_update_id == 107
    assert sync.book.qty_at(0, 999) == 3000
    assert ingest.count == 2  # both timed frames, the second in the new buffer
    # Out of sync, the kernel only parses: nothing is applied behind the procedure's back.
    sync.reset("test")
    assert sync.on_frame(frame(108, 109, 107, [["99.90", "4.000"]], [])) == R.BUFFERED
    assert sync.book.levels() == ([], [])


# A generated venue: random changes, each with an id; ids skip between events (updates this
# stream never carries); random event windows; the snapshot taken at a random change.
change_st = st.tuples(st.booleans(), st.integers(0, 9), st.integers(0, 4))


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(change_st, min_size=2, max_size=60),
    cuts=st.lists(st.integers(1, 5), min_size=60, max_size=60),
    skips=st.lists(st.integers(0, 3), min_size=60, max_size=60),
    snap_at=st.integers(0, 59),
    join_at=st.integers(0, 59),
    duplicate_at=st.integers(0, 80),
    as_frames=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_generated_stream_matches_reference(
    changes: list[tuple[bool, int, int]],
    cuts: list[int],
    skips: list[int],
    snap_at: int,
    join_at: int,
    duplicate_at: int,
    as_frames: list[bool],
) -> None:
    # Keep the venue uncrossed: bids from 990 to 999, asks from 1000 to 1009.
    changes = [(is_bid, t + (990 if is_bid else 1000), q) for is_bid, t, q in changes]
    ids: list[int] = []  # id of each change
    events: list[tuple[int, int, int, int]] = []  # U, u, first change, end change
    k = 0
    next_id = 1
    while k < len(changes):
        end = min(k + cuts[len(events)], len(changes))
        next_id += skips[len(events)]
        first = next_id
        ids.extend(range(next_id, next_id + end - k))
        next_id += end - k
        events.append((first, next_id - 1, k, end))
        k = end
    upto = min(snap_at, len(changes))  # changes in the snapshot
    snap_id = ids[upto - 1] if upto else 0
    # The stream opens before the snapshot is taken, at a random earlier event.
    join = min(join_at, next(i for i, e in enumerate(events) if e[1] >= snap_id))

    def state(count: int) -> tuple[dict[int, int], dict[int, int]]:
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for is_bid, t, q in changes[:count]:
            side = bids if is_bid else asks
            if q:
                side[t] = q
            else:
                side.pop(t, None)
        return bids, asks

    def wire(levels: dict[int, int]) -> list[list[str]]:
        return [[f"{t // 10}.{t % 10}0", f"0.{q:03d}"] for t, q in levels.items()]

    sync = new_sync()
    for i in range(join, len(events)):
        first, final, start, end = events[i]
        bids = {t: q for is_bid, t, q in changes[start:end] if is_bid}
        asks = {t: q for is_bid, t, q in changes[start:end] if not is_bid}
        prev = events[i - 1][1] if i else 0
        if as_frames[i]:  # raw bytes through the one-call path
            assert sync.on_frame(frame(first, final, prev, wire(bids), wire(asks))) is not None
        else:
            sync.on_diff(first, final, prev, wire(bids), wire(asks))
        if i == duplicate_at:
            assert sync.on_diff(first, final, prev, wire(bids), wire(asks)) in (
                R.DROPPED_OLD,
                R.BUFFERED,
            )
        if i == join:
            snap_bids, snap_asks = state(upto)
            result = sync.on_snapshot(snap_id, wire(snap_bids), wire(snap_asks))
            assert result in (R.SYNCED, R.WAITING)
    assert sync.synced
    assert sync.gaps == sync.stale_snapshots == sync.crossed == sync.corrupt == 0
    want_bids, want_asks = state(len(changes))
    assert sync.book.levels() == (
        sorted(want_bids.items(), reverse=True),
        sorted(want_asks.items()),
    )
    assert sync.last_update_id == ids[-1]


# Fault injection: a venue emits random events; the stream drops, repeats and reorders them,
# carries garbage, disconnects; snapshots are handed over when asked for, some of them taken
# before the events the stream still has (stale). The reference is plain dicts per update id.
GARBAGE = (
    b"",
    b"not json",
    b'{"e":"depthUpdate"}',
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":',
    b"[1,2,3]",
)
fault_st = st.sampled_from(
    ["event"] * 4
    + ["frame", "drop", "duplicate", "swap", "garbage", "corrupt", "reset", "snapshot"]
    + ["stale snapshot", "stale snapshot"]
)


class Venue:
    """Random changes to a never-crossed book (bids 99.00-99.90, asks 100.00-100.90), each
    event's ids skipping some, and the book as it was after every event."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bids: dict[int, int] = {995: 10}
        self.asks: dict[int, int] = {1005: 10}
        self.update_id = 50
        self.history = {self.update_id: (dict(self.bids), dict(self.asks))}

    def event(self) -> tuple[int, int, int, list[list[str]], list[list[str]]]:
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for _ in range(self.rng.randint(1, 3)):
            is_bid = self.rng.random() < 0.5
            tick = self.rng.randrange(990, 1000) if is_bid else self.rng.randrange(1000, 1010)
            lots = self.rng.choice((0, 1, 7, 999))
            (bids if is_bid else asks)[tick] = lots
            side = self.bids if is_bid else self.asks
            if lots:
                side[tick] = lots
            else:
                side.pop(tick, None)
        prev = self.update_id
        first = prev + 1 + self.rng.randrange(3)
        self.update_id = first + self.rng.randrange(3)
        self.history[self.update_id] = (dict(self.bids), dict(self.asks))
        return first, self.update_id, prev, wire_levels(bids), wire_levels(asks)

    def levels(self, update_id: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids, asks = self.history[update_id]
        return sorted(bids.items(), reverse=True), sorted(asks.items())

    def snapshot(self, sync: DepthSync, update_id: int) -> SyncResult:
        bids, asks = self.history[update_id]
        return sync.on_snapshot(update_id, wire_levels(bids), wire_levels(asks))


def wire_levels(levels: dict[int, int]) -> list[list[str]]:
    return [[f"{t // 10}.{t % 10}0", f"{q // 1000}.{q % 1000:03d}"] for t, q in levels.items()]


Event = tuple[int, int, int, list[list[str]], list[list[str]]]


def deliver(sync: DepthSync, event: Event, as_frame: bool) -> None:
    if as_frame and sync.on_frame(frame(*event)) is not None:
        return
    sync.on_diff(*event)


class Faulty:
    """The stream between the venue and the sync, doing what each fault says."""

    def __init__(self, venue: Venue, sync: DepthSync) -> None:
        self.venue = venue
        self.sync = sync
        self.sent: list[Event] = []
        self.held: Event | None = None  # an event to be delivered after its successor

    def send(self, event: Event, as_frame: bool) -> None:
        deliver(self.sync, event, as_frame)
        self.sent.append(event)

    def step(self, fault: str, step: int, back: int) -> None:
        venue, sync = self.venue, self.sync
        if fault in ("event", "frame"):
            self.send(venue.event(), fault == "frame")
        elif fault == "drop":
            venue.event()
        elif fault == "duplicate" and self.sent:
            deliver(sync, self.sent[-min(back, len(self.sent))], step % 2 == 0)
        elif fault == "swap" and self.held is None:
            self.held = venue.event()
        elif fault == "swap" and self.held is not None:
            self.send(venue.event(), step % 2 == 0)
            self.send(self.held, step % 3 == 0)
            self.held = None
        elif fault == "garbage":
            assert sync.on_frame(GARBAGE[back % len(GARBAGE)]) is None
        elif fault == "corrupt":  # an event lost to malformed levels
            first, final, prev, _, asks = venue.event()
            assert sync.on_diff(first, final, prev, [["99.95", "1.000"]], asks) == R.CORRUPT
        elif fault == "reset":
            sync.reset("reconnect")
            self.held = None
        elif fault == "snapshot" and sync.needs_snapshot:
            venue.snapshot(sync, venue.update_id)
        elif fault == "stale snapshot" and sync.needs_snapshot:
            ids = sorted(venue.history)
            venue.snapshot(sync, ids[max(0, len(ids) - 1 - back)])


@settings(max_examples=300, deadline=None)
@given(
    faults=st.lists(fault_st, min_size=1, max_size=80),
    seed=st.integers(0, 2**32),
    back=st.lists(st.integers(1, 6), min_size=80, max_size=80),
)
def test_injected_faults_end_in_the_reference_book(
    faults: list[str], seed: int, back: list[int]
) -> None:
    venue = Venue(seed)
    sync = new_sync(max_buffer=16)
    stream = Faulty(venue, sync)
    for step, fault in enumerate(faults):
        stream.step(fault, step, back[step])
        # Whatever happened, a book that says it is synced is the venue's book at its id.
        if sync.synced:
            assert sync.book.levels() == venue.levels(sync.last_update_id)
    # The faults stop: the stream runs on and a fresh snapshot is given whenever wanted.
    for _ in range(4):
        deliver(sync, venue.event(), as_frame=True)
        if sync.needs_snapshot:
            venue.snapshot(sync, venue.update_id)
    assert sync.synced
    assert sync.last_update_id == venue.update_id
    assert sync.book.levels() == venue.levels(venue.update_id)
