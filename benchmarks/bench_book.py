"""Book ingest: frame bytes -> parsed -> applied, per message, against a baseline.

Run: `python benchmarks/bench_book.py` (or `make bench`). Every path consumes the same
Binance-like diff frames (about 10 levels each) from the local exchange's synthetic market;
the baseline is orjson + a sortedcontainers.SortedDict book, measured in the same run. numba
kernels are warmed before timing. Figures are medians of several repetitions, so a noisy
shared machine moves them less, and every book is checked against the baseline's top 20
levels afterwards. A second table shows why string levels are read by one numba call over
orjson's re-encoding rather than by the pure-Python reader. Last, the same frames go through
`hftui.bench.measure_ingest`, the measurement behind `hftui bench ingest`: throughput and
p50/p99/p99.9 per-message latency of the engine path against the baseline, and their ratio.
The frames, the baseline and the engine path are `hftui.bench`'s, so both report on the
same work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from hftui.bench import (
    BURST,
    STEP,
    TICK,
    Path,
    baseline_path,
    engine_path,
    format_ingest,
    make_frames,
    measure_ingest,
)
from hftui.engine.book import ASKS, BIDS, OrderBook, decimal_units
from hftui.engine.depth_sync import DepthSync
from hftui.engine.warmup import warm_kernels

MESSAGES = 20_000
REPEATS = 7
TOP = 20
INGEST_SECONDS = 5.0

Top = tuple[list[tuple[float, float]], list[tuple[float, float]]]


def top_of(book: OrderBook) -> Top:
    bids, asks = book.levels()
    return (
        [(float(book.format_price(t)), float(book.format_qty(q))) for t, q in bids[:TOP]],
        [(float(book.format_price(t)), float(book.format_qty(q))) for t, q in asks[:TOP]],
    )


def synced(snap: dict[str, Any]) -> DepthSync:
    sync = DepthSync(OrderBook("BTCUSDT", TICK, STEP))
    last = snap["lastUpdateId"]
    sync.on_diff(last, last, last - 1, [], [])  # an empty event straddling the snapshot
    sync.on_snapshot(last, snap["bids"], snap["asks"])
    return sync


# Each path returns (µs per message, the top of its book when done).


def timed(make: Callable[[bytes], Path], snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    # A path of hftui.bench, run over every frame: one call per message, as `hftui bench` does.
    handle, _, book = make(snapshot)
    start = time.perf_counter_ns()
    for frame in frames:
        handle(frame)
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    bids, asks = book()  # also checks that the engine's book stayed in sync
    return elapsed, (bids[:TOP], asks[:TOP])


def bench_sorteddict(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    """orjson + a SortedDict keyed by float price (hftui.bench.baseline_path)."""
    return timed(baseline_path, snapshot, frames)


def bench_loads_only(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    start = time.perf_counter_ns()
    for frame in frames:
        orjson.loads(frame)
    return (time.perf_counter_ns() - start) / len(frames) / 1000, ([], [])


def bench_book_apply(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    snap = orjson.loads(snapshot)
    book = OrderBook("BTCUSDT", TICK, STEP)
    book.load_snapshot(snap["bids"], snap["asks"])
    start = time.perf_counter_ns()
    for frame in frames:
        event = orjson.loads(frame)
        book.apply(event["b"], event["a"])
        book.best_bid()
        book.best_ask()
    return (time.perf_counter_ns() - start) / len(frames) / 1000, top_of(book)


def bench_on_diff(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    sync = synced(orjson.loads(snapshot))
    book = sync.book
    start = time.perf_counter_ns()
    for frame in frames:
        event = orjson.loads(frame)
        sync.on_diff(event["U"], event["u"], event["pu"], event["b"], event["a"])
        book.best_bid()
        book.best_ask()
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    if not sync.synced:
        raise RuntimeError("benchmark book fell out of sync: the figures would be meaningless")
    return elapsed, top_of(book)


def bench_raw(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    sync = synced(orjson.loads(snapshot))
    book = sync.book
    start = time.perf_counter_ns()
    for frame in frames:
        diff = book.parse_raw(frame)
        assert diff is not None
        sync.on_raw(diff)
        book.best_bid()
        book.best_ask()
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    if not sync.synced:
        raise RuntimeError("benchmark book fell out of sync: the figures would be meaningless")
    return elapsed, top_of(book)


def bench_frame(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    sync = synced(orjson.loads(snapshot))
    book = sync.book
    start = time.perf_counter_ns()
    for frame in frames:
        sync.on_frame(frame)
        book.best_bid()
        book.best_ask()
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    if not sync.synced:
        raise RuntimeError("benchmark book fell out of sync: the figures would be meaningless")
    return elapsed, top_of(book)


def bench_engine_path(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    """The engine's receive path, MarketData.on_frame on the frame bytes as the stream hands
    them over (hftui.bench.engine_path)."""
    return timed(engine_path, snapshot, frames)


def bench_engine_bursts(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    """The same in bursts of BURST frames, as the receive loop takes frames the socket has
    queued (MarketData.on_frames; the touch read once per burst)."""
    _, handle_burst, book = engine_path(snapshot)
    bursts = [frames[i : i + BURST] for i in range(0, len(frames), BURST)]
    start = time.perf_counter_ns()
    for burst in bursts:
        handle_burst(burst)
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    bids, asks = book()
    return elapsed, (bids[:TOP], asks[:TOP])


def with_tickers(snapshot: bytes, frames: list[bytes]) -> list[bytes]:
    """The frames, each preceded by the bookTicker of the book it makes, as the depth
    connection carries both (the ticker comes first: it is sent at once, diffs in batches)."""
    sync = synced(orjson.loads(snapshot))
    book = sync.book
    out: list[bytes] = []
    for frame in frames:
        sync.on_frame(frame)
        bid, ask = book.best_bid(), book.best_ask()
        data = {
            "e": "bookTicker",
            "u": sync.last_update_id,
            "s": "BTCUSDT",
            "b": book.format_price(bid),
            "B": book.format_qty(book.qty_at(BIDS, bid)),
            "a": book.format_price(ask),
            "A": book.format_qty(book.qty_at(ASKS, ask)),
            "T": 1,
            "E": 1,
        }
        out += [orjson.dumps({"stream": "btcusdt@bookTicker", "data": data}), frame]
    return out


def bench_mixed(snapshot: bytes, mixed: list[bytes], burst: int) -> float:
    """µs per frame of the engine's receive path on depth and bookTicker frames: frames
    alone (`burst` 1, MarketData.on_frame) or in bursts (MarketData.on_frames)."""
    handle, handle_burst, book = engine_path(snapshot)
    start = time.perf_counter_ns()
    if burst == 1:
        for frame in mixed:
            handle(frame)
    else:
        for i in range(0, len(mixed), burst):
            handle_burst(mixed[i : i + burst])
    elapsed = (time.perf_counter_ns() - start) / len(mixed) / 1000
    book()  # raises if the book fell out of sync
    return elapsed


def bench_mixed_baseline(snapshot: bytes, mixed: list[bytes]) -> float:
    """The baseline's book for the diffs; a bookTicker read with orjson into four floats."""
    handle, _, _ = baseline_path(snapshot)
    ticker: list[float] = []
    start = time.perf_counter_ns()
    for frame in mixed:
        if frame.find(b'"bookTicker"') >= 0:
            data = orjson.loads(frame)["data"]
            ticker = [float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"])]
        else:
            handle(frame)
    del ticker
    return (time.perf_counter_ns() - start) / len(mixed) / 1000


def bench_read_python(events: list[Any]) -> float:
    # String levels -> ticks and lots with the pure-Python reader, one value at a time.
    book = OrderBook("BTCUSDT", TICK, STEP)
    tick, lot = book.tick_units, book.lot_units
    start = time.perf_counter_ns()
    for event in events:
        for levels in (event["b"], event["a"]):
            for price, qty in levels:
                decimal_units(price, 2) // tick
                decimal_units(qty, 3) // lot
    return (time.perf_counter_ns() - start) / len(events) / 1000


def bench_read_numba(events: list[Any]) -> float:
    # The same through orjson.dumps((bids, asks)) and one numba call (what apply uses).
    book = OrderBook("BTCUSDT", TICK, STEP)
    start = time.perf_counter_ns()
    for event in events:
        book.parse_diff(0, 0, 0, event["b"], event["a"])
    return (time.perf_counter_ns() - start) / len(events) / 1000


PATHS: list[tuple[str, Callable[[bytes, list[bytes]], tuple[float, Top]]]] = [
    ("orjson.loads alone (no book, reference)", bench_loads_only),
    ("orjson + SortedDict (baseline)", bench_sorteddict),
    ("orjson + OrderBook.apply", bench_book_apply),
    ("orjson + DepthSync.on_diff", bench_on_diff),
    ("raw bytes: parse_raw + DepthSync.on_raw", bench_raw),
    ("raw bytes: DepthSync.on_frame (one call)", bench_frame),
    ("engine: MarketData.on_frame", bench_engine_path),
    (f"engine: MarketData.on_frames, bursts of {BURST}", bench_engine_bursts),
]
BASELINE = 1


def measure_all(snapshot: bytes, frames: list[bytes]) -> list[float]:
    """Median µs per message of every path. Repetitions are interleaved (each round runs
    every path once), so a machine that slows down mid-run skews no path in particular."""
    for _, run in PATHS:
        run(snapshot, frames[:500])  # warm caches
    times: list[list[float]] = [[] for _ in PATHS]
    for _ in range(REPEATS):
        tops = []
        for k, (_, run) in enumerate(PATHS):
            micros, top = run(snapshot, frames)
            times[k].append(micros)
            tops.append(top)
        for (name, _), top in zip(PATHS[BASELINE + 1 :], tops[BASELINE + 1 :], strict=True):
            if top != tops[BASELINE]:
                raise RuntimeError(f"{name}: the book differs from the baseline's")
    return [statistics.median(t) for t in times]


def main() -> None:
    warm_kernels()
    snapshot, frames = make_frames(MESSAGES)
    events = [orjson.loads(f) for f in frames]
    levels = statistics.mean(len(e["b"]) + len(e["a"]) for e in events)
    size = statistics.mean(len(f) for f in frames)
    medians = measure_all(snapshot, frames)
    baseline = medians[BASELINE]
    rows = [(name, micros) for (name, _), micros in zip(PATHS, medians, strict=True)]
    print(
        f"book ingest: {MESSAGES} diffs, {levels:.1f} levels and {size:.0f} bytes per message, "
        f"median of {REPEATS}; every book matches the baseline's top {TOP}"
    )
    print(f"{'path':<42} {'us/msg':>8} {'speed vs baseline':>18}")
    for name, micros in rows:
        print(f"{name:<42} {micros:>8.2f} {baseline / micros:>17.2f}x")
    bench_read_numba(events[:500])
    python = statistics.median(bench_read_python(events) for _ in range(REPEATS))
    numba = statistics.median(bench_read_numba(events) for _ in range(REPEATS))
    print()
    print(f"{'string levels -> ticks and lots (no book)':<42} {'us/msg':>8}")
    print(f"{'pure-Python reader, per value':<42} {python:>8.2f}")
    print(f"{'orjson.dumps + one numba call':<42} {numba:>8.2f}")
    mixed = with_tickers(snapshot, frames)
    bench_mixed(snapshot, mixed[:1000], BURST)
    runs: list[tuple[str, Callable[[], float]]] = [
        ("baseline: orjson + SortedDict", lambda: bench_mixed_baseline(snapshot, mixed)),
        ("engine: frames alone (on_frame)", lambda: bench_mixed(snapshot, mixed, 1)),
        (f"engine: bursts of {BURST} (on_frames)", lambda: bench_mixed(snapshot, mixed, BURST)),
    ]
    mixed_medians = [statistics.median(run() for _ in range(REPEATS)) for _, run in runs]
    print()
    print("each diff preceded by the bookTicker of the book it makes (the depth connection)")
    print(f"{'path':<42} {'us/frame':>8} {'speed vs baseline':>18}")
    for (name, _), micros in zip(runs, mixed_medians, strict=True):
        print(f"{name:<42} {micros:>8.2f} {mixed_medians[0] / micros:>17.2f}x")
    print()
    print(format_ingest(measure_ingest(snapshot, frames, INGEST_SECONDS)))


if __name__ == "__main__":
    main()
