"""The paper matcher: simulated fills against the venue's live book, with a queue model.

Owns: the paper orders (in flight or resting) with each one's place in its queue (`ahead`,
the level size last seen, the volume traded at the level since the last diff), the last book
seen per symbol, the *shadow* of liquidity paper orders took from those books, and the
updates not yet drained. It never changes the venue's book; it reads it. What it says comes
out as `VenueUpdate`s shaped like the venue's (source "paper"), so the order tracker and the
account treat paper and live the same way.

The model:
- Latency: an order reaches the simulated venue `latency_ns` after `submit`, a cancel takes
  effect `latency_ns` after `cancel`; a fill in between still happens. Due events are played
  in time order by `advance`, which `on_book` and `on_trade` call first. A malformed order
  (unknown symbol, no quantity, a LIMIT without a price) is REJECTED at once.
- Arrival: a marketable order (or a MARKET one) takes the opposite side of the last book seen
  level by level at each level's price (taker fee). GTX that would take expires, FOK that
  cannot fill whole expires without fills, IOC and MARKET remainders expire, a GTC remainder
  rests. The lots taken go into the shadow, so later orders and diffs do not take them again;
  a shadow entry is clipped to its level's size on each diff and dropped when the level
  empties (real activity is taken to happen behind the lots we removed). Post-only judges by
  the venue's displayed book, shadow or not.
- Queue: a resting order joins the *back* of its level (`ahead` = the level's size at
  arrival; at the first book if none was seen yet). Trades at our price on our side consume
  `ahead` first, then fill us (maker fee). A trade through our price means the level was swept:
  we fill completely at our price. On a diff, a level that shrank by more than what traded
  there since the last diff lost the difference to cancels, taken from the queue pro rata:
  `ahead -= cancelled * ahead // size_before_cancels`; growth joins behind us. If the opposite
  side crosses our price (its best at or through it), the venue would have matched us: we fill
  at our price against the crossing size not yet in the shadow.
- Simplifications: paper orders do not queue behind each other or share a trade's volume;
  trades are assumed to arrive before the diff that shows them.
Deterministic: no randomness, no clock; all time comes from the `now_ns` arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hftui.engine.book import ASKS, BIDS, OrderBook
from hftui.engine.instrument import Instrument
from hftui.engine.intents import ClientId, Lots, Ticks, VenueUpdate
from hftui.protocol import OrderStatus, OrderType, Side, TimeInForce

__all__ = ["PaperConfig", "PaperMatcher"]

_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)


@dataclass(frozen=True, slots=True)
class PaperConfig:
    latency_ns: int = 5_000_000  # applies to entry and to cancel
    maker_fee_rate: float = 0.0002  # as the local exchange and Binance VIP0 charge
    taker_fee_rate: float = 0.0005


@dataclass(slots=True)
class _Order:
    client_id: ClientId
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    venue_id: int
    arrive_ns: int
    filled: int = 0
    cost: int = 0  # sum of fill ticks * lots, for the average price
    ahead: int = 0  # lots queued in front of us at our level
    level_seen: int = 0  # our level's size at the last diff
    traded_here: int = 0  # traded at our level on our side since the last diff
    active: bool = False  # reached the venue
    placed: bool = False  # has a queue position (a book was seen)
    done: bool = False
    cancel_ns: int = 0  # 0: no cancel pending

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def own_side(self) -> int:
        return BIDS if self.side == Side.BUY else ASKS

    @property
    def other_side(self) -> int:
        return ASKS if self.side == Side.BUY else BIDS

    def reaches(self, price: int) -> bool:
        """Whether an opposite level at `price` is within our limit."""
        if self.order_type == OrderType.MARKET:
            return True
        return price <= self.price if self.side == Side.BUY else price >= self.price


class PaperMatcher:
    def __init__(
        self, instruments: Mapping[str, Instrument], config: PaperConfig = PaperConfig()
    ) -> None:
        self.instruments = instruments
        self.config = config
        self._orders: dict[ClientId, _Order] = {}
        self._books: dict[str, OrderBook] = {}
        self._taken: dict[str, dict[tuple[int, int], int]] = {}  # (side, ticks) -> lots
        self._out: list[VenueUpdate] = []
        self._next_id = 1
        self._next_trade = 1
        self._due = math.inf  # earliest pending arrival or cancel
        self._now = 0  # time of the event being played, for update_ms

    def resume_trade_ids(self, after: int) -> None:
        """Number the next fills from `after` + 1 (the last trade id an earlier run used)."""
        self._next_trade = max(self._next_trade, after + 1)

    # ---- requests -------------------------------------------------------------------------

    def submit(
        self,
        client_id: ClientId,
        symbol: str,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Ticks,
        qty: Lots,
        now_ns: int,
    ) -> None:
        """Send an order to the simulated venue; it arrives after the latency.

        Args:
            client_id: the engine's id for the order; updates carry it.
            symbol: the contract.
            side: buy or sell.
            order_type: LIMIT or MARKET (whose price is ignored).
            tif: GTC, IOC, FOK or GTX (post-only).
            price: the limit in ticks.
            qty: the quantity in lots.
            now_ns: the time of sending.

        Raises:
            ValueError: `client_id` is already open here (ids are unique by construction).
        """
        if client_id in self._orders:
            raise ValueError(f"paper order {client_id} is already open")
        order = _Order(client_id, symbol, side, order_type, tif, price, qty, self._next_id, now_ns)
        self._next_id += 1
        order.arrive_ns += self.config.latency_ns
        why = ""
        if symbol not in self.instruments:
            why = f"unknown symbol {symbol}"
        elif qty <= 0:
            why = "quantity must be positive"
        elif order_type == OrderType.LIMIT and price <= 0:
            why = "a limit order needs a positive price"
        if why:  # the request is malformed: refused at once, it never travels
            self._now = now_ns
            self._emit(order, OrderStatus.REJECTED, reason=why)
            return
        self._orders[client_id] = order
        self._due = min(self._due, order.arrive_ns)

    def cancel(self, client_id: ClientId, now_ns: int) -> bool:
        """Cancel an order; it takes effect after the latency (fills before that stand).

        Args:
            client_id: the order.
            now_ns: the time of sending the cancel.

        Returns:
            True if the order is known and open; False otherwise (nothing happens).
        """
        order = self._orders.get(client_id)
        if order is None:
            return False
        at = now_ns + self.config.latency_ns
        order.cancel_ns = min(order.cancel_ns, at) if order.cancel_ns else at
        self._due = min(self._due, at)
        return True

    @property
    def busy(self) -> bool:
        """Any order in flight or resting: the receive path asks this on every frame."""
        return bool(self._orders)

    def open_orders(self) -> list[ClientId]:
        """Orders in flight or resting, oldest first."""
        return list(self._orders)

    def drain(self) -> list[VenueUpdate]:
        """Updates produced since the last drain, in order."""
        out, self._out = self._out, []
        return out

    # ---- the market -----------------------------------------------------------------------

    def advance(self, now_ns: int) -> None:
        """Play the arrivals and cancels whose latency has elapsed by `now_ns`, in time order.

        Args:
            now_ns: the current time.
        """
        if now_ns < self._due:
            return
        due: list[tuple[int, int, int, _Order]] = []
        for order in self._orders.values():
            if not order.active and order.arrive_ns <= now_ns:
                due.append((order.arrive_ns, 0, order.venue_id, order))
            if order.cancel_ns and order.cancel_ns <= now_ns:
                due.append((order.cancel_ns, 1, order.venue_id, order))
        # An arrival and its cancel at the same instant: the order arrives first.
        due.sort(key=lambda event: event[:3])
        for at, kind, _, order in due:
            if order.done:
                continue
            self._now = at
            if kind == 0:
                self._arrive(order)
            else:
                self._finish(order, OrderStatus.CANCELED)
        pending = [o.arrive_ns for o in self._orders.values() if not o.active]
        pending += [o.cancel_ns for o in self._orders.values() if o.cancel_ns]
        self._due = min(pending, default=math.inf)

    def see_book(self, symbol: str, book: OrderBook) -> None:
        """Keep `book` as `symbol`'s last seen book, with no orders to work against it."""
        self._books[symbol] = book

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        """The venue's book of `symbol` after a diff: queue positions and crossings.

        Args:
            symbol: the contract.
            book: its book (kept as the last seen; read, never changed).
            now_ns: the time of the diff.
        """
        self._books[symbol] = book
        self.advance(now_ns)
        self._now = now_ns
        shadow = self._taken.get(symbol, {})
        for key, lots in list(shadow.items()):
            size = book.qty_at(*key)
            if size > 0:
                shadow[key] = min(lots, size)
            else:
                del shadow[key]
        for order in list(self._orders.values()):
            if order.symbol != symbol or not order.active:
                continue
            if order.placed:
                self._requeue(order, book.qty_at(order.own_side, order.price))
            else:
                self._place(order, book)
            self._fill_crossing(order, book)

    def on_trade(
        self, symbol: str, price: Ticks, qty: Lots, buyer_maker: bool, now_ns: int
    ) -> None:
        """A trade on the venue (an aggTrade): it may consume the queue ahead and fill us.

        Args:
            symbol: the contract.
            price: the trade price in ticks.
            qty: the traded lots.
            buyer_maker: True when the seller took liquidity (resting bids were hit).
            now_ns: the time of the trade.
        """
        self.advance(now_ns)
        self._now = now_ns
        for order in list(self._orders.values()):
            if order.symbol != symbol or not order.active:
                continue
            if buyer_maker != (order.side == Side.BUY):
                continue  # the aggressor hit the other side
            through = price < order.price if order.side == Side.BUY else price > order.price
            if through:
                self._fill(order, order.remaining, order.price, maker=True)
            elif price == order.price and order.placed:
                order.traded_here += qty
                left = qty - order.ahead
                order.ahead = max(0, order.ahead - qty)
                if left > 0:
                    self._fill(order, min(left, order.remaining), order.price, maker=True)

    # ---- internals ------------------------------------------------------------------------

    def _arrive(self, order: _Order) -> None:
        order.active = True
        book = self._books.get(order.symbol)
        if order.tif == TimeInForce.GTX and (
            order.order_type == OrderType.MARKET
            or (book is not None and self._crosses(order, book))
        ):
            self._finish(order, OrderStatus.EXPIRED, "post-only would take")
            return
        takes = self._liquidity(order, book) if book is not None else []
        if order.tif == TimeInForce.FOK and sum(lots for _, lots in takes) < order.qty:
            self._finish(order, OrderStatus.EXPIRED, "fill-or-kill could not fill completely")
            return
        self._emit(order, OrderStatus.NEW)
        for price, lots in takes:
            self._take(order, price, lots, price, maker=False)
        if order.done:
            return
        if order.order_type == OrderType.MARKET or order.tif in _IMMEDIATE:
            self._finish(order, OrderStatus.EXPIRED, "remainder expired: no more liquidity")
        elif book is not None:
            self._place(order, book)

    @staticmethod
    def _crosses(order: _Order, book: OrderBook) -> bool:
        best = book.best_ask() if order.side == Side.BUY else book.best_bid()
        return best >= 0 and order.reaches(best)

    def _liquidity(self, order: _Order, book: OrderBook) -> list[tuple[int, int]]:
        """Opposite levels within our limit, best first, less the shadow, each capped so the
        total covers no more than our remaining quantity."""
        side, shadow = order.other_side, self._taken.get(order.symbol, {})
        n = 16
        while True:
            arrays = [np.zeros(n, np.int64) for _ in range(4)]
            counts = book.top(n, *arrays)
            px, qty = (arrays[0], arrays[1]) if side == BIDS else (arrays[2], arrays[3])
            count = counts[0] if side == BIDS else counts[1]
            out: list[tuple[int, int]] = []
            need = order.remaining
            for price, lots in zip(px[:count].tolist(), qty[:count].tolist(), strict=True):
                if need <= 0 or not order.reaches(price):
                    return out
                free = min(lots - shadow.get((side, price), 0), need)
                if free > 0:
                    out.append((price, free))
                    need -= free
            if count < n or need <= 0:
                return out
            n *= 4  # the levels we may take go deeper than we looked

    def _take(self, order: _Order, level: int, lots: int, price: int, maker: bool) -> None:
        # Fill against an opposite level; its lots go into the shadow so none is taken twice.
        shadow, key = self._taken.setdefault(order.symbol, {}), (order.other_side, level)
        shadow[key] = shadow.get(key, 0) + lots
        self._fill(order, lots, price, maker)

    def _place(self, order: _Order, book: OrderBook) -> None:
        # The back of the queue: everything now at our level is ahead of us.
        order.ahead = order.level_seen = book.qty_at(order.own_side, order.price)
        order.traded_here = 0
        order.placed = True

    @staticmethod
    def _requeue(order: _Order, size: int) -> None:
        # What left the level beyond the traded volume was cancelled, pro rata through it.
        before = order.level_seen - order.traded_here
        cancelled = before - size
        if cancelled > 0 and order.ahead > 0:
            order.ahead -= cancelled * order.ahead // before
        order.ahead = max(0, min(order.ahead, size))
        order.level_seen = size
        order.traded_here = 0

    def _fill_crossing(self, order: _Order, book: OrderBook) -> None:
        # A resting order the opposite side reached would have been matched at its price.
        if order.done or not self._crosses(order, book):
            return
        for price, lots in self._liquidity(order, book):
            self._take(order, price, lots, order.price, maker=True)

    def _fill(self, order: _Order, lots: int, price: int, maker: bool) -> None:
        if lots <= 0 or order.done:
            return
        inst = self.instruments[order.symbol]
        order.filled += lots
        order.cost += lots * price
        rate = self.config.maker_fee_rate if maker else self.config.taker_fee_rate
        trade_id = self._next_trade
        self._next_trade += 1
        done = order.remaining <= 0
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        fee = lots * price / inst.notional_scale * rate
        self._emit(order, status, lots=lots, price=price, trade_id=trade_id, fee=fee, maker=maker)
        if done:
            self._remove(order)

    def _emit(
        self,
        order: _Order,
        status: OrderStatus,
        *,
        lots: int = 0,
        price: int = 0,
        trade_id: int = 0,
        fee: float = 0.0,
        maker: bool = False,
        reason: str = "",
    ) -> None:
        avg = 0
        if order.filled:  # the average fill price in 10**-price_decimals, rounded half up
            units = order.cost * self.instruments[order.symbol].tick_units
            avg = (2 * units + order.filled) // (2 * order.filled)
        self._out.append(
            VenueUpdate(
                order.client_id,
                order.symbol,
                status,
                order.venue_id,
                Lots(order.filled),
                avg,
                Lots(lots),
                Ticks(price),
                trade_id,
                fee,
                maker,
                update_ms=self._now // 1_000_000,
                source="paper",
                reason=reason,
            )
        )

    def _remove(self, order: _Order) -> None:
        order.done = True
        self._orders.pop(order.client_id, None)

    def _finish(self, order: _Order, status: OrderStatus, reason: str = "") -> None:
        self._remove(order)
        self._emit(order, status, reason=reason)
