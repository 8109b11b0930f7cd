"""Pre-trade risk: the gate every intent passes before execution sees it.

Owns: the limits in force (swappable live with `set_limits`), their integer forms per
symbol, and the order-rate window. It reads, never writes, the `Exposure` that execution
keeps (positions, open orders, P&L, the kill latch).

Checks run in a fixed order and the first failure is the answer, as a `Reason` code that
the strategy, the journal and the TUI all see; `refusal_text` says it with the numbers.
Every comparison is integer arithmetic on ticks, lots and notional units (ticks x lots):
config limits in base units and USDT are converted once, rounded down, when set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hftui.engine.instrument import Instrument
from hftui.engine.intents import OrderIntent
from hftui.protocol import OrderType, Reason, Side

__all__ = [
    "Exposure",
    "RiskEngine",
    "RiskLimits",
    "SymbolExposure",
    "SymbolLimits",
]

_RATE_WINDOW_NS = 1_000_000_000
_NO_LIMIT = 1 << 62


@dataclass(frozen=True, slots=True)
class SymbolLimits:
    """0 means no limit of that kind."""

    max_order_qty: float = 0.0  # base units
    max_order_notional: float = 50_000.0  # USDT
    max_position: float = 0.0  # base units, absolute
    max_open_orders: int = 50
    price_band_bps: float = 500.0


@dataclass(frozen=True, slots=True)
class RiskLimits:
    default: SymbolLimits = SymbolLimits()
    per_symbol: Mapping[str, SymbolLimits] = field(default_factory=lambda: MappingProxyType({}))
    max_open_orders_total: int = 200
    max_orders_per_s: float = 20.0  # 0: no limit
    daily_loss_limit: float = 0.0  # USDT; 0: none
    strategy_budgets: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


class SymbolExposure:
    """One symbol's exposure, written by execution."""

    __slots__ = ("mid", "open_buy", "open_orders", "open_sell", "position")

    def __init__(self) -> None:
        self.mid = 0  # ticks; 0: no live book
        self.position = 0  # lots, signed
        self.open_orders = 0
        self.open_buy = 0  # lots resting on each side
        self.open_sell = 0


class Exposure:
    """Everything risk reads, written by execution."""

    __slots__ = ("daily_pnl", "killed", "open_orders_total", "strategy_exposure", "symbols")

    def __init__(self) -> None:
        self.symbols: dict[str, SymbolExposure] = {}
        self.open_orders_total = 0
        self.daily_pnl = 0.0  # USDT, realized + unrealized - fees
        self.strategy_exposure: dict[str, float] = {}  # USDT gross, per strategy
        self.killed = False


# Per symbol, integers: (max qty lots, max notional, max position lots, max open orders,
# band bps, instrument).
_Compiled = tuple[int, int, int, int, int, Instrument]


