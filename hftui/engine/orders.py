"""Orders: an event-sourced state machine fed by REST answers and user-data events alike.

Owns: every order this engine placed (`Order`), keyed by client order id, with the venue
trade ids already turned into fills. Only `OrderTracker` writes an order, and only through
its doors: `submit`, `apply` (any `VenueUpdate`: REST, stream or paper), `reject`,
`reject_foreign`, `request_cancel` and `cancel_rejected`.

Updates arrive in any order and more than once: the REST answer before or after the stream
events, a stream NEW after a FILLED, the same trade twice. So an order's venue state is a
*join* (a monotone merge) of everything seen, and the end state does not depend on arrival
order:

- `filled` is the largest cumulative quantity seen; `avg_price` comes from the update with
  the largest `filled` (ties: the larger price, so the choice does not depend on order).
- `venue_status` is the largest venue word seen in `OrderStatus` order, and `status` is
  derived from it: an order whose `filled` reached its quantity is FILLED, whatever else was
  said (a cancel cannot undo a trade; the CANCELED answer lost a race it could not see). A
  FILLED word with a short `filled` counts as PARTIALLY_FILLED: "filled" always means
  `filled == qty`. Otherwise the venue's terminal word stands: CANCELED, EXPIRED or REJECTED
  (never both at one venue; if they differ the higher enum wins, to stay deterministic). A
  NEW with `filled > 0` reads PARTIALLY_FILLED.
- PENDING_CANCEL is a flag (`cancel_requested`), not a rank: fills still arrive while a
  cancel is in flight, and a PARTIALLY_FILLED after the request keeps the flag. `status`
  shows PENDING_CANCEL while the flag is set and the order is not terminal.
- A local refusal (`reject`) is the weakest word: it makes a PENDING_NEW order REJECTED, but
  any word from the venue about the order overrides it, because the venue does have the
  order then and it must stay visible to be cancelled.
- A submit refused because another venue order already holds the client id
  (`reject_foreign`) is REJECTED for good: that other order's updates carry the same client
  id, and they are dropped by its venue order id, so its fills never count as ours.
- A fill is emitted exactly once per venue trade id. A REST answer only advances `filled`:
  fills come with trade ids (stream or paper) and are never synthesized from totals.

`apply` returns events only when something changed: a new trade, `status`, `filled`, or the
venue's word while a cancel is in flight. Applying the same update twice returns nothing the
second time. Trade events have kind "fill"; the others are named after the new status.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hftui.engine.instrument import Instrument
from hftui.engine.intents import ClientId, Lots, OrderIntent, Ticks, VenueUpdate
from hftui.protocol import OrderStatus, Side

__all__ = ["Fill", "Order", "OrderEvent", "OrderTracker", "update_from_rest", "update_from_stream"]

log = logging.getLogger(__name__)

_STATUS = {s.name: s for s in OrderStatus if s.name not in ("PENDING_NEW", "PENDING_CANCEL")}
_STATUS["EXPIRED_IN_MATCH"] = OrderStatus.EXPIRED  # expired by self-trade prevention
# The stream's `er` codes 0-9, as reasons for the trader.
_EXPIRY = (
    "expired", "self-trade prevention", "IOC remainder expired",
    "IOC remainder expired (self-trade prevention)", "knocked out by reduce-only",
    "account liquidated", "GTE condition", "symbol delisted", "expired after stop trigger",
    "market order remainder expired",
)  # fmt: skip
_Payload = Mapping[str, object]
_UNKNOWN_IDS_KEPT = 4096  # unknown client ids remembered (to warn once); then start over


@dataclass(frozen=True, slots=True)
class Fill:
    """One venue trade of one order, emitted exactly once per trade id."""

    client_id: ClientId
    symbol: str
    side: Side
    qty: Lots
    price: Ticks
    fee: float  # USDT; negative for a rebate
    maker: bool
    trade_id: int
    strategy: str
    time_ms: int


@dataclass(slots=True)
class Order:
    """One order's state. Mutable, but only `OrderTracker` writes it."""

    client_id: ClientId
    intent: OrderIntent
    status: OrderStatus = OrderStatus.PENDING_NEW  # derived; see the module docstring
    venue_order_id: int = 0
    filled: Lots = Lots(0)  # noqa: RUF009  (NewType: a plain int at run time)
    avg_price: int = 0  # 10**-price_decimals units
    fee: float = 0.0
    cancel_requested: bool = False
    reason: str = ""
    created_ns: int = 0
    updated_ns: int = 0
    last_update_ms: int = 0
    venue_status: OrderStatus = OrderStatus.PENDING_NEW  # the join of the venue's words
    rejected_locally: bool = False
    foreign_order_id: int = 0  # another venue order holding this client id: not ours
    trades: dict[int, float] = field(default_factory=dict, repr=False)  # trade id -> fee
    traded: Lots = Lots(0)  # noqa: RUF009  the sum of the trades' quantities (filled by fills)

    @property
    def remaining(self) -> Lots:
        return Lots(max(0, self.intent.qty - self.filled))

    @property
    def open(self) -> bool:
        return not self.status.terminal

    @property
    def shown_status(self) -> OrderStatus:
        """The status as a trader reads it (kept for callers; `status` already shows it)."""
        return self.status


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """What changed, for the journal, the TUI and strategies.

    `kind`: "fill" (carries `fill`), "accepted", "partially_filled", "filled", "canceled",
    "expired", "rejected", "cancel_requested" or "cancel_rejected". The other fields are the
    order's state after the change.
    """

    kind: str
    client_id: ClientId
    status: OrderStatus
    filled: Lots
    fill: Fill | None = None
    avg_price: int = 0
    reason: str = ""


