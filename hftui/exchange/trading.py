"""Participants' orders: validation by the venue's filters, matching in the shared book,
fills, and the user-data events they cause.

Owns nothing of its own but the order id counter: accounts hold orders and positions, the
venue's books hold resting liquidity. Participants' orders rest in the same price-time queues
as the synthetic flow, so they fill only when flow reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Final

import orjson

from hftui.exchange.accounts import (
    MAKER_FEE,
    TAKER_FEE,
    Account,
    Order,
    Trade,
    money,
    money_text,
)
from hftui.exchange.book import BUY, SELL, STP_MODES, Fill, RestingOrder
from hftui.exchange.errors import VenueError
from hftui.exchange.stats import decimal_ticks
from hftui.exchange.symbols import SymbolSpec
from hftui.exchange.venue import SymbolVenue, Venue

__all__ = ["Trading"]

UserPublisher = Callable[[Account, dict[str, object]], None]

_CLIENT_ID: Final = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_CONDITIONAL: Final = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
_MAX_OPEN_ORDERS: Final = 200
_RESTING_TIFS: Final = frozenset({"GTC", "GTX"})  # post-only rests when it does not cross
_PERCENT_UP: Final = Decimal("1.05")
_PERCENT_DOWN: Final = Decimal("0.95")
_MARKET_TAKE_BOUND: Final = Decimal("0.05")


class Trading:
    """Order entry and fills for every account of one exchange."""

    def __init__(
        self,
        venue: Venue,
        accounts: dict[str, Account],
        clock_ms: Callable[[], int],
        publish_user: UserPublisher,
    ) -> None:
        self.venue = venue
        self.accounts = accounts
        self.clock_ms = clock_ms
        self.publish_user = publish_user
        self._next_order_id = 8_000_000_000  # far above the synthetic flow's ids
        self._next_trade_id = 900_000_000
        self._client_seq = 0
        self.listen_key_lifetime_ms = 3_600_000
        venue.on_maker_fill = self._maker_fill

    # ---- numbers ------------------------------------------------------------------------

    def next_order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id

    def next_trade_id(self) -> int:
        self._next_trade_id += 1
        return self._next_trade_id

    def symbol_of(self, params: dict[str, str]) -> SymbolVenue:
        name = params.get("symbol", "")
        if not name:
            raise VenueError.mandatory("symbol")
        venue = self.venue.symbols.get(name)
        if venue is None:
            raise VenueError(400, -1121, "Invalid symbol.")
        return venue

    @staticmethod
    def decimal_param(params: dict[str, str], name: str) -> Decimal:
        text = params.get(name, "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise VenueError.mandatory(name) from None
        if not value.is_finite():
            raise VenueError.mandatory(name)
        return value

    def mark_price(self, venue: SymbolVenue) -> Decimal:
        """The mark price: index plus smoothed premium (see `stats.py`), to 8 decimals."""
        return Decimal(decimal_ticks(venue.stats.mark, venue.spec.tick_size))

    def settle_funding(self) -> None:
        """Funding: each position pays (or receives) notional at mark x the funding rate."""
        now = self.clock_ms()
        for venue in self.venue.symbols.values():
            symbol = venue.spec.symbol
            rate = Decimal(f"{venue.stats.funding_rate:.8f}")
            mark = self.mark_price(venue)
            venue.stats.funding_history.append((now, float(rate), float(mark)))
            for account in self.accounts.values():
                position = account.positions.get(symbol)
                if position is None or not position.amount:
                    continue
                payment = money(position.amount * mark * rate)  # longs pay a positive rate
                account.wallet -= payment
                account.update_ms = now
                self.publish_user(
                    account,
                    {
                        "e": "ACCOUNT_UPDATE",
                        "E": now,
                        "T": now,
                        "a": {
                            "m": "FUNDING_FEE",
                            "S": symbol,
                            "B": [
                                {
                                    "a": "USDT",
                                    "wb": money_text(account.wallet),
                                    "cw": money_text(account.wallet),
                                    "bc": money_text(-payment),
                                }
                            ],
                            "P": [],
                        },
                    },
                )

    # ---- validation ---------------------------------------------------------------------

    def quantity_param(self, spec: SymbolSpec, params: dict[str, str], market: bool) -> Decimal:
        qty = self.decimal_param(params, "quantity")
        step = Decimal(spec.step_size)
        if qty <= 0:
            raise VenueError(400, -4003, "Quantity less than or equal to zero.")
        if -qty.as_tuple().exponent > spec.qty_decimals:  # type: ignore[operator]
            raise VenueError(400, -1111, "Precision is over the maximum defined for this asset.")
        if (qty - Decimal(spec.min_qty)) % step:
            raise VenueError(400, -4023, "Qty not increased by step size.")
        if qty < Decimal(spec.min_qty):
            raise VenueError(400, -4004, "Quantity less than min quantity.")
        if qty > Decimal(spec.market_max_qty if market else spec.max_qty):
            raise VenueError(400, -4005, "Quantity greater than max quantity.")
        return qty

    def _price(self, venue: SymbolVenue, params: dict[str, str], side: str) -> Decimal:
        spec = venue.spec
        price = self.decimal_param(params, "price")
        if -price.as_tuple().exponent > spec.price_decimals:  # type: ignore[operator]
            raise VenueError(400, -1111, "Precision is over the maximum defined for this asset.")
        if price < Decimal(spec.min_price):
            raise VenueError(400, -4013, "Price less than min price.")
        if price > Decimal(spec.max_price):
            raise VenueError(400, -4002, "Price greater than max price.")
        if (price - Decimal(spec.min_price)) % Decimal(spec.tick_size):
            raise VenueError(400, -4014, "Price not increased by tick size.")
        mark = self.mark_price(venue)
        if side == "BUY" and price > mark * _PERCENT_UP:
            raise VenueError(400, -4016, "Price is higher than mark price multiplier cap.")
        if side == "SELL" and price < mark * _PERCENT_DOWN:
            raise VenueError(400, -4024, "Price is lower than mark price multiplier floor.")
        return price

    def _client_id(self, account: Account, symbol: str, params: dict[str, str]) -> str:
        client_id = params.get("newClientOrderId")
        if client_id is None:
            self._client_seq += 1
            return f"hftui-x-{self._client_seq:012d}"
        if not _CLIENT_ID.match(client_id):
            raise VenueError(400, -4015, "Client order id is not valid.")
        if account.open_by_client_id(symbol, client_id) is not None:
            raise VenueError(400, -4116, "clientOrderId is duplicated")
        return client_id

    def _check_basics(self, account: Account, params: dict[str, str]) -> tuple[str, str]:
        side = params.get("side", "")
        if not side:
            raise VenueError.mandatory("side")
        if side not in ("BUY", "SELL"):
            raise VenueError(400, -1117, "Invalid side.")
        kind = params.get("type", "")
        if not kind:
            raise VenueError.mandatory("type")
        if kind in _CONDITIONAL:
            raise VenueError(
                400,
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        if kind not in ("LIMIT", "MARKET"):
            raise VenueError(400, -1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") != "BOTH":
            raise VenueError(400, -4061, "Order's position side does not match user's setting.")
        return side, kind

    # ---- order entry --------------------------------------------------------------------

    def new_order(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        """`POST /fapi/v1/order`: validate, match, rest or expire; returns the order object."""
        venue, order, lots, limit_tick = self._validated(account, params)
        account.orders[order.order_id] = order
        self.publish_order_event(account, order, "NEW")
        # ACK (the default) answers with the order as accepted; RESULT with its final state.
        accepted = self.order_object(order, with_time=False)
        taker = BUY if order.side == "BUY" else SELL
        match = venue.book.match(taker, lots, limit_tick, account.api_key, order.stp)
        fills = match.fills
        for maker in match.expired:
            self._expire_in_match(maker)
        for fill in fills:
            self._taker_fill(account, venue, order, fill)
        if fills:
            self.venue.publish_fills(venue, taker, fills)
        remaining = lots - sum(f.lots for f in fills)
        if remaining and match.taker_expired:
            order.status = "EXPIRED_IN_MATCH"
            order.update_ms = self.clock_ms()
            reason = "3" if order.time_in_force == "IOC" else "1"  # IOC+STP, STP
            self.publish_order_event(account, order, "EXPIRED", expiry_reason=reason)
        elif remaining and order.time_in_force in _RESTING_TIFS and order.type == "LIMIT":
            venue.book.add(
                RestingOrder(order.order_id, account.api_key, taker, limit_tick or 0, remaining)
            )
        elif remaining:
            order.status = "EXPIRED"
            order.update_ms = self.clock_ms()
            reason = "9" if order.type == "MARKET" else "2"
            self.publish_order_event(account, order, "EXPIRED", expiry_reason=reason)
        self.venue.publish_top(venue)
        if params.get("newOrderRespType", "ACK") == "RESULT":
            return self.order_object(order, with_time=False)
        return accepted

    def _validated(
        self, account: Account, params: dict[str, str]
    ) -> tuple[SymbolVenue, Order, int, int | None]:
        # Every check a venue makes before an order exists; a refusal leaves no trace.
        venue = self.symbol_of(params)
        spec = venue.spec
        side, kind = self._check_basics(account, params)
        market = kind == "MARKET"
        qty = self.quantity_param(spec, params, market)
        tif = "GTC" if market else params.get("timeInForce", "")
        if not market and not tif:
            raise VenueError.mandatory("timeInForce")
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise VenueError(400, -1115, "Invalid timeInForce.")
        price = Decimal(0) if market else self._price(venue, params, side)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        notional = (self.mark_price(venue) if market else price) * qty
        if not reduce_only and notional < Decimal(spec.min_notional):
            raise VenueError(
                400,
                -4164,
                f"Order's notional must be no smaller than {spec.min_notional} "
                "(unless you choose reduce only).",
            )
        position = account.position(spec.symbol)
        if reduce_only:
            reduces = position.amount < 0 if side == "BUY" else position.amount > 0
            if not reduces or qty > abs(position.amount):
                raise VenueError(400, -2022, "ReduceOnly Order is rejected.")
        if len(account.open_orders(spec.symbol)) >= _MAX_OPEN_ORDERS:
            raise VenueError(400, -2025, "Reach max open order limit.")
        stp = params.get("selfTradePreventionMode", "NONE")
        if stp not in STP_MODES:
            raise VenueError.mandatory("selfTradePreventionMode")
        client_id = self._client_id(account, spec.symbol, params)
        if not reduce_only:
            self._check_margin(account, venue, notional)
        lots = spec.to_lots(money_text(qty))
        taker = BUY if side == "BUY" else SELL
        limit_tick = self._limit_tick(venue, taker, price, market)
        self._check_liquidity(venue, tif, taker, lots, limit_tick)
        now = self.clock_ms()
        order = Order(
            self.next_order_id(),
            client_id,
            spec.symbol,
            side,
            kind,
            tif,
            price,
            qty,
            reduce_only,
            now,
            update_ms=now,
            stp=stp,
        )
        return venue, order, lots, limit_tick

    def _check_liquidity(
        self, venue: SymbolVenue, tif: str, taker: int, lots: int, limit_tick: int | None
    ) -> None:
        # Post-only that would take, and fill-or-kill that cannot fill, leave no order.
        if tif == "GTX" and self._would_take(venue, taker, limit_tick):
            raise VenueError(
                400,
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be "
                "rejected.",
            )
        if tif == "FOK" and self._available(venue, taker, limit_tick) < lots:
            raise VenueError(
                400,
                -5021,
                "Due to the order could not be filled immediately, the FOK order has been "
                "rejected.",
            )

    def _limit_tick(
        self, venue: SymbolVenue, taker: int, price: Decimal, market: bool
    ) -> int | None:
        if not market:
            return venue.spec.to_ticks(money_text(price))
        # A market order may not trade further than marketTakeBound from the mark.
        mark = self.mark_price(venue) / Decimal(venue.spec.tick_size)
        bound = mark * (1 + _MARKET_TAKE_BOUND if taker == BUY else 1 - _MARKET_TAKE_BOUND)
        return int(bound)

    @staticmethod
    def _would_take(venue: SymbolVenue, taker: int, limit_tick: int | None) -> bool:
        best = venue.book.best(SELL if taker == BUY else BUY)
        if best is None or limit_tick is None:
            return False
        return best <= limit_tick if taker == BUY else best >= limit_tick

    @staticmethod
    def _available(venue: SymbolVenue, taker: int, limit_tick: int | None) -> int:
        maker = SELL if taker == BUY else BUY
        total = 0
        for tick, lots in venue.book.depth(maker, 10_000):
            if limit_tick is not None and (
                tick > limit_tick if taker == BUY else tick < limit_tick
            ):
                break
            total += lots
        return total

    def _check_margin(self, account: Account, venue: SymbolVenue, notional: Decimal) -> None:
        leverage = Decimal(account.leverage_of(venue.spec.symbol))
        used = Decimal(0)
        for order in account.open_orders():
            remaining = order.orig_qty - order.executed_qty
            used += order.price * remaining / Decimal(account.leverage_of(order.symbol))
        for symbol, position in account.positions.items():
            if position.amount:
                used += (
                    abs(position.amount)
                    * position.entry_price
                    / Decimal(account.leverage_of(symbol))
                )
        if notional / leverage > account.wallet - used:
            raise VenueError(400, -2019, "Margin is insufficient.")

    # ---- fills --------------------------------------------------------------------------

    def _taker_fill(self, account: Account, venue: SymbolVenue, order: Order, fill: Fill) -> None:
        # One match, one trade id: both sides' records carry it (a self-trade's two legs too,
        # told apart by their side, as on the venue).
        trade_id = self.next_trade_id()
        self._fill(account, venue.spec, order, fill.tick, fill.lots, False, trade_id)
        if fill.maker.owner is not None:
            self._maker_fill(fill.maker, fill.tick, fill.lots, venue.spec, trade_id)

    def _maker_fill(
        self, maker: RestingOrder, tick: int, lots: int, spec: SymbolSpec, trade_id: int = 0
    ) -> None:
        account = self.accounts.get(maker.owner or "")
        order = account.orders.get(maker.order_id) if account is not None else None
        if account is None or order is None:
            return
        self._fill(account, spec, order, tick, lots, True, trade_id or self.next_trade_id())

    def _expire_in_match(self, maker: RestingOrder) -> None:
        # Self-trade prevention took this resting order off the book.
        account = self.accounts.get(maker.owner or "")
        order = account.orders.get(maker.order_id) if account is not None else None
        if account is None or order is None:
            return
        order.status = "EXPIRED_IN_MATCH"
        order.update_ms = self.clock_ms()
        self.publish_order_event(account, order, "EXPIRED", expiry_reason="1")

    def _fill(
        self,
        account: Account,
        spec: SymbolSpec,
        order: Order,
        tick: int,
        lots: int,
        maker: bool,
        trade_id: int,
    ) -> None:
        price = Decimal(spec.format_price(tick))
        qty = Decimal(spec.format_qty(lots))
        now = self.clock_ms()
        signed = qty if order.side == "BUY" else -qty
        position = account.position(spec.symbol)
        realized = position.fill(signed, price)
        position.update_ms = now
        fee = money(price * qty * (MAKER_FEE if maker else TAKER_FEE))
        account.wallet += realized - fee
        account.update_ms = now
        order.executed_qty += qty
        order.cum_quote += price * qty
        order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        order.update_ms = now
        account.trades.append(
            Trade(
                trade_id,
                order.order_id,
                order.symbol,
                order.side,
                price,
                qty,
                fee,
                realized,
                maker,
                now,
            )
        )
        self.publish_order_event(
            account,
            order,
            "TRADE",
            last_qty=qty,
            last_price=price,
            fee=fee,
            trade_id=trade_id,
            maker=maker,
            realized=realized,
        )
        self.publish_account_update(account, spec.symbol)

    # ---- cancel and queries -------------------------------------------------------------

    def batch_new(self, account: Account, params: dict[str, str]) -> list[dict[str, object]]:
        """`POST /fapi/v1/batchOrders`: up to 5 orders, each answered on its own."""
        entries = _json_list(params, "batchOrders", 5)
        results: list[dict[str, object]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                results.append(
                    {"code": -1130, "msg": "Data sent for parameter 'batchOrders' is not valid."}
                )
                continue
            try:
                order_params = {str(k): _scalar(v) for k, v in entry.items()}
                results.append(self.new_order(account, order_params))
            except VenueError as exc:
                results.append({"code": exc.code, "msg": exc.msg})
        return results

    def batch_cancel(self, account: Account, params: dict[str, str]) -> list[dict[str, object]]:
        """`DELETE /fapi/v1/batchOrders` by `orderIdList` or `origClientOrderIdList`."""
        symbol = self.symbol_of(params).spec.symbol
        # ccxt and python-binance send these names in lower case; the venue accepts both.
        lowered = {k.lower(): k for k in params}
        by_id = lowered.get("orderidlist")
        name = by_id or lowered.get("origclientorderidlist")
        if name is None:
            raise VenueError.mandatory("orderIdList")
        ids = _json_list({"list": params[name]}, "list", 10, label=name)
        key = "orderId" if by_id is not None else "origClientOrderId"
        results: list[dict[str, object]] = []
        for value in ids:
            try:
                results.append(self.cancel(account, {"symbol": symbol, key: _scalar(value)}))
            except VenueError as exc:
                results.append({"code": exc.code, "msg": exc.msg})
        return results

    def _lookup(self, account: Account, params: dict[str, str]) -> tuple[SymbolVenue, Order | None]:
        venue = self.symbol_of(params)
        order_id_text = params.get("orderId")
        client_id = params.get("origClientOrderId")
        if not order_id_text and not client_id:
            raise VenueError.mandatory("orderId")
        order_id = None
        if order_id_text:
            if not order_id_text.isdigit():
                raise VenueError.invalid("orderId")
            order_id = int(order_id_text)
        return venue, account.find(venue.spec.symbol, order_id, client_id)

    def cancel(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        venue, order = self._lookup(account, params)
        if order is None or not order.is_open:
            raise VenueError(400, -2011, "Unknown order sent.")
        self._cancel(account, venue, order)
        return self.order_object(order, with_time=False)

    def _cancel(self, account: Account, venue: SymbolVenue, order: Order) -> None:
        resting = venue.book.order(order.order_id)
        if resting is not None:
            venue.book.reduce(order.order_id, resting.lots)
        order.status = "CANCELED"
        order.update_ms = self.clock_ms()
        self.publish_order_event(account, order, "CANCELED")
        self.venue.publish_top(venue)

    def cancel_all(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        venue = self.symbol_of(params)
        for order in account.open_orders(venue.spec.symbol):
            self._cancel(account, venue, order)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def query(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        _, order = self._lookup(account, params)
        if order is None:
            raise VenueError(400, -2013, "Order does not exist.")
        return self.order_object(order, with_time=True)

    def open_order(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        _, order = self._lookup(account, params)
        if order is None or not order.is_open:
            raise VenueError(400, -2013, "Order does not exist.")
        return self.order_object(order, with_time=True)

    def open_orders(self, account: Account, params: dict[str, str]) -> list[dict[str, object]]:
        symbol = None
        if params.get("symbol"):
            symbol = self.symbol_of(params).spec.symbol
        return [self.order_object(o, with_time=True) for o in account.open_orders(symbol)]

    def all_orders(self, account: Account, params: dict[str, str]) -> list[dict[str, object]]:
        symbol = self.symbol_of(params).spec.symbol
        orders = sorted(
            (o for o in account.orders.values() if o.symbol == symbol), key=lambda o: o.order_id
        )
        return [self.order_object(o, with_time=True) for o in orders[-self._limit(params, 500) :]]

    def user_trades(self, account: Account, params: dict[str, str]) -> list[dict[str, object]]:
        symbol = self.symbol_of(params).spec.symbol
        trades = [t for t in account.trades if t.symbol == symbol]
        # Binance's filters: one order's trades, from a trade id on, or within a time window.
        for name in ("orderId", "fromId", "startTime", "endTime"):
            text = params.get(name)
            if text is None:
                continue
            if not text.isdigit():
                raise VenueError.invalid(name)
            v = int(text)
            trades = [
                t
                for t in trades
                if (name != "orderId" or t.order_id == v)
                and (name != "fromId" or t.trade_id >= v)
                and (name != "startTime" or t.time_ms >= v)
                and (name != "endTime" or t.time_ms <= v)
            ]
        if "fromId" in params:
            trades = trades[: self._limit(params, 500)]  # the oldest first from that id
        return [
            {
                "buyer": t.side == "BUY",
                "commission": money_text(t.commission),
                "commissionAsset": "USDT",
                "id": t.trade_id,
                "maker": t.maker,
                "orderId": t.order_id,
                "price": money_text(t.price),
                "qty": money_text(t.qty),
                "quoteQty": money_text(t.price * t.qty),
                "realizedPnl": money_text(t.realized_pnl),
                "side": t.side,
                "positionSide": "BOTH",
                "symbol": t.symbol,
                "time": t.time_ms,
            }
            for t in trades[-self._limit(params, 500) :]
        ]

    @staticmethod
    def _limit(params: dict[str, str], default: int) -> int:
        text = params.get("limit", str(default))
        if not text.isdigit() or not 1 <= int(text) <= 1000:
            raise VenueError.invalid("limit")
        return int(text)

    # ---- wire objects and events --------------------------------------------------------

    @staticmethod
    def order_object(order: Order, with_time: bool) -> dict[str, object]:
        body: dict[str, object] = {
            "orderId": order.order_id,
            "symbol": order.symbol,
            "status": order.status,
            "clientOrderId": order.client_id,
            "price": money_text(order.price),
            "avgPrice": money_text(order.avg_price),
            "origQty": money_text(order.orig_qty),
            "executedQty": money_text(order.executed_qty),
            "cumQty": money_text(order.executed_qty),
            "cumQuote": money_text(order.cum_quote),
            "timeInForce": order.time_in_force,
            "type": order.type,
            "origType": order.type,
            "reduceOnly": order.reduce_only,
            "closePosition": False,
            "side": order.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "priceMatch": "NONE",
            "selfTradePreventionMode": order.stp,
            "goodTillDate": 0,
            "updateTime": order.update_ms,
        }
        if with_time:
            body["time"] = order.time_ms
        return body

    def publish_order_event(
        self,
        account: Account,
        order: Order,
        execution: str,
        last_qty: Decimal = Decimal(0),
        last_price: Decimal = Decimal(0),
        fee: Decimal = Decimal(0),
        trade_id: int = 0,
        maker: bool = False,
        realized: Decimal = Decimal(0),
        expiry_reason: str = "0",
    ) -> None:
        now = self.clock_ms()
        self.publish_user(
            account,
            {
                "e": "ORDER_TRADE_UPDATE",
                "E": now,
                "T": now,
                "o": {
                    "s": order.symbol,
                    "c": order.client_id,
                    "S": order.side,
                    "o": order.type,
                    "f": order.time_in_force,
                    "q": money_text(order.orig_qty),
                    "p": money_text(order.price),
                    "ap": money_text(order.avg_price),
                    "sp": "0",
                    "x": execution,
                    "X": order.status,
                    "i": order.order_id,
                    "l": money_text(last_qty),
                    "z": money_text(order.executed_qty),
                    "L": money_text(last_price),
                    "N": "USDT",
                    "n": money_text(fee),
                    "T": now,
                    "t": trade_id,
                    "b": money_text(self._open_notional(account, order.symbol, "BUY")),
                    "a": money_text(self._open_notional(account, order.symbol, "SELL")),
                    "m": maker,
                    "R": order.reduce_only,
                    "wt": "CONTRACT_PRICE",
                    "ot": order.type,
                    "ps": "BOTH",
                    "cp": False,
                    "rp": money_text(realized),
                    "pP": False,
                    "si": 0,
                    "ss": 0,
                    "V": order.stp,
                    "pm": "NONE",
                    "gtd": 0,
                    "er": expiry_reason,
                },
            },
        )

    @staticmethod
    def _open_notional(account: Account, symbol: str, side: str) -> Decimal:
        # The `b`/`a` fields: what the account's open orders on each side are worth.
        return sum(
            (
                o.price * (o.orig_qty - o.executed_qty)
                for o in account.open_orders(symbol)
                if o.side == side
            ),
            Decimal(0),
        )

    def publish_account_update(self, account: Account, symbol: str) -> None:
        now = self.clock_ms()
        position = account.position(symbol)
        venue = self.venue.symbols[symbol]
        unrealized = (self.mark_price(venue) - position.entry_price) * position.amount
        self.publish_user(
            account,
            {
                "e": "ACCOUNT_UPDATE",
                "E": now,
                "T": now,
                "a": {
                    "m": "ORDER",
                    "B": [
                        {
                            "a": "USDT",
                            "wb": money_text(account.wallet),
                            "cw": money_text(account.wallet),
                            "bc": "0",
                        }
                    ],
                    "P": [
                        {
                            "s": symbol,
                            "pa": money_text(position.amount),
                            "ep": money_text(position.entry_price),
                            "bep": money_text(position.entry_price),
                            "cr": money_text(position.realized),
                            "up": money_text(unrealized),
                            "mt": "cross",
                            "iw": "0",
                            "ps": "BOTH",
                        }
                    ],
                },
            },
        )


def _scalar(value: object) -> str:
    # Batch entries carry strings or numbers; booleans as JSON true/false.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise VenueError(400, -1130, "Data sent for parameter 'batchOrders' is not valid.")


def _json_list(params: dict[str, str], name: str, most: int, label: str = "") -> list[object]:
    text = params.get(name, "")
    shown = label or name
    if not text:
        raise VenueError.mandatory(shown)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise VenueError.invalid(shown) from None
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise VenueError.invalid(shown)
    return value
