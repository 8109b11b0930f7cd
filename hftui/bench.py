"""Benchmarks behind `hftui bench`: our path beside a plainly written baseline, one run.

`hftui bench ingest` feeds the same Binance-like diff-depth frames (about 10 levels each, from
the local exchange's synthetic market) to the engine's receive path (frame bytes in, book
applied, top read) and to a naive orjson + sortedcontainers book. Both are measured in the
same process and the same run, in alternating rounds, so a machine that slows down mid-run
skews neither in particular:

* throughput: messages per second over every frame with no timer inside, taken as the receive
  loop takes frames the socket has queued: bursts of BURST (`MarketData.on_frames`; the
  baseline loops over them), the touch read after each (median of the rounds). Throughput
  counts when frames queue up; `msgs_per_s_alone` is the same with every frame alone;
* latency: one `perf_counter_ns` pair around every message arriving alone
  (`MarketData.on_frame`, the touch read after it), minus the cost of a bare pair measured
  in the same run; p50, p99 and p99.9 over the samples of every round.

After every run both books are compared level by level; a difference raises `BenchmarkError`,
since figures from books that disagree would compare different work.

Frame generation needs the local exchange's market model, so this module imports
`hftui.exchange` as well as `hftui.engine`; only the CLI's `bench` command loads it.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple, TextIO

import orjson

__all__ = [
    "BENCHMARKS",
    "BenchmarkError",
    "IngestReport",
    "PathFigures",
    "baseline_path",
    "engine_path",
    "make_frames",
    "measure_ingest",
    "run_bench",
    "run_ingest",
]

BENCHMARKS: Final[dict[str, str]] = {
    "ingest": "book ingest: MarketData.on_frames against orjson + SortedDict on the same frames",
}

DEFAULT_MESSAGES: Final = 20_000
DEFAULT_SECONDS: Final = 5.0
MIN_MESSAGES: Final = 100
MIN_ROUNDS: Final = 3
SYMBOL: Final = "BTCUSDT"
# Frames per burst for throughput. Here all are one book's diffs (a receive loop that stalled,
# a replay); live, the depth connection's queue mixes them with bookTickers, which the same
# kernel call takes (benchmarks/bench_book.py measures that stream).
BURST: Final = 64
TICK, STEP = "0.10", "0.001"
_WARM_FRAMES: Final = 500

# Both sides of a book, best first, as (price, qty) floats: the form the baseline holds.
Book = tuple[list[tuple[float, float]], list[tuple[float, float]]]


class BenchmarkError(RuntimeError):
    """The benchmark's own checks failed: its figures would be meaningless."""


@dataclass(frozen=True, slots=True)
class PathFigures:
    msgs_per_s: float  # in bursts of BURST
    p50_ns: int
    p99_ns: int
    p999_ns: int
    msgs_per_s_alone: float  # every frame alone

    def as_dict(self) -> dict[str, float | int]:
        return {
            "msgs_per_s": round(self.msgs_per_s, 1),
            "p50_ns": self.p50_ns,
            "p99_ns": self.p99_ns,
            "p999_ns": self.p999_ns,
            "msgs_per_s_alone": round(self.msgs_per_s_alone, 1),
        }


@dataclass(frozen=True, slots=True)
class IngestReport:
    ours: PathFigures
    baseline: PathFigures
    frames: int
    levels_per_msg: float
    bytes_per_msg: float
    rounds: int
    timer_ns: int  # the median cost of a bare perf_counter_ns pair, taken off every sample

    @property
    def ratio(self) -> float:
        """Throughput of ours over the baseline's: 2.0 means twice as many messages/s."""
        return self.ours.msgs_per_s / self.baseline.msgs_per_s

    def as_dict(self) -> dict[str, object]:
        return {
            "ours": self.ours.as_dict(),
            "baseline": self.baseline.as_dict(),
            "ratio": round(self.ratio, 3),
            "frames": self.frames,
            "levels_per_msg": round(self.levels_per_msg, 2),
            "bytes_per_msg": round(self.bytes_per_msg, 1),
            "rounds": self.rounds,
            "burst": BURST,
            "timer_ns": self.timer_ns,
        }