# ---- parsing --------------------------------------------------------------------------------


def _str(p: _Payload, key: str, default: str | None = None) -> str:
    value = p.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"order payload: field {key!r} missing or not a string ({value!r})")
    return value


def _int(p: _Payload, key: str, default: int | None = None) -> int:
    value = p.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"order payload: field {key!r} missing or not an integer ({value!r})")
    return value


def _units(p: _Payload, key: str, parse: Callable[[str], int], default: str | None = "0") -> int:
    text = _str(p, key, default)
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"order payload: field {key!r}: {exc}") from None


def _status(p: _Payload, key: str) -> OrderStatus:
    text = _str(p, key)
    if text not in _STATUS:
        raise ValueError(f"order payload: field {key!r}: unknown status {text!r}")
    return _STATUS[text]


def _fee(text: str) -> float:
    try:
        fee = float(text)
    except ValueError:
        fee = math.nan
    if not math.isfinite(fee):
        raise ValueError(f"order payload: field 'n' is not a finite number ({text!r})")
    return fee


def _expiry(code: str) -> str:
    return _EXPIRY[int(code)] if code.isdigit() and int(code) < len(_EXPIRY) else f"er {code}"


def _common(payload: object, symbol_key: str, instrument: Instrument) -> _Payload:
    if not isinstance(payload, Mapping):
        raise ValueError(f"order payload: not an object ({type(payload).__name__})")
    if _str(payload, symbol_key) != instrument.symbol:
        raise ValueError(f"order payload: field {symbol_key!r} is not {instrument.symbol}")
    return payload


def update_from_rest(payload: Mapping[str, object], instrument: Instrument) -> VenueUpdate:
    """A REST order object (place RESULT or ACK, query, cancel) as a `VenueUpdate`.

    Args:
        payload: the decoded JSON order object.
        instrument: the order's contract, for its price and quantity grid.

    Returns:
        The normalised update (source "rest", no trade fields: REST carries totals only).

    Raises:
        ValueError: a field is missing, of the wrong type, off the grid, or another symbol's.
    """
    p = _common(payload, "symbol", instrument)
    cid = _str(p, "clientOrderId")
    status = _status(p, "status")
    filled = _units(p, "executedQty", instrument.qty_lots)  # ACK answers may leave it out
    avg = _units(p, "avgPrice", instrument.price_units_of) if filled else 0
    return VenueUpdate(
        client_id=ClientId(cid),
        symbol=instrument.symbol,
        status=status,
        venue_order_id=_int(p, "orderId", 0),
        filled=Lots(filled),
        avg_price=avg,
        update_ms=_int(p, "updateTime", 0),
        source="rest",
    )


