"""Synthetic market data for a backtest: the local exchange's own market, on a simulated clock.

The exchange's `Venue` (seeded `SyntheticMarket`s, diff-depth windows, bookTicker, aggTrade,
markPrice) is stepped exactly as its server steps it (20 ms of flow, depth flushed every
100 ms, marks every second), but by a loop instead of timers, and its stream events are
caught instead of sent. Timestamps come from the simulated clock, so the frames, byte for
byte, depend only on the seed, the symbols and the duration; they look like the demo's.

The output has the shape of a recording (`hftui.recording.read_recording`): an `info` line,
a `snapshot:<SYMBOL>` per symbol, then raw frames on the `depth` and `trades` channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import orjson

from hftui.exchange.market import MarketParams
from hftui.exchange.streams import StreamHub, depth_stream_name
from hftui.exchange.symbols import exchange_info, spec_for
from hftui.exchange.venue import Venue

__all__ = ["START_MS", "SyntheticSource"]

# 2026-01-01T00:00:00Z: a fixed start, so the frames carry the same times on every run.
START_MS: Final = 1_767_225_600_000
_STEP_MS: Final = 20  # the exchange server's flow step
_DEPTH_MS: Final = 100  # the engine's default diff-depth speed
_MARK_MS: Final = 1000  # markPrice@1s
_SNAPSHOT_LIMIT: Final = 1000


class _CaptureHub(StreamHub):
    """A hub with one subscriber: the backtest. It keeps each event as the frame a combined
    stream connection would receive, stamped with the simulated time."""

    def __init__(self, streams: set[str]) -> None:
        super().__init__()
        self.streams = streams
        self.now_ms = START_MS
        self.frames: list[tuple[str, bytes]] = []

    def wants(self, name: str) -> bool:
        return name in self.streams

    def publish(self, name: str, payload: dict[str, object]) -> None:
        if name not in self.streams:
            return
        payload["E"] = self.now_ms
        if payload.get("e") != "markPriceUpdate":  # there T is the next funding time
            payload["T"] = self.now_ms
        channel = "trades" if "@aggTrade" in name or "@markPrice" in name else "depth"
        self.frames.append((channel, orjson.dumps({"stream": name, "data": payload})))


class SyntheticSource:
    """`duration_s` seconds of the local exchange's market for `symbols`, from `seed`."""

    def __init__(
        self,
        symbols: tuple[str, ...],
        seed: int,
        duration_s: float,
        params: MarketParams | None = None,
        funding_interval_s: float = 8 * 3600.0,
    ) -> None:
        for symbol in symbols:
            spec_for(symbol)  # ValueError naming the listed symbols
        if duration_s <= 0:
            raise ValueError("the duration must be positive")
        if funding_interval_s <= 0:
            raise ValueError("the funding interval must be positive")
        self.symbols = symbols
        self.seed = seed
        self.duration_s = duration_s
        self.params = params
        self.funding_ms = int(funding_interval_s * 1000)
        self.start_ns = START_MS * 1_000_000
        self.end_ns = self.start_ns + int(duration_s * 1e9)

    def describe(self) -> dict[str, object]:
        return {
            "kind": "synthetic",
            "seed": self.seed,
            "duration_s": self.duration_s,
            "funding_interval_s": self.funding_ms / 1000,
        }

    def exchange_info(self) -> dict[str, object]:
        """The local exchange's exchangeInfo for the symbols (the filters risk checks)."""
        return exchange_info(self.symbols, START_MS)

    def frames(self) -> Iterator[tuple[int, str, bytes]]:
        """(receive time ns, channel, payload) in time order, as `read_recording` yields."""
        streams = set()
        for symbol in self.symbols:
            s = symbol.lower()
            streams |= {
                depth_stream_name(symbol, _DEPTH_MS),
                f"{s}@bookTicker",
                f"{s}@aggTrade",
                f"{s}@markPrice@1s",
            }
        hub = _CaptureHub(streams)
        venue = Venue(self.symbols, self.seed, hub, self.params)
        venue.next_funding_ms = START_MS + self.funding_ms
        info = {
            s: {"tickSize": v.spec.tick_size, "stepSize": v.spec.step_size}
            for s, v in venue.symbols.items()
        }
        yield self.start_ns, "info", orjson.dumps(info)
        for symbol in self.symbols:
            depth = venue.depth(symbol, _SNAPSHOT_LIMIT)
            snap = {k: depth[k] for k in ("lastUpdateId", "bids", "asks")}  # no wall clock
            yield self.start_ns, f"snapshot:{symbol}", orjson.dumps(snap)
        steps = int(self.duration_s * 1000) // _STEP_MS
        for k in range(1, steps + 1):
            now_ms = START_MS + k * _STEP_MS
            hub.now_ms = now_ms
            venue.step(_STEP_MS / 1000)
            if now_ms % _DEPTH_MS == 0:
                venue.flush_depth(_DEPTH_MS)
            if now_ms % _MARK_MS == 0:
                venue.publish_mark(1)
            if now_ms >= venue.next_funding_ms:
                venue.next_funding_ms += self.funding_ms
            now_ns = now_ms * 1_000_000
            for channel, frame in hub.frames:
                yield now_ns, channel, frame
            hub.frames.clear()