def make_frames(count: int, seed: int = 1) -> tuple[bytes, list[bytes]]:
    """A snapshot and `count` chained diff frames from the local exchange's synthetic market,
    batched to about 10 changed levels per frame, as Binance's 100 ms stream carries."""
    from hftui.exchange.book import BUY, SELL, MatchingBook
    from hftui.exchange.market import SyntheticMarket
    from hftui.exchange.streams import DepthWindow
    from hftui.exchange.symbols import spec_for

    spec = spec_for(SYMBOL)
    book = MatchingBook()
    market = SyntheticMarket(spec, seed, book)
    window = DepthWindow(SYMBOL, 100, prev_final=book.update_id)
    book.listener = lambda side, tick, total, uid: window.record(side == BUY, tick, total, uid)
    snapshot = {
        "lastUpdateId": book.update_id,
        "bids": [[spec.format_price(t), spec.format_qty(q)] for t, q in book.depth(BUY, 1000)],
        "asks": [[spec.format_price(t), spec.format_qty(q)] for t, q in book.depth(SELL, 1000)],
    }
    frames: list[bytes] = []
    while len(frames) < count:
        market.step(0.005)
        if len(window.bids) + len(window.asks) < 10:
            continue
        event = window.take()
        if event is None:
            raise BenchmarkError("the synthetic market's depth window gave no event")
        first, final, prev, bids, asks = event
        frames.append(
            orjson.dumps(
                {
                    "e": "depthUpdate",
                    "E": 1,
                    "T": 1,
                    "s": SYMBOL,
                    "U": first,
                    "u": final,
                    "pu": prev,
                    "b": [[spec.format_price(t), spec.format_qty(q)] for t, q in bids.items()],
                    "a": [[spec.format_price(t), spec.format_qty(q)] for t, q in asks.items()],
                }
            )
        )
    return orjson.dumps(snapshot), frames


class Path(NamedTuple):
    """A path, made fresh from the snapshot for every run (diffs chain, so a book is used
    once): handlers for one frame and for a burst, each reading the touch after, and a
    function returning the whole book when the run is over."""

    handle: Callable[[bytes], None]
    handle_burst: Callable[[list[bytes]], None]
    book: Callable[[], Book]


def baseline_path(snapshot: bytes) -> Path:
    """The naive way: orjson.loads every frame into a SortedDict book keyed by float price."""
    from sortedcontainers import SortedDict

    snap = orjson.loads(snapshot)
    bids = SortedDict({float(p): float(q) for p, q in snap["bids"]})
    asks = SortedDict({float(p): float(q) for p, q in snap["asks"]})

    def apply(frame: bytes) -> None:
        event = orjson.loads(frame)
        for price, qty in event["b"]:
            size = float(qty)
            if size == 0.0:
                bids.pop(float(price), None)
            else:
                bids[float(price)] = size
        for price, qty in event["a"]:
            size = float(qty)
            if size == 0.0:
                asks.pop(float(price), None)
            else:
                asks[float(price)] = size

    def handle(frame: bytes) -> None:
        apply(frame)
        bids.peekitem(-1)  # read the touch, as a strategy would on every message
        asks.peekitem(0)

    def handle_burst(frames: list[bytes]) -> None:
        for frame in frames:
            apply(frame)
        bids.peekitem(-1)
        asks.peekitem(0)

    def book() -> Book:
        return list(reversed(bids.items())), list(asks.items())

    return Path(handle, handle_burst, book)


def engine_path(snapshot: bytes) -> Path:
    """The engine's receive path: `MarketData.on_frame` on a frame's bytes (symbol found by
    a byte search, the frame parsed and applied in numba), or `MarketData.on_frames` on a
    burst (its run of diffs parsed and applied in one numba call), then the touch read."""
    from hftui.engine.book import OrderBook
    from hftui.engine.depth_sync import DepthSync
    from hftui.engine.market_data import MarketData

    snap = orjson.loads(snapshot)
    sync = DepthSync(OrderBook(SYMBOL, TICK, STEP))
    last = snap["lastUpdateId"]
    sync.on_diff(last, last, last - 1, [], [])  # an empty event straddling the snapshot
    sync.on_snapshot(last, snap["bids"], snap["asks"])
    if not sync.synced:
        raise BenchmarkError("the engine's book did not sync on the benchmark's snapshot")
    market = MarketData(None, "ws://127.0.0.1:9", [SYMBOL], "100ms", 5.0)
    feed = market.feeds[0]
    feed.sync = sync
    sync.time_frames(feed.ingest, feed.feed_delay)  # as the engine does on the wall clock
    ours = sync.book
    on_frame, on_frames = market.on_frame, market.on_frames

    def handle(frame: bytes) -> None:
        on_frame(frame, 0)
        ours.best_bid()
        ours.best_ask()

    def handle_burst(frames: list[bytes]) -> None:
        on_frames(frames, 0)
        ours.best_bid()
        ours.best_ask()

    def book() -> Book:
        if not sync.synced or market.bad_frames:
            raise BenchmarkError(
                f"the engine's book fell out of sync ({market.bad_frames} bad frames)"
            )
        bids, asks = ours.levels()
        return (
            [(float(ours.format_price(t)), float(ours.format_qty(q))) for t, q in bids],
            [(float(ours.format_price(t)), float(ours.format_qty(q))) for t, q in asks],
        )

    return Path(handle, handle_burst, book)


