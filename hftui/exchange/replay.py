"""Replaying a recording as the exchange's market, at 1x or faster.

Owns: the recorded events of one symbol and the replay clock. The recorded venue's book is
authoritative for the *venue's* liquidity: each recorded level sets the non-participant
quantity at that price, while participants' orders keep their places in the same queues.
Recorded trades take liquidity from the front of the queue, so a participant at the front is
filled by them, and recorded liquidity arriving across a participant's price trades with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from hftui.exchange.book import BUY, SELL, Fill, MatchingBook, RestingOrder
from hftui.exchange.symbols import SymbolSpec
from hftui.recording import read_recording

__all__ = ["RecordedEvent", "ReplayMarket", "load_recording"]

log = logging.getLogger(__name__)

TradeListener = Callable[[int, list[Fill]], None]
Levels = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    time_ns: int
    kind: str  # "book": levels to set; "reset": a snapshot (levels not in it go); "trade"
    bids: Levels
    asks: Levels
    trade: tuple[int, int, bool] | None = None  # tick, lots, buyer is maker


def _levels(spec: SymbolSpec, raw: Iterable[list[str]]) -> Levels:
    return [(spec.to_ticks(p), spec.to_lots(q)) for p, q in raw]


def load_recording(path: Path, specs: dict[str, SymbolSpec]) -> dict[str, list[RecordedEvent]]:
    """Every event of the listed symbols, in order, with prices on the exchange's grid.

    Raises:
        FileNotFoundError: no recording at `path`.
        ValueError: a recorded symbol's prices do not fit the listed grid, or no snapshot.
    """
    events: dict[str, list[RecordedEvent]] = {s: [] for s in specs}
    for time_ns, channel, payload in read_recording(path):
        if channel.startswith("snapshot:"):
            symbol = channel.split(":", 1)[1]
            spec = specs.get(symbol)
            if spec is not None:
                snap = orjson.loads(payload)
                events[symbol].append(
                    RecordedEvent(
                        time_ns, "reset", _levels(spec, snap["bids"]), _levels(spec, snap["asks"])
                    )
                )
            continue
        if channel == "info":
            continue
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        data = message.get("data", message) if isinstance(message, dict) else None
        if not isinstance(data, dict):
            continue
        spec = specs.get(str(data.get("s")))
        if spec is None:
            continue
        kind = data.get("e")
        if kind == "depthUpdate":
            events[spec.symbol].append(
                RecordedEvent(time_ns, "book", _levels(spec, data["b"]), _levels(spec, data["a"]))
            )
        elif kind == "aggTrade":
            trade = (spec.to_ticks(data["p"]), spec.to_lots(data["q"]), bool(data["m"]))
            events[spec.symbol].append(RecordedEvent(time_ns, "trade", [], [], trade))
    for symbol, items in events.items():
        if not any(e.kind == "reset" for e in items):
            raise ValueError(f"{path}: no depth snapshot of {symbol} in the recording")
    return events


class ReplayMarket:
    """Drives one symbol's book from recorded events; `step` advances the replay clock."""

    def __init__(
        self,
        spec: SymbolSpec,
        book: MatchingBook,
        events: list[RecordedEvent],
        speed: float = 1.0,
        on_trade: TradeListener | None = None,
    ) -> None:
        self.spec = spec
        self.book = book
        self.on_trade = on_trade
        self.speed = speed
        start = next(i for i, e in enumerate(events) if e.kind == "reset")
        self._events = events[start:]  # diffs before the first snapshot have no base
        self._t0 = self._events[0].time_ns
        self._next = 0
        self._clock_ns = 0.0
        self._next_id = 1
        self.fair = 0.0
        self.finished = False
        self._apply(self._events[0])
        self._next = 1

    def step(self, dt_s: float) -> None:
        self._clock_ns += dt_s * self.speed * 1e9
        events = self._events
        while self._next < len(events) and events[self._next].time_ns - self._t0 <= self._clock_ns:
            self._apply(events[self._next])
            self._next += 1
        if self._next >= len(events) and not self.finished:
            self.finished = True
            log.info("replay finished", extra={"symbol": self.spec.symbol})

    def _apply(self, event: RecordedEvent) -> None:
        if event.kind == "trade" and event.trade is not None:
            tick, lots, buyer_maker = event.trade
            taker = SELL if buyer_maker else BUY
            fills = self.book.take(taker, lots, tick)
            if fills and self.on_trade is not None:
                self.on_trade(taker, fills)
        else:
            if event.kind == "reset":
                self._clear_missing(event)
            for tick, lots in event.bids:
                self._set(BUY, tick, lots)
            for tick, lots in event.asks:
                self._set(SELL, tick, lots)
        bid, ask = self.book.best(BUY), self.book.best(SELL)
        if bid is not None and ask is not None:
            self.fair = (bid + ask) / 2

    def _clear_missing(self, event: RecordedEvent) -> None:
        for side, levels in ((BUY, event.bids), (SELL, event.asks)):
            keep = {tick for tick, _ in levels}
            for tick, _ in self.book.depth(side, 100_000):
                if tick not in keep:
                    self._set(side, tick, 0)

    def _set(self, side: int, tick: int, lots: int) -> None:
        # Make the venue's own (non-participant) quantity at this level equal `lots`.
        queue = list(self.book.orders_at(side, tick))
        venue_lots = sum(o.lots for o in queue if o.owner is None)
        if lots < venue_lots:
            excess = venue_lots - lots
            for order in reversed(queue):  # leaving liquidity: from the back of the queue
                if excess <= 0:
                    break
                if order.owner is None:
                    excess -= self.book.reduce(order.order_id, excess)
        elif lots > venue_lots:
            extra = lots - venue_lots
            # Arriving liquidity first trades with any participant order it crosses.
            fills = self.book.take(side, extra, tick)
            if fills and self.on_trade is not None:
                self.on_trade(side, fills)
            extra -= sum(f.lots for f in fills)
            if extra > 0:
                self.book.add(RestingOrder(self._next_id, None, side, tick, extra))
                self._next_id += 1
