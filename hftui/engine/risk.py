"""Pre-trade risk: the gate every intent passes before execution sees it.

Owns: the limits in force (`RiskLimits`, swappable live with `set_limits`), their integer
forms per symbol, and the order-rate window (a ring of send times). It reads, never writes,
the `Exposure` that execution keeps (mids, positions, open orders, P&L, the kill latch).

Checks run in a fixed order and the first failure is the answer, as a `Reason` code that the
strategy, the journal and the TUI all see; `refusal_text` says it with the numbers.

Exactness: a config value (a float from the TOML file) stands for the decimal its `repr`
spells, so `0.005` BTC is exactly 5/1000. `set_limits` converts each one once, exactly, into
ticks, lots or notional units (ticks x lots), rounded down where the comparison allows it,
so every price, quantity and notional comparison in `check` is on integers. The price band
is an integer cross-multiplication. The two comparisons against figures execution keeps in
floats (a strategy's gross exposure and the day's P&L) are exact too: the P&L threshold is
precomputed as a float, and the budget test falls back to `Fraction` only when the float
answer is too close to call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from hftui.engine.instrument import Instrument
from hftui.engine.intents import OrderIntent
from hftui.protocol import OrderType, Reason

__all__ = [
    "Exposure",
    "RiskEngine",
    "RiskLimits",
    "SymbolExposure",
    "SymbolLimits",
    "exact",
]

_SECOND_NS: Final = 1_000_000_000
_NO_LIMIT: Final = 1 << 62  # larger than any order, position or notional
_NEVER: Final = -(1 << 62)  # an empty slot of the send ring: "sent at the dawn of time"

# Bound once: a module global is cheaper than an enum class attribute on every check.
_MARKET: Final = OrderType.MARKET
_OK: Final = Reason.OK
_KILLED: Final = Reason.KILLED
_UNKNOWN_SYMBOL: Final = Reason.UNKNOWN_SYMBOL
_BAD_QTY: Final = Reason.BAD_QTY
_BAD_PRICE: Final = Reason.BAD_PRICE
_MIN_QTY: Final = Reason.MIN_QTY
_MAX_QTY: Final = Reason.MAX_QTY
_NO_MARKET: Final = Reason.NO_MARKET
_MIN_NOTIONAL: Final = Reason.MIN_NOTIONAL
_MAX_NOTIONAL: Final = Reason.MAX_NOTIONAL
_PRICE_BAND: Final = Reason.PRICE_BAND
_REDUCE_ONLY: Final = Reason.REDUCE_ONLY
_MAX_POSITION: Final = Reason.MAX_POSITION
_MAX_OPEN_ORDERS: Final = Reason.MAX_OPEN_ORDERS
_STRATEGY_BUDGET: Final = Reason.STRATEGY_BUDGET
_DAILY_LOSS: Final = Reason.DAILY_LOSS
_ORDER_RATE: Final = Reason.ORDER_RATE


def exact(value: float) -> Fraction:
    """The decimal a config float stands for (the one its `repr` spells), exactly.

    Raises:
        ValueError: NaN or infinite.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return Fraction(repr(float(value)))


@dataclass(frozen=True, slots=True)
class SymbolLimits:
    """One symbol's pre-trade limits. 0 means no limit of that kind."""

    max_order_qty: float = 0.0  # base units (BTC for BTCUSDT)
    max_order_notional: float = 0.0  # USDT
    max_position: float = 0.0  # base units, absolute
    max_open_orders: int = 0  # the venue's MAX_NUM_ORDERS filter applies regardless
    price_band_bps: float = 0.0  # limit price vs mid: the fat-finger band


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every limit the gate enforces. Immutable: change limits by passing a new one to
    `RiskEngine.set_limits`.

    `per_symbol` and `strategy_budgets` accept any mapping and are stored as read-only
    copies (`MappingProxyType`), so a caller's dict changed later changes nothing here; as
    a consequence `RiskLimits` compares by value but is not hashable.
    """

    default: SymbolLimits = SymbolLimits(
        max_order_notional=50_000.0, max_open_orders=50, price_band_bps=500.0
    )
    per_symbol: Mapping[str, SymbolLimits] = field(
        default_factory=lambda: MappingProxyType({})
    )  # overrides `default` for the symbols it names
    max_open_orders_total: int = 200  # 0: no limit
    max_orders_per_s: float = 20.0  # all symbols; 0: no limit
    daily_loss_limit: float = 0.0  # USDT, positive; 0: none. Reaching it fires the kill switch
    strategy_budgets: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({})
    )  # strategy -> max gross exposure (open orders + position), USDT; absent: unlimited

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_symbol", MappingProxyType(dict(self.per_symbol)))
        object.__setattr__(self, "strategy_budgets", MappingProxyType(dict(self.strategy_budgets)))

    def for_symbol(self, symbol: str) -> SymbolLimits:
        """The limits that apply to `symbol`."""
        return self.per_symbol.get(symbol, self.default)


class SymbolExposure:
    """One symbol's exposure, written by execution."""

    __slots__ = ("mid", "open_buy", "open_orders", "open_sell", "position")

    def __init__(
        self,
        mid: int = 0,
        position: int = 0,
        open_orders: int = 0,
        open_buy: int = 0,
        open_sell: int = 0,
    ) -> None:
        self.mid = mid  # ticks; 0: no live book
        self.position = position  # lots, signed (+ long)
        self.open_orders = open_orders
        self.open_buy = open_buy  # lots resting on each side (unfilled remainders)
        self.open_sell = open_sell


