"""Feeding a recording through the engine's own market-data path, as fast as it goes.

The same `MarketData.on_frame` and `DepthSync` that run live consume the recorded frames;
the snapshots the live engine fetched come from the recording instead of REST. The report
says what a live session would have shown at the end, and how fast it went.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from hftui.engine.market_data import MarketData, SymbolSpec
from hftui.recording import read_recording

__all__ = ["ReplayReport", "replay"]


@dataclass(slots=True)
class ReplayReport:
    frames: int = 0
    snapshots: int = 0
    seconds: float = 0.0
    recorded_span_s: float = 0.0
    bad_frames: int = 0
    symbols: dict[str, dict[str, object]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "snapshots": self.snapshots,
            "seconds": round(self.seconds, 3),
            "frames_per_s": round(self.frames / self.seconds) if self.seconds else None,
            "recorded_span_s": round(self.recorded_span_s, 3),
            "bad_frames": self.bad_frames,
            "symbols": self.symbols,
        }


def replay(directory: Path, symbols: Sequence[str] = ()) -> ReplayReport:
    """Replay `directory`; `symbols` narrows it (default: every recorded symbol).

    Raises:
        FileNotFoundError: no recording there.
        ValueError: the recording does not start with the symbols' filters.
    """
    report = ReplayReport()
    market: MarketData | None = None
    now = [0]
    first_ns = 0
    started = time.perf_counter()
    for recv_ns, channel, payload in read_recording(directory):
        now[0] = recv_ns
        first_ns = first_ns or recv_ns
        if channel == "info":
            if market is None:
                info = orjson.loads(payload)
                wanted = [s for s in (symbols or info) if s in info]
                market = MarketData(None, "", wanted, "100ms", 5.0, clock_ns=lambda: now[0])
                market.fetch_snapshots = False
                market.apply_specs(
                    {s: SymbolSpec(s, info[s]["tickSize"], info[s]["stepSize"]) for s in wanted}
                )
            continue
        if market is None:
            raise ValueError(f"{directory}: the recording does not begin with symbol filters")
        if channel.startswith("snapshot:"):
            feed = market.feed(channel.split(":", 1)[1])
            if feed is not None and feed.sync is not None:
                snap = orjson.loads(payload)
                feed.sync.on_snapshot(snap["lastUpdateId"], snap["bids"], snap["asks"])
                report.snapshots += 1
            continue
        market.on_frame(payload, recv_ns)
        report.frames += 1
    report.seconds = time.perf_counter() - started
    report.recorded_span_s = (now[0] - first_ns) / 1e9
    if market is not None:
        report.bad_frames = market.bad_frames
        for feed in market.feeds:
            sync = feed.sync
            if sync is None:
                continue
            book = sync.book
            bid, ask = book.best_bid(), book.best_ask()
            report.symbols[feed.symbol] = {
                "synced": sync.synced,
                "last_update_id": sync.last_update_id,
                "gaps": sync.gaps,
                "resyncs": sync.resyncs,
                "best_bid": book.format_price(bid) if bid >= 0 else None,
                "best_ask": book.format_price(ask) if ask >= 0 else None,
                "trades": feed.trade_count,
            }
    return report