def update_from_stream(
    o: Mapping[str, object], event_time_ms: int, instrument: Instrument
) -> VenueUpdate:
    """The `o` object of an `ORDER_TRADE_UPDATE` event as a `VenueUpdate`.

    Args:
        o: the event's order object.
        event_time_ms: the envelope's `E`, used when the order has no trade time `T`.
        instrument: the order's contract, for its price and quantity grid.

    Returns:
        The normalised update; trade fields are set only for execution type TRADE.

    Raises:
        ValueError: a field is missing, of the wrong type, off the grid, or another symbol's.
    """
    p = _common(o, "s", instrument)
    cid = _str(p, "c")
    execution = _str(p, "x")
    status = _status(p, "X")
    filled = _units(p, "z", instrument.qty_lots, default=None)
    avg = _units(p, "ap", instrument.price_units_of) if filled else 0
    last_qty = last_price = trade_id = 0
    fee, maker = 0.0, False
    if execution == "TRADE":
        last_qty = _units(p, "l", instrument.qty_lots, default=None)
        last_price = _units(p, "L", instrument.price_ticks, default=None)
        trade_id = _int(p, "t")
        if trade_id == 0:
            raise ValueError("order payload: field 't': a TRADE without a trade id")
        fee, m = _fee(_str(p, "n", "0")), p.get("m", False)
        if not isinstance(m, bool):
            raise ValueError(f"order payload: field 'm' is not a boolean ({m!r})")
        maker = m
    return VenueUpdate(
        client_id=ClientId(cid),
        symbol=instrument.symbol,
        status=status,
        venue_order_id=_int(p, "i", 0),
        filled=Lots(filled),
        avg_price=avg,
        last_qty=Lots(last_qty),
        last_price=Ticks(last_price),
        trade_id=trade_id,
        fee=fee,
        maker=maker,
        update_ms=_int(p, "T", max(0, event_time_ms)),
        source="stream",
        reason=_expiry(_str(p, "er", "0")) if status == OrderStatus.EXPIRED else "",
    )


# ---- the tracker ----------------------------------------------------------------------------

# The event kind of a change to each status ("accepted" for NEW, the status label otherwise).
_KIND = {s: s.name.lower() for s in OrderStatus} | {
    OrderStatus.NEW: "accepted",
    OrderStatus.PENDING_CANCEL: "cancel_requested",
}


def _venue_word(order: Order) -> OrderStatus:
    """What the venue's joined word means, before the quantity and the cancel flag."""
    word = order.venue_status
    if word == OrderStatus.FILLED or (word == OrderStatus.NEW and order.filled):
        return OrderStatus.PARTIALLY_FILLED  # "filled" only ever means filled == qty
    return word


def _derive(order: Order) -> OrderStatus:
    """The order's status from its joined parts (see the module docstring)."""
    if order.filled >= order.intent.qty:
        return OrderStatus.FILLED
    word = _venue_word(order)
    if word == OrderStatus.PENDING_NEW and order.rejected_locally:
        return OrderStatus.REJECTED
    if order.cancel_requested and not word.terminal:
        return OrderStatus.PENDING_CANCEL
    return word


def _add_trade(order: Order, trade_id: int, lots: int, fee: float) -> None:
    order.trades[trade_id] = fee
    order.traded = Lots(order.traded + lots)
    order.fee = math.fsum(order.trades.values())  # exact, so arrival order cannot show


