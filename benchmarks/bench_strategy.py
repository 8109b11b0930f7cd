"""Strategy decision cost: `on_book` of the example strategies on a realistic book.

Run: `python benchmarks/bench_strategy.py [--json]`. Each strategy runs in a real host over a
real execution (observe mode, risk on), fed one book per step: a 20-level book a side whose
touch random-walks by whole ticks with sizes redrawn near the top, as the synthetic market
does. The host's own guard times each callback (`perf_counter_ns` around the hook, the
per-strategy LatencyHistogram the engine keeps), so the figures are what the engine sees;
exact p50/p99 come from the raw times here. Calls that emit an intent are included: they are
the decisions. They are also shown apart (`intent_calls`, `intent_p50_ns`, and `quiet_p99_ns`
over the calls that emitted none): the market maker's requotes are about 2 % of its calls,
so they set its p99. The host routes a hook's intents when it returns (risk, then execution's
"would send" in observe); that routing is timed apart as `route_p50_ns`/`route_p99_ns` per
call that emitted.

`--cold` writes 64 MiB between two books, so each call starts with empty caches, as in an
engine busy with other symbols and frames between two books of this one: the tail a live
engine shows (its strategies screen) is nearer this than the default run's.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from hftui.engine.book import OrderBook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test rig builds the host
from tests.unit.strategy.rig import BTC_MID, ETH_MID, INSTRUMENTS, make_rig

STEPS = 50_000
COLD_STEPS = 10_000
TARGET_P99_NS = 10_000


def books(
    symbol: str, mid: int, steps: int, seed: int = 7, trend_every: int = 0
) -> list[tuple[list[list[str]], list[list[str]]]]:
    """`trend_every` > 0: the walk drifts one way, then the other, switching every that many
    steps (so a trend follower enters and exits); 0: no drift."""
    rng = random.Random(seed)
    inst = INSTRUMENTS[symbol]
    scratch = OrderBook(symbol, inst.tick_size, inst.step_size)
    out = []
    bid = mid
    for step in range(steps):
        bid += rng.choice((-1, 0, 0, 0, 1))
        if trend_every and rng.random() < 0.3:
            bid += 1 if (step // trend_every) % 2 == 0 else -1
        bids = [
            [scratch.format_price(bid - k), scratch.format_qty(rng.randint(1, 400))]
            for k in range(20)
        ]
        asks = [
            [scratch.format_price(bid + 1 + k), scratch.format_qty(rng.randint(1, 400))]
            for k in range(20)
        ]
        out.append((bids, asks))
    return out


def measure(
    name: str,
    symbol: str,
    mid: int,
    steps: int = STEPS,
    trend_every: int = 0,
    cold: bool = False,
) -> dict[str, float]:
    """`cold`: write a 64 MiB array between two books, so every call finds the caches
    emptied, as a busy engine's other work leaves them between two books of a symbol."""
    rig = make_rig((name,))
    flush = np.ones(8 << 20) if cold else None
    inst = INSTRUMENTS[symbol]
    book = OrderBook(symbol, inst.tick_size, inst.step_size)
    rig.books[symbol] = book
    strategy = rig.host.slots[name].strategy
    assert strategy is not None
    frames = books(symbol, mid, steps, trend_every=trend_every)
    times = []
    emitted = []  # whether each call sent an intent to risk
    routes = []  # routing those intents, after the call
    host = rig.host
    clock = time.perf_counter_ns
    now = 1_700_000_000_000_000_000
    gc.collect()
    gc.disable()
    try:
        for bids, asks in frames:
            book.load_snapshot(bids, asks)
            if flush is not None:
                flush += 1.0
            now += 100_000_000 // 10  # 10 ms apart
            t0 = clock()
            strategy.on_book(symbol, book, now)
            t1 = clock()
            times.append(t1 - t0)
            if host.queue:
                host.route()
                routes.append(clock() - t1)
                emitted.append(True)
            else:
                emitted.append(False)
    finally:
        gc.enable()
    overhead = int(statistics.median(clock() - clock() for _ in range(1000)))
    net = [max(0, t - overhead) for t in times]
    quiet = sorted(t for t, e in zip(net, emitted, strict=True) if not e)
    deciding = sorted(t for t, e in zip(net, emitted, strict=True) if e)
    times = sorted(net)
    routes.sort()
    # The host's own view, through its guard.
    for bids, asks in frames[:5000]:
        book.load_snapshot(bids, asks)
        now += 10_000_000
        rig.host.on_book(symbol, book, now)
    hist = rig.host.slots[name].latency["book"]
    return {
        "p50_ns": times[len(times) // 2],
        "p99_ns": times[int(len(times) * 0.99)],
        "p99_9_ns": times[int(len(times) * 0.999)],
        "mean_ns": statistics.fmean(times),
        "quiet_p99_ns": quiet[int(len(quiet) * 0.99)] if quiet else 0,
        "intent_calls": len(deciding),
        "intent_p50_ns": deciding[len(deciding) // 2] if deciding else 0,
        "route_p50_ns": routes[len(routes) // 2] if routes else 0,
        "route_p99_ns": routes[int(len(routes) * 0.99)] if routes else 0,
        "host_p50_bucket_ns": hist.quantile_ns(0.5),
        "host_p99_bucket_ns": hist.quantile_ns(0.99),
        "intents": rig.host.intents,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--cold",
        action="store_true",
        help=f"empty the caches between books ({COLD_STEPS} books: it takes a while)",
    )
    args = parser.parse_args()
    steps = COLD_STEPS if args.cold else STEPS
    results = {
        # Trends of 30 s (books 10 ms apart): the momentum strategy enters and exits.
        "momentum": measure("momentum", "BTCUSDT", BTC_MID, steps, 3_000, args.cold),
        "market_maker": measure("market_maker", "ETHUSDT", ETH_MID, steps, 0, args.cold),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    caches = ", caches emptied between books" if args.cold else ""
    print(
        f"strategy on_book decision cost, {steps} books{caches} "
        f"(target p99 <= {TARGET_P99_NS / 1000:g} us)"
    )
    for name, r in results.items():
        print(
            f"  {name:<13} p50 {r['p50_ns'] / 1000:6.2f} us  p99 {r['p99_ns'] / 1000:6.2f} us  "
            f"p99.9 {r['p99_9_ns'] / 1000:6.2f} us  mean {r['mean_ns'] / 1000:6.2f} us  "
            f"intents {r['intents']}"
        )
        if r["intent_calls"]:
            print(
                f"  {'':<13} {r['intent_calls']} calls sent intents, p50 "
                f"{r['intent_p50_ns'] / 1000:.2f} us; the others p99 "
                f"{r['quiet_p99_ns'] / 1000:.2f} us; routing them after the call p50 "
                f"{r['route_p50_ns'] / 1000:.2f} us, p99 {r['route_p99_ns'] / 1000:.2f} us"
            )


if __name__ == "__main__":
    main()
