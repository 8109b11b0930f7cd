"""The exchange's own order book: price-time priority, one FIFO queue of orders per level.

Owns: every resting order of one symbol (synthetic liquidity and, later, participants'),
the level totals, and the symbol's update id, which increments on every change of any
level total. Each change is reported to a listener so the streams can batch them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, cast

from sortedcontainers import SortedDict

__all__ = ["BUY", "SELL", "STP_MODES", "Fill", "Match", "MatchingBook", "RestingOrder"]

BUY: Final = 0
SELL: Final = 1

# selfTradePreventionMode values: what happens when a taker meets its own account's order.
STP_MODES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")

# (side, tick, new total lots, update id) after every level change
LevelListener = Callable[[int, int, int, int], None]


@dataclass(slots=True)
class RestingOrder:
    order_id: int
    owner: str | None  # None: synthetic liquidity
    side: int
    tick: int
    lots: int


@dataclass(frozen=True, slots=True)
class Fill:
    maker: RestingOrder  # state after the fill
    tick: int
    lots: int


@dataclass(slots=True)
class Match:
    """What one incoming order did: its fills, and what self-trade prevention expired."""

    fills: list[Fill] = field(default_factory=list)
    expired: list[RestingOrder] = field(default_factory=list)  # own makers taken off the book
    taker_expired: bool = False  # the taker's matching ended on one of its own orders


class MatchingBook:
    """Bids and asks as SortedDicts of tick -> FIFO of resting orders."""

    def __init__(self, listener: LevelListener | None = None) -> None:
        self._sides: tuple[SortedDict, SortedDict] = (SortedDict(), SortedDict())
        self._totals: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._orders: dict[int, RestingOrder] = {}
        self.update_id = 0
        self.listener = listener

    # ---- queries --------------------------------------------------------------------------

    def best(self, side: int) -> int | None:
        levels = self._sides[side]
        if not levels:
            return None
        return int(levels.peekitem(-1 if side == BUY else 0)[0])

    def total(self, side: int, tick: int) -> int:
        return self._totals[side].get(tick, 0)

    def depth(self, side: int, limit: int) -> list[tuple[int, int]]:
        """Best `limit` levels of a side as (tick, lots), best first."""
        keys = self._sides[side].keys()
        ticks = reversed(keys[-limit:]) if side == BUY else iter(keys[:limit])
        totals = self._totals[side]
        return [(t, totals[t]) for t in ticks]

    def level_count(self, side: int) -> int:
        return len(self._sides[side])

    def tick_at(self, side: int, rank: int) -> int:
        """Tick of the level `rank` places from the best (0 = best)."""
        keys = self._sides[side].keys()
        return int(keys[-1 - rank] if side == BUY else keys[rank])

    def order(self, order_id: int) -> RestingOrder | None:
        return self._orders.get(order_id)

    def orders_at(self, side: int, tick: int) -> deque[RestingOrder]:
        return cast("deque[RestingOrder]", self._sides[side].get(tick, deque()))

    # ---- changes --------------------------------------------------------------------------

    def _changed(self, side: int, tick: int, delta: int) -> None:
        totals = self._totals[side]
        total = totals.get(tick, 0) + delta
        if total:
            totals[tick] = total
        else:
            totals.pop(tick, None)
        self.update_id += 1
        if self.listener is not None:
            self.listener(side, tick, total, self.update_id)

    def add(self, order: RestingOrder) -> None:
        """Rest an order at the back of its level's queue."""
        queue = self._sides[order.side].get(order.tick)
        if queue is None:
            queue = self._sides[order.side][order.tick] = deque()
        queue.append(order)
        self._orders[order.order_id] = order
        self._changed(order.side, order.tick, order.lots)

    def reduce(self, order_id: int, lots: int) -> int:
        """Cancel up to `lots` of a resting order (all of it if lots >= its size).
        Returns the lots removed; reducing keeps the order's place in the queue."""
        order = self._orders.get(order_id)
        if order is None:
            return 0
        removed = min(lots, order.lots)
        order.lots -= removed
        if order.lots == 0:
            self._remove(order)
        self._changed(order.side, order.tick, -removed)
        return removed

    def _remove(self, order: RestingOrder) -> None:
        del self._orders[order.order_id]
        levels = self._sides[order.side]
        queue = levels[order.tick]
        queue.remove(order)
        if not queue:
            del levels[order.tick]

    def take(self, taker_side: int, lots: int, limit_tick: int | None) -> list[Fill]:
        """Match an incoming order against the opposite side, best price first, oldest
        first within a price, down to `limit_tick` (None: no limit). Returns the fills."""
        return self.match(taker_side, lots, limit_tick).fills

    def match(
        self,
        taker_side: int,
        lots: int,
        limit_tick: int | None,
        owner: str | None = None,
        stp: str = "NONE",
    ) -> Match:
        """`take` for a participant's order: where it would trade with a resting order of
        the same `owner`, its self-trade prevention mode decides instead. EXPIRE_MAKER takes
        that order off the book and matching goes on; EXPIRE_TAKER ends the matching (the
        caller expires the taker's rest); EXPIRE_BOTH does both. NONE trades with it."""
        maker_side = SELL if taker_side == BUY else BUY
        levels = self._sides[maker_side]
        result = Match()
        while lots and levels:
            tick, queue = levels.peekitem(0 if maker_side == SELL else -1)
            if limit_tick is not None and (
                tick > limit_tick if taker_side == BUY else tick < limit_tick
            ):
                break
            maker = queue[0]
            if owner is not None and maker.owner == owner and stp != "NONE":
                if stp != "EXPIRE_TAKER":
                    result.expired.append(maker)
                    self.reduce(maker.order_id, maker.lots)
                if stp != "EXPIRE_MAKER":
                    result.taker_expired = True
                    break
                continue
            size = min(lots, maker.lots)
            maker.lots -= size
            lots -= size
            if maker.lots == 0:
                self._remove(maker)
            self._changed(maker_side, tick, -size)
            result.fills.append(Fill(maker, tick, size))
        return result