class OrderTracker:
    """Every order this engine placed, merged from whatever the venue says in whatever order.

    Args:
        clock_ns: wall clock for `created_ns`/`updated_ns` (injectable for tests).
    """

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.clock_ns = clock_ns
        self._orders: dict[ClientId, Order] = {}
        self._unknown: set[str] = set()

    def get(self, client_id: str) -> Order | None:
        """The order with this client id, or None (never placed, or forgotten)."""
        return self._orders.get(ClientId(client_id))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders not yet terminal, oldest first; of `symbol` only when given."""
        return [
            o
            for o in self._orders.values()
            if o.open and (symbol is None or o.intent.symbol == symbol)
        ]

    def submit(self, client_id: ClientId, intent: OrderIntent) -> Order:
        """Start tracking a new order, PENDING_NEW until the venue (or a refusal) says more.

        Args:
            client_id: the order's client id; never reused for another order.
            intent: what is being sent.

        Returns:
            The new order.

        Raises:
            ValueError: the client id is already tracked, or the quantity is not positive.
        """
        if client_id in self._orders:
            raise ValueError(f"client order id {client_id} is already in use")
        if intent.qty <= 0:
            raise ValueError(f"order {client_id}: quantity must be positive, not {intent.qty}")
        now = self.clock_ns()
        order = Order(client_id, intent, created_ns=now, updated_ns=now)
        self._orders[client_id] = order
        return order

    def apply(self, update: VenueUpdate) -> list[OrderEvent]:
        """Merge one venue (or paper) update into its order.

        Args:
            update: a parsed REST answer, stream event or paper matcher update.

        Returns:
            A "fill" event for a trade id not seen before, then a status event if `status`
            or `filled` changed; [] when the update said nothing new or the order is unknown.
        """
        order = self._orders.get(update.client_id)
        extra = {"client_id": update.client_id, "symbol": update.symbol}
        if order is None:
            if update.client_id not in self._unknown:  # warn once; reconciliation sorts it out
                if len(self._unknown) >= _UNKNOWN_IDS_KEPT:
                    self._unknown.clear()
                self._unknown.add(update.client_id)
                log.warning("update for an order this engine does not track", extra=extra)
            return []
        if update.symbol != order.intent.symbol:
            log.warning("update for another symbol dropped", extra=extra)
            return []
        if order.foreign_order_id and update.venue_order_id == order.foreign_order_id:
            log.info("update for another order with this client id dropped", extra=extra)
            return []
        before = (order.status, order.venue_status, order.filled)
        fill = self._take_fill(order, update)
        self._merge(order, update)
        order.status = _derive(order)
        return self._events(order, before, fill, update.source)

    def note_trade(self, client_id: str, trade_id: int, lots: int, fee: float) -> bool:
        """A trade of a tracked order that recovery read from the venue's trade list (and
        accounts for itself), kept as the stream's copy of it would be: whichever of the two
        arrives second is then not a new fill. False if the order already had it; True if
        it was new here or the order is not tracked."""
        order = self._orders.get(ClientId(client_id))
        if order is None:
            return True
        if trade_id in order.trades:
            return False
        _add_trade(order, trade_id, lots, fee)
        return True

    def _take_fill(self, order: Order, update: VenueUpdate) -> Fill | None:
        if not update.trade_id or update.last_qty <= 0 or update.trade_id in order.trades:
            return None
        _add_trade(order, update.trade_id, update.last_qty, update.fee)
        i, u = order.intent, update
        return Fill(
            order.client_id, i.symbol, i.side, u.last_qty, u.last_price, u.fee, u.maker,
            u.trade_id, i.strategy, u.update_ms,
        )  # fmt: skip

    @staticmethod
    def _merge(order: Order, update: VenueUpdate) -> None:
        cid, qty = order.client_id, order.intent.qty
        if update.venue_order_id:
            if order.venue_order_id not in (0, update.venue_order_id):
                log.warning("venue order id changed", extra={"client_id": cid})
            order.venue_order_id = max(order.venue_order_id, update.venue_order_id)
        if update.filled > qty:
            log.warning("venue reports more filled than ordered", extra={"client_id": cid})
        if update.status == OrderStatus.FILLED and update.filled < qty:
            log.warning("venue says filled with a short quantity", extra={"client_id": cid})
        if (update.filled, update.avg_price) > (order.filled, order.avg_price):
            order.avg_price = update.avg_price if update.filled else 0
        order.filled = Lots(max(order.filled, update.filled))
        if update.status != OrderStatus.PENDING_CANCEL and update.status > order.venue_status:
            if order.rejected_locally and order.venue_status == OrderStatus.PENDING_NEW:
                log.warning("the venue has an order refused locally", extra={"client_id": cid})
                order.reason = ""
            order.venue_status = update.status
        if update.reason and update.status.terminal and update.status == order.venue_status:
            order.reason = update.reason
        order.last_update_ms = max(order.last_update_ms, update.update_ms)

    def _events(
        self,
        order: Order,
        before: tuple[OrderStatus, OrderStatus, Lots],
        fill: Fill | None,
        source: str,
    ) -> list[OrderEvent]:
        status, word, filled = before
        events = [self._event(order, "fill", fill)] if fill is not None else []
        if order.status != status:
            kind = _KIND[order.status]
            if order.status == OrderStatus.PENDING_CANCEL:  # the venue spoke, not the trader
                kind = _KIND.get(_venue_word(order), "accepted")
        elif order.filled != filled:
            kind = "partially_filled"
        elif order.venue_status != word and not order.status.terminal:
            kind = _KIND.get(_venue_word(order), "accepted")  # e.g. while a cancel is in flight
        else:
            return events
        events.append(self._event(order, kind))
        extra = {"client_id": order.client_id, "filled": order.filled, "source": source}
        log.info("order %s", kind, extra=extra)
        return events

    def _event(self, order: Order, kind: str, fill: Fill | None = None) -> OrderEvent:
        order.updated_ns = self.clock_ns()
        return OrderEvent(
            kind, order.client_id, order.status, order.filled, fill, order.avg_price, order.reason
        )

    def reject(self, client_id: ClientId, reason: str) -> list[OrderEvent]:
        """The submit was refused, locally or by the venue (e.g. REST 400, -2010).

        Args:
            client_id: the refused order.
            reason: why, for the trader.

        Returns:
            A "rejected" event; [] when the venue already said more (its word stands).
        """
        order = self._orders.get(client_id)
        if order is None or order.rejected_locally:
            return []
        order.rejected_locally = True
        status = _derive(order)
        if status == order.status:
            log.info("refusal ignored: the venue has the order", extra={"client_id": client_id})
            return []
        order.status, order.reason = status, reason
        log.warning("order rejected", extra={"client_id": client_id, "why": reason})
        return [self._event(order, "rejected")]

    def reject_foreign(
        self, client_id: ClientId, venue_order_id: int, reason: str
    ) -> list[OrderEvent]:
        """The venue refused the submit as a duplicate client id, and the order holding the id
        (`venue_order_id`) is not this one: this order is REJECTED for good, and updates about
        that other order are dropped from now on.

        A word from that other order that arrived before the refusal (same client id) is
        undone, unless it carried a fill: that cannot be taken back, so it is logged.

        Returns:
            A "rejected" event; [] when the order is unknown or already terminal by its own
            venue word.
        """
        order = self._orders.get(client_id)
        if order is None:
            return []
        order.foreign_order_id = venue_order_id
        if order.venue_order_id == venue_order_id:
            if order.filled or order.trades:
                log.error(
                    "fills of another order with this client id were counted",
                    extra={"client_id": client_id, "venue_order_id": venue_order_id},
                )
                return []
            order.venue_order_id = 0
            order.venue_status = OrderStatus.PENDING_NEW
            order.last_update_ms = 0
        order.rejected_locally = False  # the refusal below is final: say it again
        return self.reject(client_id, reason)

    def request_cancel(self, client_id: ClientId) -> list[OrderEvent]:
        """Mark an open order as being cancelled (status PENDING_CANCEL until the venue answers).

        Returns:
            A "cancel_requested" event; [] if the order is unknown, terminal or already marked.
        """
        order = self._orders.get(client_id)
        if order is None or not order.open or order.cancel_requested:
            return []
        order.cancel_requested = True
        order.status = _derive(order)
        log.info("cancel requested", extra={"client_id": client_id})
        return [self._event(order, "cancel_requested")]

    def cancel_rejected(self, client_id: ClientId, reason: str) -> list[OrderEvent]:
        """The venue refused the cancel (e.g. -2011: the order may have just filled; a query
        settles it). Clears the cancel flag.

        Returns:
            A "cancel_rejected" event; [] if no cancel was pending.
        """
        order = self._orders.get(client_id)
        if order is None or not order.cancel_requested:
            return []
        order.cancel_requested = False
        order.status = _derive(order)
        log.info("cancel refused", extra={"client_id": client_id, "why": reason})
        return [self._event(order, "cancel_rejected")]

    def forget_terminal(self, keep: int = 1000) -> None:
        """Bound memory: drop the oldest terminal orders (by last change) beyond `keep`.

        A late update for a dropped order is then treated as unknown (logged, no event), so a
        duplicate trade can still never become a second fill.
        """
        done = [o for o in self._orders.values() if not o.open]
        for order in sorted(done, key=lambda o: o.updated_ns)[: max(0, len(done) - keep)]:
            del self._orders[order.client_id]