def timer_cost_ns(samples: int = 20_000) -> int:
    """The median cost of a bare `perf_counter_ns` pair, shaped like the latency loop."""
    clock = time.perf_counter_ns
    costs = [0] * samples
    for i in range(samples):
        start = clock()
        costs[i] = clock() - start
    return int(statistics.median(costs))


def _throughput(
    make: Callable[[bytes], Path], snapshot: bytes, frames: list[bytes], alone: bool
) -> tuple[float, Book]:
    path = make(snapshot)
    bursts = [frames[i : i + BURST] for i in range(0, len(frames), BURST)]
    handle, handle_burst = path.handle, path.handle_burst
    gc.collect()  # each run starts from the same heap, whatever ran before it
    clock = time.perf_counter_ns
    if alone:
        start = clock()
        for frame in frames:
            handle(frame)
    else:
        start = clock()
        for burst in bursts:
            handle_burst(burst)
    elapsed = clock() - start
    return len(frames) * 1e9 / max(elapsed, 1), path.book()


def _latency(
    make: Callable[[bytes], Path], snapshot: bytes, frames: list[bytes], timer_ns: int
) -> tuple[list[int], Book]:
    handle, _, book = make(snapshot)
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * len(frames)
    for i, frame in enumerate(frames):
        start = clock()
        handle(frame)
        samples[i] = clock() - start
    return [max(s - timer_ns, 0) for s in samples], book()


def percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def _figures(rates: list[float], alone: list[float], samples: list[int]) -> PathFigures:
    samples.sort()
    return PathFigures(
        msgs_per_s=statistics.median(rates),
        p50_ns=percentile(samples, 0.50),
        p99_ns=percentile(samples, 0.99),
        p999_ns=percentile(samples, 0.999),
        msgs_per_s_alone=statistics.median(alone),
    )


