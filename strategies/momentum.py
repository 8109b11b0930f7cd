"""Momentum: follow a short trend in the mid price when the order book leans the same way.

Signal. Two exponential moving averages of the mid price (in ticks), with time constants
`fast_s` and `slow_s` seconds, updated on every book change with a weight that depends on
the time since the last one (so bursts do not speed the averages up). The trend is their gap
in basis points of the slow one: `trend = (fast - slow) / slow * 10_000`. The book must
agree: the imbalance of the best `imbalance_levels` levels (bid lots minus ask lots over
their sum, -1..1) must lean the trend's way by at least `min_imbalance`.

Entry (flat only). `trend >= entry_bps` with the book leaning up: buy; `trend <= -entry_bps`
with the book leaning down: sell. The order is a limit at the opposite touch, immediate-or-
cancel, so it takes what is there and never rests.

Sizing. `qty` scaled by how far the trend is past the threshold, `qty * |trend| / entry_bps`,
rounded down to the lot and capped at `max_qty`.

Exit (a reduce-only IOC at the opposite touch for the whole position), the first of:
the trend falls back inside `exit_bps` (or turns), the price moves `stop_bps` against the
entry (stop), or `take_bps` for it (take profit), or the position is older than `max_hold_s`.

After any order, nothing new for `cooldown_s` seconds (fills take a round trip to arrive;
in observe there are none, so the cooldown also paces the "would send" intents).

Parameters (`[strategies.params.momentum]`):
    symbol: the symbol traded ("BTCUSDT").
    qty, max_qty: base clip and largest entry, in base units ("0.002", "0.006").
    fast_s, slow_s: EMA time constants in seconds (2.0, 20.0).
    entry_bps, exit_bps: trend thresholds in basis points (1.5, 0.3).
    imbalance_levels, min_imbalance: book confirmation (5, 0.1).
    stop_bps, take_bps, max_hold_s: exits (15.0, 25.0, 120.0).
    cooldown_s: pause after each order (5.0).
"""

from __future__ import annotations

from dataclasses import dataclass

from hftui.strategy import OrderBook, Params, Side, Strategy, TimeInForce


@dataclass(frozen=True, slots=True)
class MomentumParams(Params):
    symbol: str = "BTCUSDT"
    qty: str = "0.002"
    max_qty: str = "0.006"
    fast_s: float = 2.0
    slow_s: float = 20.0
    entry_bps: float = 1.5
    exit_bps: float = 0.3
    imbalance_levels: int = 5
    min_imbalance: float = 0.1
    stop_bps: float = 15.0
    take_bps: float = 25.0
    max_hold_s: float = 120.0
    cooldown_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.fast_s < self.slow_s:
            raise ValueError("fast_s must be positive and below slow_s")
        if not 0 <= self.exit_bps < self.entry_bps:
            raise ValueError("exit_bps must be from 0 to below entry_bps")


class Momentum(Strategy[MomentumParams]):
    params_type = MomentumParams
    timer_interval_s = 0.0

    def on_start(self) -> None:
        p = self.params
        self.symbol = p.symbol
        self.clip = self.ctx.lots(p.symbol, p.qty)
        self.max_clip = max(self.clip, self.ctx.lots(p.symbol, p.max_qty))
        self.fast_ns = p.fast_s * 1e9
        self.slow_ns = p.slow_s * 1e9
        self.fast = 0.0
        self.slow = 0.0
        self.last_ns = 0
        self.next_action_ns = 0
        self.entry_price = 0.0
        self.entry_ns = 0
        self.trend_bps = 0.0

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        if symbol != self.symbol:
            return
        bid = book.best_bid()
        ask = book.best_ask()
        if bid < 0 or ask < 0:
            return
        mid = (bid + ask) * 0.5
        dt = now_ns - self.last_ns
        if self.last_ns == 0 or dt > self.slow_ns * 5:
            self.fast = self.slow = mid  # first book, or after a long silence: start over
            self.last_ns = now_ns
            return
        if dt <= 0:
            return
        self.last_ns = now_ns
        # dt / (tau + dt): the EMA weight for an irregular step, without an exp().
        self.fast += (mid - self.fast) * dt / (self.fast_ns + dt)
        self.slow += (mid - self.slow) * dt / (self.slow_ns + dt)
        if now_ns < self.next_action_ns:
            return
        trend = (self.fast - self.slow) / self.slow * 10_000.0
        self.trend_bps = trend
        position = self.ctx.position(symbol)
        if position == 0:
            self._maybe_enter(book, trend, bid, ask, now_ns)
        else:
            self._maybe_exit(position, trend, mid, bid, ask, now_ns)

    def _maybe_enter(self, book: OrderBook, trend: float, bid: int, ask: int, now: int) -> None:
        p = self.params
        if abs(trend) < p.entry_bps:
            return
        lean = book.imbalance(p.imbalance_levels)  # only now: it costs a kernel call
        if (trend > 0 and lean < p.min_imbalance) or (trend < 0 and lean > -p.min_imbalance):
            return
        if self.ctx.open_orders(self.symbol):
            return  # the last order's outcome is not known yet
        qty = min(self.max_clip, max(self.clip, int(self.clip * abs(trend) / p.entry_bps)))
        side, price = (Side.BUY, ask) if trend > 0 else (Side.SELL, bid)
        self.ctx.place(self.symbol, side, qty, price, TimeInForce.IOC)
        self.entry_price = float(price)
        self.entry_ns = now
        self.next_action_ns = now + int(p.cooldown_s * 1e9)

    def _maybe_exit(
        self, position: int, trend: float, mid: float, bid: int, ask: int, now: int
    ) -> None:
        p = self.params
        direction = 1 if position > 0 else -1
        entry = self.entry_price or mid
        moved_bps = (mid - entry) / entry * 10_000.0 * direction
        if not (
            trend * direction < p.exit_bps
            or moved_bps <= -p.stop_bps
            or moved_bps >= p.take_bps
            or now - self.entry_ns > p.max_hold_s * 1e9
        ):
            return
        side, price = (Side.SELL, bid) if position > 0 else (Side.BUY, ask)
        self.ctx.place(self.symbol, side, abs(position), price, TimeInForce.IOC, reduce_only=True)
        self.next_action_ns = now + int(p.cooldown_s * 1e9)
