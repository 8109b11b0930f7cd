"""The order vocabulary: what a strategy or the trader asks for (`OrderIntent`, gated by risk
before execution turns it into an order) and what the venue answers (`VenueUpdate`). Both are
immutable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

from hftui.protocol import OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "MANUAL",
    "ClientId",
    "Lots",
    "OrderIntent",
    "Ticks",
    "VenueUpdate",
    "base36",
    "new_client_id",
]

Ticks = NewType("Ticks", int)
Lots = NewType("Lots", int)
ClientId = NewType("ClientId", str)

MANUAL = "manual"  # the strategy name of orders the trader places by hand


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A request for a new order.

    `price` is in ticks and required for LIMIT; a MARKET intent carries 0. `strategy` names
    the owner ("manual" for the trader) so risk can charge its budget.
    """

    symbol: str
    side: Side
    qty: Lots
    price: Ticks = Ticks(0)
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    strategy: str = MANUAL

    @property
    def post_only(self) -> bool:
        return self.tif == TimeInForce.GTX


_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(n: int) -> str:
    """`n` (>= 0) in lower-case base 36: short and inside Binance's id alphabet."""
    digits = []
    while True:
        n, r = divmod(n, 36)
        digits.append(_ALPHABET[r])
        if n == 0:
            return "".join(reversed(digits))


def new_client_id(prefix: str, instance_tag: str, sequence: int) -> ClientId:
    """A client order id unique across restarts: prefix, engine start tag, sequence number.

    Binance allows `^[\\.A-Z\\:/a-z0-9_-]{1,36}$`; this stays well inside it.
    """
    return ClientId(f"{prefix}-{instance_tag}-{base36(sequence)}")


@dataclass(frozen=True, slots=True)
class VenueUpdate:
    """One thing the venue (or the paper matcher) said about an order, normalised.

    REST responses and user-data `ORDER_TRADE_UPDATE` events both become this, so the order
    tracker has one door. `filled` and `avg_price` are cumulative; a trade also carries
    `last_qty`/`last_price`/`trade_id` (0 when the update is not a trade). `avg_price` is in
    10**-price_decimals units because an average need not sit on the tick.
    """

    client_id: ClientId
    symbol: str
    status: OrderStatus
    venue_order_id: int = 0
    filled: Lots = Lots(0)
    avg_price: int = 0
    last_qty: Lots = Lots(0)
    last_price: Ticks = Ticks(0)
    trade_id: int = 0
    fee: float = 0.0  # quote currency, for this trade
    maker: bool = False
    update_ms: int = 0  # venue time of the update
    source: str = "stream"  # "rest", "stream" or "paper"
    reason: str = ""  # the venue's message when rejected or expired
