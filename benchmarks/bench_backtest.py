"""Backtest speed: market-data events per second through the engine's pipeline.

Run: `python benchmarks/bench_backtest.py [--duration S] [--json]`. For each example
strategy, a synthetic backtest of BTCUSDT and ETHUSDT (seed 1): once end to end (the
synthetic market generating the frames as it goes, as `hftui backtest --synthetic` runs),
and once over the same frames generated beforehand, which is the pipeline alone (books,
paper matcher, risk, strategy, account), as a recording replays it minus the gzip reading.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

from hftui.backtest.runner import run_backtest
from hftui.backtest.synthetic import SyntheticSource
from hftui.config import Config

SYMBOLS = ("BTCUSDT", "ETHUSDT")


class FramesInMemory:
    """A synthetic run's frames, generated once, replayed from a list."""

    def __init__(self, source: SyntheticSource) -> None:
        self.source = source
        self.end_ns = source.end_ns
        self.items = list(source.frames())

    def describe(self) -> dict[str, object]:
        return self.source.describe()

    def exchange_info(self) -> dict[str, object]:
        return self.source.exchange_info()

    def frames(self) -> Iterator[tuple[int, str, bytes]]:
        return iter(self.items)


def measure(strategy: str, duration_s: float) -> dict[str, object]:
    config = Config()
    report, _, _ = run_backtest(config, strategy, SyntheticSource(SYMBOLS, 1, duration_s))
    end_to_end = report["timing"]
    memory = FramesInMemory(SyntheticSource(SYMBOLS, 1, duration_s))
    t0 = time.perf_counter()
    again, _, _ = run_backtest(config, strategy, memory)
    seconds = time.perf_counter() - t0
    assert again["summary"] == report["summary"]  # same frames, same trading
    assert isinstance(end_to_end, dict)
    events = end_to_end["events"]
    assert isinstance(events, int)
    return {
        "strategy": strategy,
        "events": events,
        "fills": report["summary"]["fills"],  # type: ignore[index]
        "end_to_end_s": end_to_end["seconds"],
        "end_to_end_events_per_s": end_to_end["events_per_s"],
        "pipeline_s": round(seconds, 3),
        "pipeline_events_per_s": round(events / seconds),
        "simulated_x_realtime": round(duration_s / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="simulated seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(name, args.duration) for name in ("momentum", "market_maker")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"backtest: {args.duration:g} s synthetic {' + '.join(SYMBOLS)}, seed 1")
    print(
        f"{'strategy':<14}{'events':>9}{'fills':>7}{'end-to-end ev/s':>17}"
        f"{'pipeline ev/s':>15}{'x realtime':>12}"
    )
    for r in rows:
        print(
            f"{r['strategy']:<14}{r['events']:>9}{r['fills']:>7}"
            f"{r['end_to_end_events_per_s']:>17,}{r['pipeline_events_per_s']:>15,}"
            f"{r['simulated_x_realtime']:>12}"
        )


if __name__ == "__main__":
    main()
