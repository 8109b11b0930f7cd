"""The paper matcher: simulated fills against the venue's live book, with queue position.

Owns: the paper orders and their place in the queue. It never changes the venue's book; it
reads it. What it says comes out as `VenueUpdate`s shaped exactly like the venue's, so the
order tracker and the account treat paper and live the same way.

The model:
- Latency: an order reaches the simulated venue `latency_ns` after `submit`, and a cancel
  takes effect `latency_ns` after `cancel` (a fill in between still happens).
- On arrival a marketable order takes the opposite side level by level at each level's price
  (taker fee); IOC and MARKET remainders expire, FOK that cannot fill whole expires, a
  post-only (GTX) order that would take expires. The rest rests.
- A resting order joins the *back* of its level: `ahead` = the level's size at arrival.
- Trades at our price on our side consume `ahead` first, then fill us (maker fee).
- A trade through our price (the level was swept) fills us completely at our price.
- A level that shrinks by more than what traded there since the last diff lost that much to
  cancels; they are taken from the queue pro rata (`ahead * cancelled / size before`), the
  rest from behind us. Growth joins behind us.
- If the opposite best crosses our price on a diff, we fill against the crossing size.
Deterministic: no randomness, all time from the arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hftui.engine.book import ASKS, BIDS, OrderBook
from hftui.engine.instrument import Instrument
from hftui.engine.intents import ClientId, Lots, Ticks, VenueUpdate
from hftui.protocol import OrderStatus, OrderType, Side, TimeInForce

__all__ = ["PaperConfig", "PaperMatcher"]


@dataclass(frozen=True, slots=True)
class PaperConfig:
    latency_ns: int = 5_000_000
    maker_fee_rate: float = 0.0002
    taker_fee_rate: float = 0.0005


@dataclass(slots=True)
class _PaperOrder:
    client_id: ClientId
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    arrive_ns: int
    venue_id: int
    filled: int = 0
    cost: int = 0  # sum of fill ticks * lots, for the average price
    ahead: int = 0
    level_seen: int = 0  # the level's size at the last look
    traded_here: int = 0  # traded at our level since the last diff
    active: bool = False
    cancel_at: int = 0  # 0: no cancel pending

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


class PaperMatcher:
    def __init__(self, instruments: Mapping[str, Instrument], config: PaperConfig) -> None:
        self.instruments = instruments
        self.config = config
        self._orders: dict[ClientId, _PaperOrder] = {}
        self._books: dict[str, OrderBook] = {}
        self._out: list[VenueUpdate] = []
        self._next_id = 1
        self._next_trade = 1

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
        """Send an order to the simulated venue; it arrives after the latency."""
        venue_id = self._next_id
        self._next_id += 1
        inst = self.instruments.get(symbol)
        if inst is None or qty <= 0 or (order_type == OrderType.LIMIT and price <= 0):
            why = "unknown symbol" if inst is None else "bad quantity or price"
            self._out.append(
                VenueUpdate(
                    client_id, symbol, OrderStatus.REJECTED, venue_id, source="paper", reason=why
                )
            )
            return
        self._orders[client_id] = _PaperOrder(
            client_id,
            symbol,
            side,
            order_type,
            tif,
            price,
            qty,
            now_ns + self.config.latency_ns,
            venue_id,
        )

    def cancel(self, client_id: ClientId, now_ns: int) -> bool:
        """Cancel after the latency; False for an unknown or finished order."""
        order = self._orders.get(client_id)
        if order is None:
            return False
        if not order.cancel_at:
            order.cancel_at = now_ns + self.config.latency_ns
        return True

    def open_orders(self) -> list[ClientId]:
        return list(self._orders)

    def drain(self) -> list[VenueUpdate]:
        out, self._out = self._out, []
        return out

    # ---- the market -----------------------------------------------------------------------

    def advance(self, now_ns: int) -> None:
        """Arrivals and cancels whose latency has elapsed."""
        for order in list(self._orders.values()):
            if not order.active and order.arrive_ns <= now_ns:
                self._arrive(order)
            if order.client_id in self._orders and order.cancel_at and order.cancel_at <= now_ns:
                self._finish(order, OrderStatus.CANCELED)

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        self._books[symbol] = book
        self.advance(now_ns)
        for order in list(self._orders.values()):
            if order.symbol != symbol or not order.active:
                continue
            self._cross_check(order, book)
            if order.client_id not in self._orders:
                continue
            side = BIDS if order.side == Side.BUY else ASKS
            size = book.qty_at(side, order.price)
            shrink = order.level_seen - size - order.traded_here
            if shrink > 0 and order.level_seen > 0 and order.ahead > 0:
                order.ahead = max(0, order.ahead - shrink * order.ahead // order.level_seen)
            order.ahead = min(order.ahead, size)
            order.level_seen = size
            order.traded_here = 0

    def on_trade(
        self, symbol: str, price: Ticks, qty: Lots, buyer_maker: bool, now_ns: int
    ) -> None:
        self.advance(now_ns)
        for order in list(self._orders.values()):
            if order.symbol != symbol or not order.active:
                continue
            # buyer_maker: a seller took liquidity, so resting bids are the ones hit.
            ours = buyer_maker == (order.side == Side.BUY)
            if not ours:
                continue
            through = price < order.price if order.side == Side.BUY else price > order.price
            if through:
                self._fill(order, order.remaining, order.price, maker=True)
            elif price == order.price:
                order.traded_here += qty
                left = qty - order.ahead
                order.ahead = max(0, order.ahead - qty)
                if left > 0:
                    self._fill(order, min(left, order.remaining), order.price, maker=True)

    # ---- internals ------------------------------------------------------------------------

    def _arrive(self, order: _PaperOrder) -> None:
        order.active = True
        book = self._books.get(order.symbol)
        takes = self._takeable(order, book) if book is not None else []
        available = sum(lots for _, lots in takes)
        crosses = bool(takes) or order.order_type == OrderType.MARKET
        if order.tif == TimeInForce.GTX and crosses:
            self._finish(order, OrderStatus.EXPIRED, reason="post-only would take")
            return
        if order.tif == TimeInForce.FOK and available < order.qty:
            self._finish(order, OrderStatus.EXPIRED, reason="fill-or-kill could not fill")
            return
        self._update(order, OrderStatus.NEW)
        for price, lots in takes:
            if order.remaining <= 0:
                break
            self._fill(order, min(lots, order.remaining), price, maker=False)
        if order.client_id not in self._orders:
            return
        if order.order_type == OrderType.MARKET or order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(order, OrderStatus.EXPIRED, reason="remainder expired")
            return
        if book is not None:
            side = BIDS if order.side == Side.BUY else ASKS
            order.ahead = order.level_seen = book.qty_at(side, order.price)

    def _takeable(self, order: _PaperOrder, book: OrderBook) -> list[tuple[int, int]]:
        # Opposite levels our price reaches, best first, enough to cover our quantity.
        bids, asks = book.levels() if self._needs_depth(order, book) else ([], [])
        levels = asks if order.side == Side.BUY else bids
        out: list[tuple[int, int]] = []
        need = order.qty
        for price, lots in levels:
            if order.order_type == OrderType.LIMIT and (
                price > order.price if order.side == Side.BUY else price < order.price
            ):
                break
            out.append((price, lots))
            need -= lots
            if need <= 0:
                break
        return out

    @staticmethod
    def _needs_depth(order: _PaperOrder, book: OrderBook) -> bool:
        if order.order_type == OrderType.MARKET:
            return True
        if order.side == Side.BUY:
            ask = book.best_ask()
            return ask >= 0 and ask <= order.price
        bid = book.best_bid()
        return bid >= 0 and bid >= order.price

    def _cross_check(self, order: _PaperOrder, book: OrderBook) -> None:
        if order.side == Side.BUY:
            best = book.best_ask()
            if best < 0 or best > order.price:
                return
            size = book.qty_at(ASKS, best)
        else:
            best = book.best_bid()
            if best < 0 or best < order.price:
                return
            size = book.qty_at(BIDS, best)
        self._fill(order, min(size, order.remaining), order.price, maker=True)

    def _fill(self, order: _PaperOrder, lots: int, price: int, maker: bool) -> None:
        if lots <= 0:
            return
        inst = self.instruments[order.symbol]
        order.filled += lots
        order.cost += lots * price
        rate = self.config.maker_fee_rate if maker else self.config.taker_fee_rate
        fee = lots * price / inst.notional_scale * rate
        done = order.remaining <= 0
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        trade = self._next_trade
        self._next_trade += 1
        self._out.append(
            VenueUpdate(
                order.client_id,
                order.symbol,
                status,
                order.venue_id,
                Lots(order.filled),
                self._avg(order, inst),
                Lots(lots),
                Ticks(price),
                trade,
                fee,
                maker,
                source="paper",
            )
        )
        if done:
            del self._orders[order.client_id]

    @staticmethod
    def _avg(order: _PaperOrder, inst: Instrument) -> int:
        if not order.filled:
            return 0
        # Average in price units, rounded half up.
        num = order.cost * inst.tick_units
        return (2 * num + order.filled) // (2 * order.filled)

    def _update(self, order: _PaperOrder, status: OrderStatus, reason: str = "") -> None:
        inst = self.instruments[order.symbol]
        self._out.append(
            VenueUpdate(
                order.client_id,
                order.symbol,
                status,
                order.venue_id,
                Lots(order.filled),
                self._avg(order, inst),
                source="paper",
                reason=reason,
            )
        )

    def _finish(self, order: _PaperOrder, status: OrderStatus, reason: str = "") -> None:
        self._orders.pop(order.client_id, None)
        self._update(order, status, reason)