def _check(label: str, ours: Book, baseline: Book) -> None:
    for side, mine, theirs in (("bids", ours[0], baseline[0]), ("asks", ours[1], baseline[1])):
        if mine != theirs:
            at = next(
                (k for k, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
                min(len(mine), len(theirs)),
            )
            raise BenchmarkError(
                f"{label}: the engine's {side} differ from the baseline's at level {at} "
                f"({len(mine)} levels against {len(theirs)})"
            )


def run_ingest(messages: int = DEFAULT_MESSAGES, seconds: float = DEFAULT_SECONDS) -> IngestReport:
    """Generate `messages` frames, then measure both paths on them (see `measure_ingest`)."""
    from hftui.engine.warmup import warm_kernels

    if messages < MIN_MESSAGES:
        raise ValueError(f"--messages must be at least {MIN_MESSAGES}")
    if seconds < 0:
        raise ValueError("--seconds must not be negative")
    warm_kernels()
    snapshot, frames = make_frames(messages)
    return measure_ingest(snapshot, frames, seconds)


def measure_ingest(snapshot: bytes, frames: list[bytes], seconds: float) -> IngestReport:
    """At least MIN_ROUNDS rounds, more while `seconds` last; each round runs both paths for
    throughput, then both for latency, and compares their books after each pair."""
    paths: list[tuple[str, Callable[[bytes], Path]]] = [
        ("ours", engine_path),
        ("baseline", baseline_path),
    ]
    for _, make in paths:  # the first calls of either path pay for caches and lazy imports
        path = make(snapshot)
        for frame in frames[: _WARM_FRAMES // 2]:
            path.handle(frame)
        path.handle_burst(frames[_WARM_FRAMES // 2 : _WARM_FRAMES])
    timer_ns = timer_cost_ns()
    rates: dict[str, list[float]] = {name: [] for name, _ in paths}
    alone: dict[str, list[float]] = {name: [] for name, _ in paths}
    samples: dict[str, list[int]] = {name: [] for name, _ in paths}
    rounds = 0
    deadline = time.monotonic() + seconds
    while rounds < MIN_ROUNDS or time.monotonic() < deadline:
        # Alternate which path goes first, so neither always runs on a machine the other
        # just warmed (or heated).
        order = paths if rounds % 2 == 0 else paths[::-1]
        books: dict[str, Book] = {}
        for name, make in order:
            rate, books[name] = _throughput(make, snapshot, frames, alone=False)
            rates[name].append(rate)
        _check(f"round {rounds + 1}, throughput run", books["ours"], books["baseline"])
        for name, make in order:
            rate, books[name] = _throughput(make, snapshot, frames, alone=True)
            alone[name].append(rate)
        _check(f"round {rounds + 1}, one-at-a-time run", books["ours"], books["baseline"])
        for name, make in order:
            taken, books[name] = _latency(make, snapshot, frames, timer_ns)
            samples[name].extend(taken)
        _check(f"round {rounds + 1}, latency run", books["ours"], books["baseline"])
        rounds += 1
    events = [orjson.loads(f) for f in frames]
    return IngestReport(
        ours=_figures(rates["ours"], alone["ours"], samples["ours"]),
        baseline=_figures(rates["baseline"], alone["baseline"], samples["baseline"]),
        frames=len(frames),
        levels_per_msg=statistics.mean(len(e["b"]) + len(e["a"]) for e in events),
        bytes_per_msg=statistics.mean(len(f) for f in frames),
        rounds=rounds,
        timer_ns=timer_ns,
    )


def format_ingest(report: IngestReport) -> str:
    """The readable table `hftui bench ingest` prints."""
    lines = [
        f"book ingest: {report.frames} diffs, {report.levels_per_msg:.1f} levels and "
        f"{report.bytes_per_msg:.0f} bytes per message, {report.rounds} rounds; both books "
        "agree level by level",
        f"msgs/s: in bursts of {BURST} queued frames (on_frames), and every frame alone "
        "(on_frame); latency: per frame alone,",
        f"timer cost ({report.timer_ns} ns per perf_counter_ns pair) subtracted",
        "",
        f"{'path':<30} {'msgs/s':>12} {'alone':>12} {'p50 ns':>9} {'p99 ns':>9} {'p99.9 ns':>9}",
    ]
    for label, figures in (
        ("ours: MarketData", report.ours),
        ("baseline: orjson + SortedDict", report.baseline),
    ):
        lines.append(
            f"{label:<30} {figures.msgs_per_s:>12,.0f} {figures.msgs_per_s_alone:>12,.0f} "
            f"{figures.p50_ns:>9,} {figures.p99_ns:>9,} {figures.p999_ns:>9,}"
        )
    lines.append("")
    lines.append(
        f"ratio (ours msgs/s / baseline msgs/s): {report.ratio:.2f}x; "
        f"p50 latency {report.baseline.p50_ns / max(report.ours.p50_ns, 1):.2f}x lower"
    )
    return "\n".join(lines)


def run_bench(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`hftui bench [NAME]`: exit status 0, 1 when a benchmark's checks fail, 2 on bad
    usage. Without a name, run the whole suite (`hftui.bench_suite`); `list` lists them,
    `compare` sets saved runs side by side, `ingest` prints its own table or JSON."""
    from hftui import bench_suite

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    name = getattr(args, "bench", None)
    if name == "list":
        return bench_suite.list_benchmarks(out)
    if name == "compare":
        return bench_suite.run_compare(args, out, err)
    if name is None or (name in bench_suite.SUITE and name != "ingest"):
        return bench_suite.run_suite(args, out, err)
    if name != "ingest":
        err.write(f"hftui: no benchmark {name!r}; known: {', '.join(bench_suite.SUITE)}\n")
        return 2
    try:
        report = run_ingest(
            DEFAULT_MESSAGES if args.messages is None else args.messages,
            DEFAULT_SECONDS if args.seconds is None else args.seconds,
        )
    except ValueError as exc:
        err.write(f"hftui: {exc}\n")
        return 2
    except BenchmarkError as exc:
        err.write(f"hftui: benchmark failed: {exc}\n")
        return 1
    if args.json:
        out.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(format_ingest(report) + "\n")
    return 0
