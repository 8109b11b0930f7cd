"""Orders: an event-sourced state machine fed by REST answers and user-data events alike.

Owns: every order this engine placed (`Order`), keyed by client order id, and the trade ids
already turned into fills. Only `OrderTracker` changes an order, and only through its doors:
`submit`, `apply` (any `VenueUpdate`), `reject`, `request_cancel`, `cancel_rejected`.

Updates arrive in any order and more than once: the REST answer before or after the stream
events, a stream NEW after a FILLED, the same trade twice. The state is therefore a *join*
of everything seen, which gives the same end state for any arrival order:

- `filled` is the largest cumulative quantity seen; `avg_price` comes with it.
- `status` only moves forward in `OrderStatus` order (PENDING_NEW < NEW < PARTIALLY_FILLED <
  terminal). Among terminal states the fill decides: an order whose `filled` reached its
  quantity is FILLED, whatever else was said; otherwise the venue's terminal word stands
  (CANCELED, EXPIRED or REJECTED; if two differ, the higher in the enum wins, so the result
  does not depend on arrival order).
- PENDING_CANCEL is a flag (`cancel_requested`), not a step: fills still arrive while a
  cancel is in flight and must not be lost.
- A fill is emitted exactly once per venue trade id. A REST answer only ever *advances*
  `filled`: fills come with trade ids (stream or paper), never synthesized from totals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hftui.engine.instrument import Instrument
from hftui.engine.intents import ClientId, Lots, OrderIntent, Ticks, VenueUpdate
from hftui.protocol import OrderStatus, Side

__all__ = [
    "Fill",
    "Order",
    "OrderEvent",
    "OrderTracker",
    "update_from_rest",
    "update_from_stream",
]

log = logging.getLogger(__name__)

_STATUS = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    "REJECTED": OrderStatus.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Fill:
    client_id: ClientId
    symbol: str
    side: Side
    qty: Lots
    price: Ticks
    fee: float
    maker: bool
    trade_id: int
    strategy: str
    time_ms: int


@dataclass(slots=True)
class Order:
    """One order's state. Only `OrderTracker` writes it."""

    client_id: ClientId
    intent: OrderIntent
    status: OrderStatus = OrderStatus.PENDING_NEW
    venue_order_id: int = 0
    filled: Lots = Lots(0)  # noqa: RUF009  (NewType: a plain int at run time)
    avg_price: int = 0  # 10**-price_decimals units
    fee: float = 0.0
    cancel_requested: bool = False
    reason: str = ""
    created_ns: int = 0
    updated_ns: int = 0
    last_update_ms: int = 0
    trade_ids: set[int] = field(default_factory=set)

    @property
    def remaining(self) -> Lots:
        return Lots(max(0, self.intent.qty - self.filled))

    @property
    def open(self) -> bool:
        return not self.status.terminal

    @property
    def shown_status(self) -> OrderStatus:
        """The status as a trader reads it: PENDING_CANCEL while a cancel is in flight."""
        if self.cancel_requested and self.open:
            return OrderStatus.PENDING_CANCEL
        return self.status


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Something changed. `kind`: submitted, accepted, partially_filled, filled, canceled,
    expired, rejected, cancel_requested, cancel_rejected, updated."""

    kind: str
    client_id: ClientId
    status: OrderStatus
    filled: Lots
    fill: Fill | None = None


# ---- parsing --------------------------------------------------------------------------------


def _text(payload: Mapping[str, object], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"order payload: {key!r} missing or not a value ({value!r})")
    return str(value)


def _int(payload: Mapping[str, object], key: str, default: int | None = None) -> int:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"order payload: {key!r} missing or not an integer ({value!r})")
    return value


def _status(text: str) -> OrderStatus:
    try:
        return _STATUS[text]
    except KeyError:
        raise ValueError(f"order payload: unknown status {text!r}") from None


def update_from_rest(payload: Mapping[str, object], instrument: Instrument) -> VenueUpdate:
    """A REST order response (place RESULT or ACK, query, cancel) as a `VenueUpdate`.

    Raises:
        ValueError: a field is missing or malformed.
    """
    status = _status(_text(payload, "status"))
    filled = instrument.qty_lots(_text(payload, "executedQty")) if "executedQty" in payload else 0
    avg = payload.get("avgPrice", "0")
    return VenueUpdate(
        client_id=ClientId(_text(payload, "clientOrderId")),
        symbol=_text(payload, "symbol"),
        status=status,
        venue_order_id=_int(payload, "orderId", 0),
        filled=Lots(filled),
        avg_price=instrument.price_units_of(str(avg)) if filled else 0,
        update_ms=_int(payload, "updateTime", 0),
        source="rest",
    )


def update_from_stream(
    o: Mapping[str, object], event_time_ms: int, instrument: Instrument
) -> VenueUpdate:
    """The `o` object of an `ORDER_TRADE_UPDATE` event as a `VenueUpdate`.

    Raises:
        ValueError: a field is missing or malformed.
    """
    execution = _text(o, "x")
    trade = execution == "TRADE"
    filled = instrument.qty_lots(_text(o, "z"))
    return VenueUpdate(
        client_id=ClientId(_text(o, "c")),
        symbol=_text(o, "s"),
        status=_status(_text(o, "X")),
        venue_order_id=_int(o, "i", 0),
        filled=Lots(filled),
        avg_price=instrument.price_units_of(_text(o, "ap")) if filled else 0,
        last_qty=Lots(instrument.qty_lots(_text(o, "l")) if trade else 0),
        last_price=Ticks(instrument.price_ticks(_text(o, "L")) if trade else 0),
        trade_id=_int(o, "t", 0) if trade else 0,
        fee=float(_text(o, "n")) if trade and "n" in o else 0.0,
        maker=o.get("m") is True,
        update_ms=_int(o, "T", event_time_ms),
        source="stream",
        reason=str(o.get("er", "")) if execution == "EXPIRED" else "",
    )


# ---- the tracker ----------------------------------------------------------------------------

_KIND = {
    OrderStatus.NEW: "accepted",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
}


class OrderTracker:
    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.clock_ns = clock_ns
        self._orders: dict[ClientId, Order] = {}
        self._unknown_logged: set[str] = set()

    def get(self, client_id: str) -> Order | None:
        return self._orders.get(ClientId(client_id))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self._orders.values()
            if o.open and (symbol is None or o.intent.symbol == symbol)
        ]

    def submit(self, client_id: ClientId, intent: OrderIntent) -> Order:
        """Start tracking a new order (PENDING_NEW).

        Raises:
            ValueError: the client id was used before; ids are never reused.
        """
        if client_id in self._orders:
            raise ValueError(f"client order id {client_id} is already in use")
        now = self.clock_ns()
        order = Order(client_id, intent, created_ns=now, updated_ns=now)
        self._orders[client_id] = order
        return order

    def _event(self, order: Order, kind: str, fill: Fill | None = None) -> OrderEvent:
        order.updated_ns = self.clock_ns()
        return OrderEvent(kind, order.client_id, order.shown_status, order.filled, fill)

    def apply(self, update: VenueUpdate) -> list[OrderEvent]:
        """Merge one venue update; returns what changed (nothing if it said nothing new)."""
        order = self._orders.get(update.client_id)
        if order is None:
            if update.client_id not in self._unknown_logged:
                self._unknown_logged.add(update.client_id)
                log.warning(
                    "update for an order this engine did not place",
                    extra={"client_id": update.client_id},
                )
            return []
        events: list[OrderEvent] = []
        fill = self._fill(order, update)
        if fill is not None:
            order.fee += fill.fee
        changed = False
        if update.venue_order_id and not order.venue_order_id:
            order.venue_order_id = update.venue_order_id
        if update.filled > order.filled:
            order.filled = Lots(min(update.filled, order.intent.qty))
            order.avg_price = update.avg_price
            changed = True
        elif update.filled == order.filled and update.filled and not order.avg_price:
            order.avg_price = update.avg_price
        status = self._merge_status(order, update.status)
        if status != order.status:
            order.status = status
            changed = True
            if status.terminal:
                order.cancel_requested = False
                if update.reason and not order.reason:
                    order.reason = update.reason
        order.last_update_ms = max(order.last_update_ms, update.update_ms)
        if fill is not None:
            events.append(self._event(order, "fill", fill))
        if changed:
            events.append(self._event(order, _KIND.get(order.status, "updated")))
            log.info(
                "order update",
                extra={
                    "client_id": order.client_id,
                    "status": order.status.label,
                    "filled": order.filled,
                    "source": update.source,
                },
            )
        return events

    def _fill(self, order: Order, update: VenueUpdate) -> Fill | None:
        if not update.trade_id or update.last_qty <= 0 or update.trade_id in order.trade_ids:
            return None
        order.trade_ids.add(update.trade_id)
        return Fill(
            order.client_id,
            order.intent.symbol,
            order.intent.side,
            update.last_qty,
            update.last_price,
            update.fee,
            update.maker,
            update.trade_id,
            order.intent.strategy,
            update.update_ms,
        )

    @staticmethod
    def _merge_status(order: Order, incoming: OrderStatus) -> OrderStatus:
        if order.filled >= order.intent.qty:
            return OrderStatus.FILLED
        current = order.status
        if incoming == OrderStatus.FILLED:
            # Said filled, but the quantity has not arrived yet: it will.
            incoming = OrderStatus.PARTIALLY_FILLED
        if incoming == OrderStatus.PENDING_CANCEL:
            return current
        if current.terminal and incoming.terminal:
            return max(current, incoming)
        if current.terminal:
            return current
        if incoming == OrderStatus.NEW and order.filled > 0:
            incoming = OrderStatus.PARTIALLY_FILLED
        return max(current, incoming)

    def reject(self, client_id: ClientId, reason: str) -> list[OrderEvent]:
        """The submit was refused (locally, or by the venue before it took the order)."""
        order = self._orders.get(client_id)
        if order is None or order.status.terminal or order.status != OrderStatus.PENDING_NEW:
            return []
        order.status = OrderStatus.REJECTED
        order.reason = reason
        order.cancel_requested = False
        log.warning("order rejected", extra={"client_id": client_id, "why": reason})
        return [self._event(order, "rejected")]

    def request_cancel(self, client_id: ClientId) -> list[OrderEvent]:
        order = self._orders.get(client_id)
        if order is None or not order.open or order.cancel_requested:
            return []
        order.cancel_requested = True
        return [self._event(order, "cancel_requested")]

    def cancel_rejected(self, client_id: ClientId, reason: str) -> list[OrderEvent]:
        """The venue refused the cancel (e.g. unknown order: it may have just filled)."""
        order = self._orders.get(client_id)
        if order is None or not order.cancel_requested:
            return []
        order.cancel_requested = False
        log.info("cancel refused", extra={"client_id": client_id, "why": reason})
        return [self._event(order, "cancel_rejected")]

    def forget_terminal(self, keep: int = 1000) -> None:
        """Bound memory: drop the oldest finished orders beyond `keep`."""
        done = [o for o in self._orders.values() if not o.open]
        for order in sorted(done, key=lambda o: o.updated_ns)[: max(0, len(done) - keep)]:
            del self._orders[order.client_id]
