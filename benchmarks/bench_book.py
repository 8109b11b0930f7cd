"""Book ingest: frame bytes -> parsed -> applied, per message, against a baseline.

Run: `python benchmarks/bench_book.py` (or `make bench`). Every path consumes the same
Binance-like diff frames (about 10 levels each); the baseline is orjson + a
sortedcontainers.SortedDict book, measured in the same run. Figures are medians of several
repetitions, so a noisy shared machine moves them less.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import orjson
from sortedcontainers import SortedDict

from hftui.engine.binance.rest import PublicRest
from hftui.engine.book import OrderBook
from hftui.engine.depth_sync import DepthSync
from hftui.engine.market_data import MarketData
from hftui.exchange.book import BUY, SELL, MatchingBook
from hftui.exchange.market import SyntheticMarket
from hftui.exchange.streams import DepthWindow
from hftui.exchange.symbols import spec_for

MESSAGES = 20_000
REPEATS = 7


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


def bench_sorteddict(snapshot: bytes, frames: list[bytes]) -> float:
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
    return (time.perf_counter_ns() - start) / len(frames) / 1000


def bench_hftui(snapshot: bytes, frames: list[bytes]) -> float:
    snap = orjson.loads(snapshot)
    sync = DepthSync(OrderBook("BTCUSDT", "0.10", "0.001"))
    last = snap["lastUpdateId"]
    sync.on_diff(last, last, last - 1, [], [])  # an empty event straddling the snapshot
    sync.on_snapshot(last, snap["bids"], snap["asks"])
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
    return elapsed


def bench_engine_path(snapshot: bytes, frames: list[bytes]) -> float:
    """The engine's real receive path: MarketData.on_frame on text frames as aiohttp hands
    them over (raw bytes parsed and applied in numba, symbol found by a byte search)."""
    snap = orjson.loads(snapshot)
    market = MarketData(
        PublicRest("http://127.0.0.1:9"), "ws://127.0.0.1:9", ["BTCUSDT"], "100ms", 5.0
    )
    feed = market.feeds[0]
    feed.sync = DepthSync(OrderBook("BTCUSDT", "0.10", "0.001"))
    last = snap["lastUpdateId"]
    feed.sync.on_diff(last, last, last - 1, [], [])
    feed.sync.on_snapshot(last, snap["bids"], snap["asks"])
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
    return elapsed


def measure(
    run: Callable[[bytes, list[bytes]], float], snapshot: bytes, frames: list[bytes]
) -> float:
    run(snapshot, frames[:500])  # warm: JIT, caches
    return statistics.median(run(snapshot, frames) for _ in range(REPEATS))


def main() -> None:
    snapshot, frames = make_frames(MESSAGES)
    levels = statistics.mean(
        len(orjson.loads(f)["b"]) + len(orjson.loads(f)["a"]) for f in frames[:2000]
    )
    size = statistics.mean(len(f) for f in frames)
    baseline = measure(bench_sorteddict, snapshot, frames)
    ours = measure(bench_hftui, snapshot, frames)
    engine = measure(bench_engine_path, snapshot, frames)
    print(
        f"book ingest: {MESSAGES} diffs, {levels:.1f} levels and {size:.0f} bytes per message, "
        f"median of {REPEATS}"
    )
    print(f"{'path':<44} {'us/msg':>8} {'speed vs baseline':>18}")
    rows = [
        ("orjson + SortedDict (baseline)", baseline),
        ("orjson + DepthSync.on_diff (string levels)", ours),
        ("engine: bytes parsed + applied in numba", engine),
    ]
    for name, micros in rows:
        print(f"{name:<44} {micros:>8.2f} {baseline / micros:>17.2f}x")


if __name__ == "__main__":
    main()