_FLAT: Final = SymbolExposure()  # stands in for a symbol execution has no entry for; never written


class Exposure:
    """Everything risk reads, written by execution."""

    __slots__ = ("daily_pnl", "killed", "open_orders_total", "strategy_exposure", "symbols")

    def __init__(self, symbols: Iterable[str] = ()) -> None:
        self.symbols: dict[str, SymbolExposure] = {s: SymbolExposure() for s in symbols}
        self.open_orders_total = 0
        self.daily_pnl = 0.0  # USDT, realized + unrealized today (negative: a loss)
        self.strategy_exposure: dict[str, float] = {}  # USDT gross, per strategy
        self.killed = False


# Per symbol, all integers but the last three: min price, max price, min qty, max qty for a
# limit order, for a market order, min notional, max notional, band numerator, band
# denominator x 10_000 (0, 1 without a band), max position, max open orders, USDT per
# notional unit (float and exact), the instrument.
_Compiled = tuple[
    int, int, int, int, int, int, int, int, int, int, int, float, Fraction, Instrument
]


def _lots_down(amount: Fraction, unit: Fraction) -> int:
    """The whole number of `unit`s in `amount` (a positive limit), or no limit for 0."""
    return math.floor(amount / unit) if amount else _NO_LIMIT


def _compile(s: SymbolLimits, inst: Instrument) -> _Compiled:
    step = Fraction(inst.lot_units, 10**inst.qty_decimals)  # base units per lot
    unit = Fraction(
        inst.tick_units * inst.lot_units, 10 ** (inst.price_decimals + inst.qty_decimals)
    )  # USDT per notional unit
    band = exact(s.price_band_bps)
    cfg_qty = _lots_down(exact(s.max_order_qty), step)
    return (
        inst.min_price_ticks,
        inst.max_price_ticks or _NO_LIMIT,
        inst.min_qty_lots,
        min(inst.max_qty_lots or _NO_LIMIT, cfg_qty),
        min(inst.market_max_qty_lots or inst.max_qty_lots or _NO_LIMIT, cfg_qty),
        inst.min_notional,
        _lots_down(exact(s.max_order_notional), unit),
        band.numerator,
        band.denominator * 10_000,
        _lots_down(exact(s.max_position), step),
        min(s.max_open_orders or _NO_LIMIT, inst.max_open_orders or _NO_LIMIT),
        float(unit),
        unit,
        inst,
    )


def _float_at_or_below(value: Fraction) -> float:
    """The largest float <= `value`: `x <= value` exactly iff `x <= this` for any float x."""
    f = float(value)
    if Fraction(f) > value:
        f = math.nextafter(f, -math.inf)
    return f


def _over_budget(budget: Fraction, used: float, notional: int, unit: Fraction) -> bool:
    """used + notional x unit > budget, exactly; a NaN or infinite `used` counts as over."""
    if not math.isfinite(used):
        return True
    return Fraction(used) + notional * unit > budget