class RiskEngine:
    def __init__(
        self,
        limits: RiskLimits,
        instruments: Mapping[str, Instrument],
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.instruments = dict(instruments)
        self.clock_ns = clock_ns
        self._sent: list[int] = []  # send times inside the rate window, oldest first
        self.set_limits(limits)

    def set_limits(self, limits: RiskLimits) -> None:
        """Replace the limits; the next check uses them."""
        self.limits = limits
        compiled: dict[str, _Compiled] = {}
        for symbol, inst in self.instruments.items():
            s = limits.per_symbol.get(symbol, limits.default)
            lot_base = inst.lot_units / 10**inst.qty_decimals  # base units per lot
            compiled[symbol] = (
                int(s.max_order_qty / lot_base) if s.max_order_qty else _NO_LIMIT,
                int(s.max_order_notional * inst.notional_scale)
                if s.max_order_notional
                else _NO_LIMIT,
                int(s.max_position / lot_base) if s.max_position else _NO_LIMIT,
                s.max_open_orders or _NO_LIMIT,
                int(s.price_band_bps) if s.price_band_bps else 0,
                inst,
            )
        self._compiled = compiled
        self._rate = int(limits.max_orders_per_s) if limits.max_orders_per_s else 0
        self._budgets = dict(limits.strategy_budgets)

    def record_sent(self) -> None:
        """An order that passed was sent: it counts against the order rate."""
        if self._rate:
            self._sent.append(self.clock_ns())
            if len(self._sent) > 4 * self._rate:
                self._trim(self.clock_ns())

    def _trim(self, now: int) -> None:
        cut = now - _RATE_WINDOW_NS
        sent = self._sent
        i = 0
        while i < len(sent) and sent[i] <= cut:
            i += 1
        if i:
            del sent[:i]

    def daily_loss_breached(self, exposure: Exposure) -> bool:
        limit = self.limits.daily_loss_limit
        return bool(limit) and exposure.daily_pnl <= -limit

    def check(self, intent: OrderIntent, exposure: Exposure) -> Reason:  # noqa: C901  (flat, for speed)
        """The first check `intent` fails, or Reason.OK."""
        if exposure.killed:
            return Reason.KILLED
        compiled = self._compiled.get(intent.symbol)
        if compiled is None:
            return Reason.UNKNOWN_SYMBOL
        max_qty, max_notional, max_position, max_open, band, inst = compiled
        qty = intent.qty
        if qty <= 0:
            return Reason.BAD_QTY
        market = intent.order_type == OrderType.MARKET
        price = intent.price
        if market:
            if price != 0:
                return Reason.BAD_PRICE
        elif (
            price <= 0
            or price < inst.min_price_ticks
            or (inst.max_price_ticks and price > inst.max_price_ticks)
        ):
            return Reason.BAD_PRICE
        if qty < inst.min_qty_lots:
            return Reason.MIN_QTY
        venue_max = inst.market_max_qty_lots if market else inst.max_qty_lots
        if (venue_max and qty > venue_max) or qty > max_qty:
            return Reason.MAX_QTY
        exp = exposure.symbols.get(intent.symbol)
        mid = exp.mid if exp is not None else 0
        if mid <= 0 and (market or band):
            return Reason.NO_MARKET
        notional = qty * (mid if market else price)
        if notional < inst.min_notional and not intent.reduce_only:
            return Reason.MIN_NOTIONAL
        if notional > max_notional:
            return Reason.MAX_NOTIONAL
        # |price - mid| / mid > band / 10_000, cross-multiplied to stay in integers.
        if band and not market and abs(price - mid) * 10_000 > band * mid:
            return Reason.PRICE_BAND
        position = exp.position if exp is not None else 0
        buy = intent.side == Side.BUY
        if intent.reduce_only:
            if position == 0 or (position > 0) == buy or qty > abs(position):
                return Reason.REDUCE_ONLY
        elif max_position != _NO_LIMIT:
            worst = (
                position + (exp.open_buy if exp else 0) + qty
                if buy
                else position - (exp.open_sell if exp else 0) - qty
            )
            if abs(worst) > max_position:
                return Reason.MAX_POSITION
        open_here = exp.open_orders if exp is not None else 0
        if (
            open_here >= max_open
            or open_here >= inst.max_open_orders
            or exposure.open_orders_total >= self.limits.max_open_orders_total
        ):
            return Reason.MAX_OPEN_ORDERS
        budget = self._budgets.get(intent.strategy)
        if budget is not None:
            used = exposure.strategy_exposure.get(intent.strategy, 0.0)
            if used + notional / inst.notional_scale > budget:
                return Reason.STRATEGY_BUDGET
        limit = self.limits.daily_loss_limit
        if limit and exposure.daily_pnl <= -limit and not intent.reduce_only:
            return Reason.DAILY_LOSS
        if self._rate:
            sent = self._sent
            if len(sent) >= self._rate:
                self._trim(self.clock_ns())
                if len(sent) >= self._rate:
                    return Reason.ORDER_RATE
        return Reason.OK

    def refusal_text(self, reason: Reason, intent: OrderIntent, exposure: Exposure) -> str:
        """A sentence with the numbers, for the trader."""
        compiled = self._compiled.get(intent.symbol)
        if compiled is None:
            return f"{intent.symbol}: {reason.text}"
        max_qty, max_notional, max_position, max_open, band, inst = compiled
        exp = exposure.symbols.get(intent.symbol)
        mid = exp.mid if exp is not None else 0
        px = mid if intent.order_type == OrderType.MARKET else intent.price
        notional = intent.qty * px
        qty = inst.format_qty(intent.qty)
        if reason == Reason.MAX_NOTIONAL:
            return (
                f"notional {inst.format_notional(notional)} USDT above the limit "
                f"{inst.format_notional(max_notional)} USDT"
            )
        if reason == Reason.MIN_NOTIONAL:
            return (
                f"notional {inst.format_notional(notional)} USDT below the venue's minimum "
                f"{inst.format_notional(inst.min_notional)} USDT"
            )
        if reason == Reason.PRICE_BAND and mid:
            bps = abs(intent.price - mid) * 10_000 / mid
            return (
                f"price {inst.format_price(intent.price)} is {bps:.0f} bps from mid "
                f"{inst.format_price(mid)}; the band is {band} bps"
            )
        if reason == Reason.MAX_QTY:
            limit = min(max_qty, inst.max_qty_lots or _NO_LIMIT)
            return f"quantity {qty} above the limit {inst.format_qty(limit)}"
        if reason == Reason.MIN_QTY:
            return f"quantity {qty} below the venue's minimum {inst.format_qty(inst.min_qty_lots)}"
        if reason == Reason.MAX_POSITION:
            return f"would take the position past {inst.format_qty(max_position)}"
        if reason == Reason.MAX_OPEN_ORDERS:
            return f"{exp.open_orders if exp else 0} open on {intent.symbol}; limit {max_open}"
        if reason == Reason.ORDER_RATE:
            return f"more than {self._rate} orders in the last second"
        if reason == Reason.DAILY_LOSS:
            return (
                f"daily P&L {exposure.daily_pnl:.2f} USDT is past the loss limit "
                f"{self.limits.daily_loss_limit:.2f} USDT"
            )
        if reason == Reason.STRATEGY_BUDGET:
            budget = self._budgets.get(intent.strategy, 0.0)
            return f"strategy {intent.strategy} would exceed its budget of {budget:.0f} USDT"
        return reason.text
