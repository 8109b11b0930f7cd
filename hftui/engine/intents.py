"""What a strategy or the trader asks for. Intents are immutable; risk gates each one before
execution turns it into an order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

from hftui.protocol import OrderType, Side, TimeInForce

__all__ = ["ClientId", "Lots", "OrderIntent", "Ticks", "new_client_id"]

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


def new_client_id(prefix: str, instance_tag: str, sequence: int) -> ClientId:
    """A client order id unique across restarts: prefix, engine start tag, sequence number.

    Binance allows `^[\\.A-Z\\:/a-z0-9_-]{1,36}$`; this stays well inside it.
    """
    n, digits = sequence, []
    while True:
        n, r = divmod(n, 36)
        digits.append(_ALPHABET[r])
        if n == 0:
            break
    return ClientId(f"{prefix}-{instance_tag}-{''.join(reversed(digits))}")