def _check_limits(limits: RiskLimits) -> None:
    # Fail at the config boundary, never in check(): negative or non-finite limits are bugs.
    numbers: list[tuple[str, float]] = [
        ("max_open_orders_total", limits.max_open_orders_total),
        ("max_orders_per_s", limits.max_orders_per_s),
        ("daily_loss_limit", limits.daily_loss_limit),
    ]
    numbers += [(f"strategy_budgets.{k}", v) for k, v in limits.strategy_budgets.items()]
    for where, s in [("default", limits.default), *limits.per_symbol.items()]:
        numbers += [
            (f"{where}.max_order_qty", s.max_order_qty),
            (f"{where}.max_order_notional", s.max_order_notional),
            (f"{where}.max_position", s.max_position),
            (f"{where}.max_open_orders", s.max_open_orders),
            (f"{where}.price_band_bps", s.price_band_bps),
        ]
    for name, value in numbers:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"risk limit {name} must be a finite number >= 0, not {value!r}")


class RiskEngine:
    """The pre-trade gate. One per engine; not thread-safe (the engine's loop owns it)."""

    def __init__(
        self,
        limits: RiskLimits,
        instruments: Mapping[str, Instrument],
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Args:
        limits: the limits in force until `set_limits`.
        instruments: every tradable symbol; any other is refused as UNKNOWN_SYMBOL.
        clock_ns: a monotonic clock for the order-rate window (injected by tests).
        """
        self.instruments = dict(instruments)
        self.clock_ns = clock_ns
        self._ring: list[int] = []  # send times, the oldest at _head once the ring is full
        self._head = 0
        self._window_ns = _SECOND_NS
        self.set_limits(limits)

    @property
    def rate_capacity(self) -> int:
        """Orders allowed per rate window (0: no rate limit)."""
        return len(self._ring)

    def set_limits(self, limits: RiskLimits) -> None:
        """Replace the limits; the next `check` uses them.

        Converts every config figure into the integer units `check` compares. The most
        recent sends (as many as the new rate allows) carry over into the new window, so a
        rate change never lets a burst through.

        Raises:
            ValueError: a limit is negative, NaN or infinite (the old limits stay in force).
        """
        _check_limits(limits)
        compiled = {sym: _compile(limits.for_symbol(sym), i) for sym, i in self.instruments.items()}
        budgets = {k: (float(exact(v)), exact(v)) for k, v in limits.strategy_budgets.items()}
        loss = exact(limits.daily_loss_limit)
        # A limit of 0 means "none": a threshold no P&L reaches (NaN is caught in check).
        self._loss_floor = _float_at_or_below(-loss) if loss else -math.inf
        self._compiled = compiled
        self._budgets = budgets
        self._max_total = limits.max_open_orders_total or _NO_LIMIT
        self.limits = limits
        self._resize_ring(exact(limits.max_orders_per_s))

    def add_instrument(self, inst: Instrument) -> None:
        """Make a symbol followed at run time tradable, under the limits in force."""
        self.instruments[inst.symbol] = inst
        self._compiled = {
            **self._compiled,
            inst.symbol: _compile(self.limits.for_symbol(inst.symbol), inst),
        }

    def _resize_ring(self, rate: Fraction) -> None:
        # "No more than `rate` orders in the last second": floor(rate) per second. Below one
        # per second that would refuse everything, so a slower rate means one order per
        # 1/rate seconds instead.
        if rate <= 0:
            capacity, window = 0, _SECOND_NS
        elif rate < 1:
            capacity, window = 1, math.ceil(_SECOND_NS / rate)
        else:
            capacity, window = math.floor(rate), _SECOND_NS
        old, head = self._ring, self._head
        recent = [t for t in old[head:] + old[:head] if t != _NEVER][-capacity:] if capacity else []
        self._ring = [_NEVER] * (capacity - len(recent)) + recent
        self._head = 0
        self._window_ns = window

    def record_sent(self) -> None:
        """An order that passed `check` was submitted: it counts against the order rate."""
        ring = self._ring
        if ring:
            head = self._head
            ring[head] = self.clock_ns()
            head += 1
            self._head = 0 if head == len(ring) else head

    def daily_loss_breached(self, exposure: Exposure) -> bool:
        """True when a daily loss limit is set and the day's P&L has reached it (or is NaN:
        a P&L nobody can read is treated as the worst case). The engine fires the kill
        switch on True."""
        pnl = exposure.daily_pnl
        return self._loss_floor != -math.inf and not pnl > self._loss_floor

    def check(self, intent: OrderIntent, exposure: Exposure) -> Reason:  # noqa: C901  (flat on purpose: one frame)
        """Gate one intent against the limits and the current exposure.

        Pure except that it reads the clock for the order-rate window; it never records a
        send (`record_sent` does).

        Returns:
            Reason.OK, or the code of the first check that fails.
        """
        if exposure.killed:
            return _KILLED
        symbol = intent.symbol
        c = self._compiled.get(symbol)
        if c is None:
            return _UNKNOWN_SYMBOL
        qty = intent.qty
        if qty <= 0:
            return _BAD_QTY
        (
            min_price,
            max_price,
            min_qty,
            max_qty,
            max_market_qty,
            min_notional,
            max_notional,
            band_num,
            band_den,
            max_position,
            max_open,
            unit_f,
            unit,
            _,
        ) = c
        price = intent.price
        market = intent.order_type == _MARKET
        if market:
            if price != 0:
                return _BAD_PRICE
            if qty < min_qty:
                return _MIN_QTY
            if qty > max_market_qty:
                return _MAX_QTY
        else:
            if price <= 0 or price < min_price or price > max_price:
                return _BAD_PRICE
            if qty < min_qty:
                return _MIN_QTY
            if qty > max_qty:
                return _MAX_QTY
        exp = exposure.symbols.get(symbol) or _FLAT
        mid = exp.mid
        if mid <= 0 and (market or band_num):
            return _NO_MARKET
        notional = qty * (mid if market else price)
        reduce_only = intent.reduce_only
        if notional < min_notional and not reduce_only:  # Binance exempts reduce-only too
            return _MIN_NOTIONAL
        if notional > max_notional:
            return _MAX_NOTIONAL
        # |price - mid| / mid * 10_000 > band, cross-multiplied to stay in integers.
        if band_num and not market and abs(price - mid) * band_den > band_num * mid:
            return _PRICE_BAND
        position = exp.position
        side = intent.side  # +1 buy, -1 sell: the sign of the position change
        if reduce_only:
            if position * side >= 0 or qty > abs(position):
                return _REDUCE_ONLY
        elif max_position != _NO_LIMIT:
            resting = exp.open_buy if side > 0 else exp.open_sell
            if abs(position + side * (resting + qty)) > max_position:
                return _MAX_POSITION
        if exp.open_orders >= max_open or exposure.open_orders_total >= self._max_total:
            return _MAX_OPEN_ORDERS
        budgets = self._budgets
        if budgets and not reduce_only:  # closing a position only lowers a strategy's exposure
            budget = budgets.get(intent.strategy)
            if budget is not None:
                # used + notional x unit > budget, in floats unless the two sides are within
                # a rounding error of each other (or not finite); then exactly.
                used = exposure.strategy_exposure.get(intent.strategy, 0.0)
                spend = notional * unit_f
                lhs = used + spend
                limit = budget[0]
                slack = 1e-9 * (abs(used) + spend + limit) + 1e-300
                if lhs > limit + slack or (
                    not lhs < limit - slack and _over_budget(budget[1], used, notional, unit)
                ):
                    return _STRATEGY_BUDGET
        pnl = exposure.daily_pnl
        if not pnl > self._loss_floor and not reduce_only:  # `not >` so a NaN P&L refuses
            return _DAILY_LOSS
        ring = self._ring
        if ring:
            oldest = ring[self._head]  # the oldest of the last `capacity` sends
            if oldest != _NEVER and self.clock_ns() - oldest < self._window_ns:
                return _ORDER_RATE
        return _OK

    # ---- explanations (off the hot path) -------------------------------------------------

    def refusal_text(self, reason: Reason, intent: OrderIntent, exposure: Exposure) -> str:
        """A sentence with the numbers, for the trader and the journal.

        Args:
            reason: what `check` answered for `intent` against `exposure`.
            intent: the refused intent.
            exposure: the exposure it was checked against.

        Returns:
            e.g. "notional 61234.50 USDT above the limit 50000 USDT".
        """
        if reason == Reason.KILLED:
            return "the kill switch is latched: no new orders until it is reset"
        c = self._compiled.get(intent.symbol)
        if c is None:
            return f"{intent.symbol} is not traded by this engine"
        text = self._order_text(reason, intent, exposure, c) or self._account_text(
            reason, intent, exposure, c
        )
        return text or reason.text

    def _order_text(
        self, reason: Reason, intent: OrderIntent, exposure: Exposure, c: _Compiled
    ) -> str:
        # The checks on the order alone: its price, size and notional.
        inst, s = c[13], self.limits.for_symbol(intent.symbol)
        market = intent.order_type == _MARKET
        mid = (exposure.symbols.get(intent.symbol) or _FLAT).mid
        notional = float(intent.qty * (mid if market else intent.price) * c[12])
        qty, base = _qty(inst, intent.qty), intent.symbol.removesuffix("USDT")
        if reason == Reason.BAD_QTY:
            return f"quantity {intent.qty} lots: it must be positive"
        if reason == Reason.BAD_PRICE:
            if market or intent.price <= 0:
                return "a market order carries no price, a limit order a positive one"
            hi = inst.format_price(inst.max_price_ticks) if inst.max_price_ticks else "none"
            return (
                f"price {inst.format_price(intent.price)} outside the venue's range "
                f"{inst.format_price(inst.min_price_ticks)} to {hi}"
            )
        if reason == Reason.MIN_QTY:
            return f"quantity {qty} below the venue's minimum {_qty(inst, inst.min_qty_lots)}"
        if reason == Reason.MAX_QTY:
            return f"quantity {qty} {base} above the limit {_qty(inst, c[4] if market else c[3])}"
        if reason == Reason.NO_MARKET:
            return f"no live book for {intent.symbol} to check the price against"
        if reason == Reason.MIN_NOTIONAL:
            minimum = float(inst.min_notional * c[12])
            return f"notional {notional:.2f} USDT below the venue's minimum {minimum:.2f} USDT"
        if reason == Reason.MAX_NOTIONAL:
            limit = _plain(s.max_order_notional)
            return f"notional {notional:.2f} USDT above the limit {limit} USDT"
        if reason == Reason.PRICE_BAND and mid:
            bps = abs(intent.price - mid) * 10_000 / mid
            return (
                f"price {inst.format_price(intent.price)} is {bps:.0f} bps from mid "
                f"{inst.format_price(mid)}; the band is {_plain(s.price_band_bps)} bps"
            )
        return ""

    def _account_text(
        self, reason: Reason, intent: OrderIntent, exposure: Exposure, c: _Compiled
    ) -> str:
        # The checks against what is already open, held, spent or sent.
        inst, s = c[13], self.limits.for_symbol(intent.symbol)
        exp = exposure.symbols.get(intent.symbol) or _FLAT
        qty, base = _qty(inst, intent.qty), intent.symbol.removesuffix("USDT")
        market = intent.order_type == _MARKET
        notional = float(intent.qty * (exp.mid if market else intent.price) * c[12])
        if reason == Reason.REDUCE_ONLY:
            return (
                f"reduce-only {intent.side.name} {qty} {base} would not reduce the position "
                f"{_qty(inst, exp.position)} {base}"
            )
        if reason == Reason.MAX_POSITION:
            return (
                f"position {_qty(inst, exp.position)} {base} with the open {intent.side.name} "
                f"orders and this one could pass the limit {_plain(s.max_position)} {base}"
            )
        if reason == Reason.MAX_OPEN_ORDERS:
            return (
                f"{exp.open_orders} orders open on {intent.symbol} (limit {c[10]}), "
                f"{exposure.open_orders_total} in all (limit {self.limits.max_open_orders_total})"
            )
        if reason == Reason.STRATEGY_BUDGET:
            used = exposure.strategy_exposure.get(intent.strategy, 0.0)
            budget = _plain(self.limits.strategy_budgets.get(intent.strategy, 0.0))
            return (
                f"strategy {intent.strategy}: {used:.2f} USDT in use plus {notional:.2f} USDT "
                f"would pass its budget of {budget} USDT"
            )
        if reason == Reason.DAILY_LOSS:
            return (
                f"daily P&L {exposure.daily_pnl:.2f} USDT has reached the loss limit "
                f"{_plain(self.limits.daily_loss_limit)} USDT; only reduce-only orders pass"
            )
        if reason == Reason.ORDER_RATE:
            return (
                f"{self.rate_capacity} orders sent in the last "
                f"{self._window_ns / _SECOND_NS:g} s: the limit is "
                f"{_plain(self.limits.max_orders_per_s)} per second"
            )
        return ""


def _qty(inst: Instrument, lots: int) -> str:
    """Lots as base units, signed, with 0 as "0"."""
    if lots == 0:
        return "0"
    return ("-" if lots < 0 else "") + inst.format_qty(abs(lots))


def _plain(value: float) -> str:
    """A config figure as the trader wrote it: 50000, 0.005, 12.5."""
    text = repr(float(value))
    return text.removesuffix(".0")
