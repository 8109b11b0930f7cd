"""A seeded synthetic market for one symbol: stochastic order flow into a `MatchingBook`.

Owns: the fair value, the activity regime and the random generator. Each `step` advances a
fixed slice of simulated time, so the sequence of book changes depends only on the seed and
the number of steps, never on wall-clock timing.

Flow model: Poisson arrivals whose rate switches between quiet, normal and burst regimes;
limit orders join near the touch with a geometric distance (so depth thins away from the
mid) and fill a wide spread first (so it is one tick most of the time); cancels hit near
levels more often than far ones; market orders lean towards a fair value that drifts as a
random walk, which pulls the mid along. Sizes are log-normal.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from hftui.exchange.book import BUY, SELL, Fill, MatchingBook, RestingOrder
from hftui.exchange.symbols import SymbolSpec

__all__ = ["MarketParams", "SyntheticMarket", "TradeListener"]

# (taker side, fills) after every market order
TradeListener = Callable[[int, list[Fill]], None]

_RATES: Final = (40.0, 160.0, 700.0)  # events per second: quiet, normal, burst
# Per-second probabilities of leaving each regime, and where to: (to quiet, to normal, to burst)
_SWITCH: Final = ((0.0, 0.25, 0.02), (0.08, 0.0, 0.06), (0.0, 1.2, 0.0))
_MIN_LEVELS: Final = 60
_MAX_LEVELS: Final = 400
_VOL_BP_PER_S: Final = 0.6  # fair-value volatility, basis points per sqrt(second)


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The generator's knobs (all defaults give a calm, liquid market)."""

    volatility_bp: float = _VOL_BP_PER_S  # fair-value volatility, bp per sqrt(second)
    trend_bp: float = 0.0  # fair-value drift, bp per second
    spread_ticks: int = 1  # the spread the flow keeps closing down to
    bursts: float = 1.0  # scales how often bursts start
    activity: float = 1.0  # scales every event rate

    def validate(self) -> None:
        if self.volatility_bp < 0 or self.bursts < 0 or self.activity <= 0:
            raise ValueError("volatility and bursts must be >= 0 and activity > 0")
        if self.spread_ticks < 1:
            raise ValueError("spread must be at least one tick")


