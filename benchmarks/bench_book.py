"""Book ingest: frame bytes -> parsed -> applied, per message, against a baseline.

Run: `python benchmarks/bench_book.py` (or `make bench`). Every path consumes the same
Binance-like diff frames (about 10 levels each) from the local exchange's synthetic market;
the baseline is orjson + a sortedcontainers.SortedDict book, measured in the same run. numba
kernels are warmed before timing. Figures are medians of several repetitions, so a noisy
shared machine moves them less, and every book is checked against the baseline's top 20
levels afterwards. A second table shows why string levels are read by one numba call over
orjson's re-encoding rather than by the pure-Python reader.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
from sortedcontainers import SortedDict

from hftui.engine.binance.rest import PublicRest
from hftui.engine.book import OrderBook, decimal_units
from hftui.engine.depth_sync import DepthSync
from hftui.engine.market_data import MarketData
from hftui.engine.warmup import warm_kernels
from hftui.exchange.book import BUY, SELL, MatchingBook
from hftui.exchange.market import SyntheticMarket
from hftui.exchange.streams import DepthWindow
from hftui.exchange.symbols import spec_for

MESSAGES = 20_000
REPEATS = 7
TOP = 20
TICK, STEP = "0.10", "0.001"

Top = tuple[list[tuple[float, float]], list[tuple[float, float]]]


def make_frames(count: int, seed: int = 1) -> tuple[bytes, list[bytes]]:
    """A snapshot and `count` chained diff frames from the local exchange's synthetic market,
    batched to about 10 changed levels per frame, as Binance's 100 ms stream carries."""
    spec = spec_for("BTCUSDT")
    book = MatchingBook()
    market = SyntheticMarket(spec, seed, book)
    window = DepthWindow("BTCUSDT", 100, prev_final=book.update_id)
    book.listener = lambda side, tick, total, uid: window.record(side == BUY, tick, total, uid)
    snapshot = {
        "lastUpdateId": book.update_id,
        "bids": [[spec.format_price(t), spec.format_qty(q)] for t, q in book.depth(BUY, 1000)],
        "asks": [[spec.format_price(t), spec.format_qty(q)] for t, q in book.depth(SELL, 1000)],
    }
    frames = []
    while len(frames) < count:
        market.step(0.005)
        if len(window.bids) + len(window.asks) < 10:
            continue
        event = window.take()
        assert event is not None
        first, final, prev, bids, asks = event
        frames.append(
            orjson.dumps(
                {
                    "e": "depthUpdate",
                    "E": 1,
                    "T": 1,
                    "s": "BTCUSDT",
                    "U": first,
                    "u": final,
                    "pu": prev,
                    "b": [[spec.format_price(t), spec.format_qty(q)] for t, q in bids.items()],
                    "a": [[spec.format_price(t), spec.format_qty(q)] for t, q in asks.items()],
                }
            )
        )
    return orjson.dumps(snapshot), frames


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


def bench_sorteddict(snapshot: bytes, frames: list[bytes]) -> tuple[float, Top]:
    snap = orjson.loads(snapshot)
    bids: SortedDict = SortedDict({float(p): float(q) for p, q in snap["bids"]})
    asks: SortedDict = SortedDict({float(p): float(q) for p, q in snap["asks"]})
    start = time.perf_counter_ns()
    for frame in frames:
        event = orjson.loads(frame)
        for side, levels in ((bids, event["b"]), (asks, event["a"])):
            for price, qty in levels:
                size = float(qty)
                if size == 0.0:
                    side.pop(float(price), None)
                else:
                    side[float(price)] = size
        bids.peekitem(-1)  # read the top, as a strategy would every message
        asks.peekitem(0)
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    return elapsed, (list(reversed(bids.items()[-TOP:])), list(asks.items()[:TOP]))


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
    """The engine's receive path: MarketData.on_frame on text frames as aiohttp hands them
    over (symbol found by a byte search, the frame parsed and applied in numba)."""
    market = MarketData(
        PublicRest("http://127.0.0.1:9"), "ws://127.0.0.1:9", ["BTCUSDT"], "100ms", 5.0
    )
    feed = market.feeds[0]
    feed.sync = synced(orjson.loads(snapshot))
    book = feed.sync.book
    texts = [f.decode() for f in frames]
    start = time.perf_counter_ns()
    for text in texts:
        market.on_frame(text, 0)
        book.best_bid()
        book.best_ask()
    elapsed = (time.perf_counter_ns() - start) / len(frames) / 1000
    if not feed.sync.synced or market.bad_frames:
        raise RuntimeError("benchmark book fell out of sync: the figures would be meaningless")
    return elapsed, top_of(book)


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


if __name__ == "__main__":
    main()
