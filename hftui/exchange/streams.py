"""Market streams: diff-depth batching per speed, and fan-out to subscribed connections.

Owns: per symbol and speed the changes of the current window and the `u` of the last event
sent (the next event's `pu`), and the map of stream name -> subscribers. Every subscriber of
one stream name sees the same events; a slow subscriber is dropped, never waited for.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Final

import orjson

from hftui.exchange.faults import Faults

__all__ = [
    "DEPTH_SPEEDS_MS",
    "DepthWindow",
    "StreamHub",
    "Subscriber",
    "depth_stream_name",
    "parse_stream",
]

log = logging.getLogger(__name__)

DEPTH_SPEEDS_MS: Final = (100, 250, 500)
_QUEUE_LIMIT: Final = 4096  # frames buffered per connection before it is dropped as too slow

_STREAM_RE: Final = re.compile(
    r"^(?P<symbol>[a-z0-9]+)@(?P<kind>depth(?:5|10|20)?(?:@(?:100ms|250ms|500ms))?"
    r"|bookTicker|aggTrade|kline_1m|markPrice(?:@1s|@3s)?)$"
)


def depth_stream_name(symbol: str, speed_ms: int) -> str:
    base = f"{symbol.lower()}@depth"
    return base if speed_ms == 250 else f"{base}@{speed_ms}ms"


def parse_stream(name: str) -> tuple[str, str] | None:
    """(SYMBOL, kind) of a stream name this exchange serves, or None."""
    match = _STREAM_RE.match(name)
    if match is None:
        return None
    return match["symbol"].upper(), match["kind"]


@dataclass(slots=True)
class DepthWindow:
    """Changes of one symbol collected for one diff-depth speed."""

    symbol: str
    speed_ms: int
    first_id: int = 0
    last_id: int = 0
    prev_final: int = 0  # u of the previous event of this speed
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def record(self, is_bid: bool, tick: int, total: int, update_id: int) -> None:
        if not self.first_id:
            self.first_id = update_id
        self.last_id = update_id
        (self.bids if is_bid else self.asks)[tick] = total

    def take(self) -> tuple[int, int, int, dict[int, int], dict[int, int]] | None:
        """Close the window: (U, u, pu, bids, asks), or None if nothing changed."""
        if not self.first_id:
            return None
        event = (self.first_id, self.last_id, self.prev_final, self.bids, self.asks)
        self.prev_final = self.last_id
        self.first_id = self.last_id = 0
        self.bids, self.asks = {}, {}
        return event


class Subscriber:
    """One WebSocket connection's side of the fan-out: its streams and its send queue."""

    def __init__(self, combined: bool) -> None:
        self.combined = combined
        self.streams: set[str] = set()
        # (frame, monotonic time not to send before); None tells the sender to close.
        self.queue: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue(_QUEUE_LIMIT)
        self.dropped = False

    def offer(self, frame: str, not_before: float = 0.0) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait((frame, not_before))
        except asyncio.QueueFull:
            self.dropped = True  # the connection's sender sees None and closes
            log.warning("subscriber too slow; dropping it")
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class StreamHub:
    """Stream name -> subscribers; serializes each event once per wrapping."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self.faults = faults or Faults()

    def subscribe(self, sub: Subscriber, name: str) -> None:
        sub.streams.add(name)
        self._subscribers.setdefault(name, set()).add(sub)

    def unsubscribe(self, sub: Subscriber, name: str) -> None:
        sub.streams.discard(name)
        subs = self._subscribers.get(name)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[name]

    def drop(self, sub: Subscriber) -> None:
        for name in list(sub.streams):
            self.unsubscribe(sub, name)

    def wants(self, name: str) -> bool:
        return name in self._subscribers

    def publish(self, name: str, payload: dict[str, object]) -> None:
        subs = self._subscribers.get(name)
        if not subs or self.faults.is_stalled(name):
            return
        delay = self.faults.delay_for(name) if self.faults.delayed else 0.0
        not_before = time.monotonic() + delay if delay else 0.0
        raw: str | None = None
        wrapped: str | None = None
        for sub in list(subs):
            if sub.combined:
                if wrapped is None:
                    wrapped = orjson.dumps({"stream": name, "data": payload}).decode()
                sub.offer(wrapped, not_before)
            else:
                if raw is None:
                    raw = orjson.dumps(payload).decode()
                sub.offer(raw, not_before)