class SyntheticMarket:
    """Order flow for one symbol."""

    def __init__(
        self,
        spec: SymbolSpec,
        seed: int,
        book: MatchingBook,
        on_trade: TradeListener | None = None,
        params: MarketParams | None = None,
    ) -> None:
        self.spec = spec
        self.params = params or MarketParams()
        self.book = book
        self.on_trade = on_trade
        self.rng = random.Random(seed * 1_000_003 + zlib.crc32(spec.symbol.encode()))
        start = spec.to_ticks(spec.start_price)
        self.fair = float(start)
        self.regime = 1
        self._next_id = 1
        self._typical = spec.typical_lots
        self._seed_book(start)

    def _order_id(self) -> int:
        order_id = self._next_id
        self._next_id += 1
        return order_id

    def _size(self, scale: float = 1.0) -> int:
        return max(1, int(self.rng.lognormvariate(math.log(self._typical * scale), 0.9)))

    def _rest(self, side: int, tick: int, lots: int) -> None:
        self.book.add(RestingOrder(self._order_id(), None, side, tick, lots))

    def _seed_book(self, best_bid: int) -> None:
        for k in range(150):
            for _ in range(1 + self.rng.randrange(3)):
                self._rest(BUY, best_bid - k, self._size())
                self._rest(SELL, best_bid + 1 + k, self._size())

    # ---- one slice of time ----------------------------------------------------------------

    def step(self, dt_s: float) -> None:
        """Advance `dt_s` seconds of simulated time."""
        rng = self.rng
        self._switch_regime(dt_s)
        params = self.params
        tick_value = self.fair * 1e-4  # one basis point in ticks
        self.fair += params.trend_bp * tick_value * dt_s
        self.fair += rng.gauss(0.0, params.volatility_bp * tick_value * math.sqrt(dt_s))
        rate = _RATES[self.regime] * params.activity
        elapsed = rng.expovariate(rate)
        while elapsed < dt_s:
            self._event()
            elapsed += rng.expovariate(rate)
        self._maintain()

    def _switch_regime(self, dt_s: float) -> None:
        u = self.rng.random()
        for target, rate in enumerate(_SWITCH[self.regime]):
            chance = rate * dt_s * (self.params.bursts if target == 2 else 1.0)
            if u < chance:
                self.regime = target
                return
            u -= chance

    def _skew(self) -> float:
        bid, ask = self.book.best(BUY), self.book.best(SELL)
        if bid is None or ask is None:
            return 0.0
        # Positive when fair value is above the mid: more buying, bids join more eagerly.
        return max(-0.3, min(0.3, (self.fair - (bid + ask) / 2) / 8.0))

    def _event(self) -> None:
        u = self.rng.random()
        if u < 0.52:
            self._add()
        elif u < 0.9:
            self._cancel()
        else:
            self._market()

    def _add(self) -> None:
        rng, book = self.rng, self.book
        side = BUY if rng.random() < 0.5 + self._skew() else SELL
        own, other = book.best(side), book.best(SELL if side == BUY else BUY)
        sign = 1 if side == BUY else -1
        if own is None or other is None:
            return
        if abs(other - own) > self.params.spread_ticks and rng.random() < 0.7:
            tick = own + sign  # improve a wide spread: it closes to one tick most of the time
        else:
            # Makers quote around value: bids just under the fair value, asks just over it,
            # thinning away; never through the other side. This is what drags the book along
            # when the fair value moves.
            value = math.floor(self.fair)
            tick = (value if side == BUY else value + 1) - sign * int(rng.expovariate(0.22))
            gap = self.params.spread_ticks  # makers keep their spread to the other side
            tick = min(tick, other - gap) if side == BUY else max(tick, other + gap)
        self._rest(side, tick, self._size())

    def _stale_side(self) -> int | None:
        # A quote on the wrong side of value (an ask under it, a bid over it) is one its maker
        # wants gone before someone informed lifts it.
        bid, ask = self.book.best(BUY), self.book.best(SELL)
        if ask is not None and ask < self.fair - 0.5:
            return SELL
        if bid is not None and bid > self.fair + 0.5:
            return BUY
        return None

    def _cancel(self) -> None:
        rng, book = self.rng, self.book
        stale = self._stale_side()
        if stale is not None and rng.random() < 0.8:
            side, rank = stale, 0
        else:
            side = BUY if rng.random() < 0.5 else SELL
            rank = -1
        count = book.level_count(side)
        if count <= _MIN_LEVELS // 2:
            return
        if rank < 0:
            rank = min(int(rng.expovariate(0.12)), count - 1)
            sticky = rank == 0 and count > 1 and rng.random() < 0.6
        else:
            sticky = False
        queue = book.orders_at(side, book.tick_at(side, rank))
        if len(queue) == 1 and sticky:
            return  # the touch is sticky: it is rarely pulled entirely
        order = queue[rng.randrange(len(queue))]
        if order.owner is not None:
            return  # participants' orders are theirs to cancel
        lots = order.lots if rng.random() < 0.7 else max(1, order.lots // 2)
        book.reduce(order.order_id, lots)

    def _market(self) -> None:
        rng, book = self.rng, self.book
        side = BUY if rng.random() < 0.5 + 1.5 * self._skew() else SELL
        maker = SELL if side == BUY else BUY
        count = book.level_count(maker)
        if count < 3:
            return
        # Never sweep more than a few levels: the synthetic book must not be emptied.
        limit = book.tick_at(maker, min(4, count - 2))
        fills = book.take(side, self._size(0.8), limit)
        if fills and self.on_trade is not None:
            self.on_trade(side, fills)

    def _maintain(self) -> None:
        book = self.book
        for side in (BUY, SELL):
            sign = -1 if side == BUY else 1
            count = book.level_count(side)
            if count == 0:
                other = book.best(SELL if side == BUY else BUY)
                anchor = round(self.fair) if other is None else other + sign
                self._rest(side, anchor, self._size())
                count = 1
            while count < _MIN_LEVELS:
                far = book.tick_at(side, count - 1)
                self._rest(side, far + sign * (1 + int(self.rng.expovariate(0.5))), self._size())
                count += 1
            while count > _MAX_LEVELS:
                far = book.tick_at(side, count - 1)
                for order in list(book.orders_at(side, far)):
                    if order.owner is None:
                        book.reduce(order.order_id, order.lots)
                count -= 1
