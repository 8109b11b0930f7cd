"""Participants' accounts on the local exchange: wallet, one-way positions, orders, trades.

Owns: each account's USDT wallet, per-symbol position (signed amount, entry price, realized
P&L), leverage, orders (open and finished), trades and listen key. Money is `Decimal`: this
is bookkeeping that must add up exactly, not a hot path.

Cross margin, one-way mode. Entry price averages on increases; a reduction realizes
(exit - entry) x closed quantity; a flip closes the old side and opens the remainder at the
fill price. Fees are charged on every fill's notional at the maker or taker rate.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

__all__ = [
    "DEFAULT_LEVERAGE",
    "ENTRY_QUANTUM",
    "MAKER_FEE",
    "START_BALANCE",
    "TAKER_FEE",
    "Account",
    "Order",
    "Position",
    "Trade",
    "money",
    "money_text",
]

START_BALANCE: Final = Decimal("100000")
# Entry prices are kept to this precision, so every money figure derived from them is an
# exact, finite decimal and the books balance to the last digit.
ENTRY_QUANTUM: Final = Decimal("1e-10")
MAKER_FEE: Final = Decimal("0.0002")
TAKER_FEE: Final = Decimal("0.0005")
DEFAULT_LEVERAGE: Final = 20


MONEY_QUANTUM: Final = Decimal("1e-8")


def money(value: Decimal) -> Decimal:
    """An amount that moves a wallet (fee, realized P&L, funding), to the venue's 8
    decimals: the wallet then reads the same in the balance list (8 decimals) and in the
    stream's ACCOUNT_UPDATE, as a client comparing the two expects."""
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def money_text(value: Decimal) -> str:
    """A decimal as the venue writes amounts: plain notation, no trailing zeros."""
    return format(value.normalize(), "f") if value else "0"


@dataclass(slots=True)
class Position:
    amount: Decimal = Decimal(0)  # signed: > 0 long, < 0 short
    entry_price: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)  # accumulated, before fees
    update_ms: int = 0

    def fill(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; returns the P&L it realized."""
        old = self.amount
        new = old + signed_qty
        realized = Decimal(0)
        if old == 0 or (old > 0) == (signed_qty > 0):
            # Opening or adding: average the entry price.
            average = (abs(old) * self.entry_price + abs(signed_qty) * price) / abs(new)
            self.entry_price = average.quantize(ENTRY_QUANTUM)
        else:
            closed = min(abs(old), abs(signed_qty))
            direction = Decimal(1) if old > 0 else Decimal(-1)
            realized = money((price - self.entry_price) * closed * direction)
            if new == 0:
                self.entry_price = Decimal(0)
            elif (new > 0) != (old > 0):
                self.entry_price = price  # flipped: the remainder opens at this price
        self.amount = new
        self.realized += realized
        return realized


@dataclass(slots=True)
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET
    time_in_force: str
    price: Decimal  # 0 for MARKET
    orig_qty: Decimal
    reduce_only: bool
    time_ms: int
    status: str = "NEW"
    executed_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    update_ms: int = 0
    stp: str = "NONE"  # selfTradePreventionMode, judged when this order is the taker

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else Decimal(0)


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time_ms: int


@dataclass(slots=True)
class Account:
    api_key: str
    secret: bytes
    wallet: Decimal = START_BALANCE
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    listen_key: str | None = None
    listen_key_expires_ms: int = 0
    update_ms: int = 0

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position())

    def leverage_of(self, symbol: str) -> int:
        return self.leverage.get(symbol, DEFAULT_LEVERAGE)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def open_by_client_id(self, symbol: str, client_id: str) -> Order | None:
        for order in self.orders.values():
            if order.symbol == symbol and order.client_id == client_id and order.is_open:
                return order
        return None

    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order is not None and order.symbol == symbol else None
        matches = [
            o for o in self.orders.values() if o.symbol == symbol and o.client_id == client_id
        ]
        return max(matches, key=lambda o: o.order_id) if matches else None

    def new_listen_key(self, now_ms: int, lifetime_ms: int) -> str:
        """The account's key, extended; a new one if it has none or it expired."""
        if self.listen_key is None or now_ms >= self.listen_key_expires_ms:
            self.listen_key = secrets.token_urlsafe(48)[:64]
        self.listen_key_expires_ms = now_ms + lifetime_ms
        return self.listen_key
