"""Conditional orders on the algo service: STOP_MARKET and TAKE_PROFIT_MARKET.

Owns: the open conditional orders of every account. Each clock step compares each order's
trigger with the mark price (`workingType=MARK_PRICE`) or the last trade (`CONTRACT_PRICE`)
and, when it fires, sends a MARKET order through `Trading` like any other order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from hftui.exchange.accounts import Account
from hftui.exchange.errors import VenueError
from hftui.exchange.trading import Trading
from hftui.exchange.venue import SymbolVenue

__all__ = ["AlgoOrder", "AlgoService"]

_TYPES: Final = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET"})
_UNSUPPORTED: Final = frozenset({"STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"})
_MAX_OPEN: Final = 10  # MAX_NUM_ALGO_ORDERS per symbol
_CLIENT_ID: Final = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


@dataclass(slots=True)
class AlgoOrder:
    algo_id: int
    client_id: str
    account: str
    symbol: str
    side: str
    order_type: str
    trigger: Decimal
    quantity: Decimal  # 0 with close_position
    close_position: bool
    reduce_only: bool
    working_type: str
    create_ms: int
    status: str = "NEW"
    update_ms: int = 0
    actual_order_id: int = 0

    def fires_at(self, price: Decimal) -> bool:
        rising = (self.order_type == "STOP_MARKET") == (self.side == "BUY")
        return price >= self.trigger if rising else price <= self.trigger

    def view(self) -> dict[str, object]:
        return {
            "algoId": self.algo_id,
            "clientAlgoId": self.client_id,
            "algoType": "CONDITIONAL",
            "orderType": self.order_type,
            "symbol": self.symbol,
            "side": self.side,
            "positionSide": "BOTH",
            "timeInForce": "GTC",
            "quantity": format(self.quantity, "f"),
            "algoStatus": self.status,
            "actualOrderId": str(self.actual_order_id) if self.actual_order_id else "",
            "triggerPrice": format(self.trigger, "f"),
            "price": "0",
            "workingType": self.working_type,
            "priceProtect": False,
            "reduceOnly": self.reduce_only,
            "closePosition": self.close_position,
            "createTime": self.create_ms,
            "updateTime": self.update_ms or self.create_ms,
            "triggerTime": self.update_ms if self.status in ("TRIGGERED", "FINISHED") else 0,
        }


class AlgoService:
    """Conditional orders for every account of one exchange."""

    def __init__(self, trading: Trading, clock_ms: Callable[[], int]) -> None:
        self.trading = trading
        self.clock_ms = clock_ms
        self.orders: dict[int, AlgoOrder] = {}
        self._next_id = 3_000_000_000
        self._client_seq = 0

    def _price(self, venue: SymbolVenue, working_type: str) -> Decimal:
        if working_type == "MARK_PRICE" or not venue.stats.tape:
            return self.trading.mark_price(venue)
        return Decimal(venue.spec.format_price(venue.stats.tape[-1].tick))

    def open_for(self, account: Account, symbol: str | None = None) -> list[AlgoOrder]:
        return [
            o
            for o in self.orders.values()
            if o.account == account.api_key
            and o.status == "NEW"
            and (symbol is None or o.symbol == symbol)
        ]

    # ---- REST ---------------------------------------------------------------------------

    def place(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        """`POST /fapi/v1/algoOrder` with `algoType=CONDITIONAL`."""
        if params.get("algoType", "") != "CONDITIONAL":
            raise VenueError.mandatory("algoType")
        venue = self.trading.symbol_of(params)
        spec = venue.spec
        side = params.get("side", "")
        if side not in ("BUY", "SELL"):
            raise VenueError(400, -1117, "Invalid side.")
        kind = params.get("type", "")
        if kind in _UNSUPPORTED:
            raise VenueError(
                400, -1116, f"Order type {kind} is not supported by the local exchange."
            )
        if kind not in _TYPES:
            raise VenueError(400, -1116, "Invalid orderType.")
        working = params.get("workingType", "CONTRACT_PRICE")
        if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise VenueError.invalid("workingType")
        trigger = self.trading.decimal_param(params, "triggerPrice")
        if trigger <= 0 or (trigger - Decimal(spec.min_price)) % Decimal(spec.tick_size):
            raise VenueError(400, -4014, "Price not increased by tick size.")
        close = params.get("closePosition", "false").lower() == "true"
        quantity = Decimal(0)
        if not close:
            quantity = self.trading.quantity_param(spec, params, market=True)
        if len(self.open_for(account, spec.symbol)) >= _MAX_OPEN:
            raise VenueError(400, -4045, "Reach max stop order limit.")
        client_id = params.get("clientAlgoId")
        if client_id is None:
            self._client_seq += 1
            client_id = f"hftui-algo-{self._client_seq:010d}"
        elif not _CLIENT_ID.match(client_id):
            raise VenueError(400, -4015, "Client order id is not valid.")
        now = self.clock_ms()
        self._next_id += 1
        order = AlgoOrder(
            self._next_id,
            client_id,
            account.api_key,
            spec.symbol,
            side,
            kind,
            trigger,
            quantity,
            close,
            params.get("reduceOnly", "false").lower() == "true",
            working,
            now,
        )
        if order.fires_at(self._price(venue, working)):
            raise VenueError(400, -2021, "Order would immediately trigger.")
        self.orders[order.algo_id] = order
        self._publish(account, order)
        return order.view()

    def _find(self, account: Account, params: dict[str, str]) -> AlgoOrder:
        algo_id, client_id = params.get("algoId"), params.get("clientAlgoId")
        for order in self.orders.values():
            if order.account != account.api_key:
                continue
            if (algo_id and str(order.algo_id) == algo_id) or (
                client_id and order.client_id == client_id
            ):
                return order
        if not algo_id and not client_id:
            raise VenueError.mandatory("algoId")
        raise VenueError(400, -2011, "Unknown order sent.")

    def cancel(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        order = self._find(account, params)
        if order.status != "NEW":
            raise VenueError(400, -2011, "Unknown order sent.")
        self._finish(account, order, "CANCELED")
        return order.view()

    def cancel_all(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        symbol = self.trading.symbol_of(params).spec.symbol
        for order in self.open_for(account, symbol):
            self._finish(account, order, "CANCELED")
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def open_orders(self, account: Account, params: dict[str, str]) -> list[dict[str, object]]:
        symbol = self.trading.symbol_of(params).spec.symbol if params.get("symbol") else None
        return [o.view() for o in self.open_for(account, symbol)]

    def query(self, account: Account, params: dict[str, str]) -> dict[str, object]:
        return self._find(account, params).view()

    # ---- triggering ---------------------------------------------------------------------

    def check(self) -> None:
        """Fire every conditional order whose trigger price has been reached."""
        for order in [o for o in self.orders.values() if o.status == "NEW"]:
            venue = self.trading.venue.symbols[order.symbol]
            if order.fires_at(self._price(venue, order.working_type)):
                self._fire(order)

    def _fire(self, order: AlgoOrder) -> None:
        account = self.trading.accounts[order.account]
        order.status = "TRIGGERED"
        order.update_ms = self.clock_ms()
        self._publish(account, order)
        quantity = order.quantity
        reduce_only = order.reduce_only
        if order.close_position:
            quantity = abs(account.position(order.symbol).amount)
            reduce_only = True
        try:
            if quantity <= 0:
                raise VenueError(400, -2022, "ReduceOnly Order is rejected.")
            placed = self.trading.new_order(
                account,
                {
                    "symbol": order.symbol,
                    "side": order.side,
                    "type": "MARKET",
                    "quantity": format(quantity, "f"),
                    "reduceOnly": str(reduce_only).lower(),
                },
            )
            order.actual_order_id = int(str(placed["orderId"]))
            self._finish(account, order, "FINISHED")
        except VenueError:
            # The triggered order was refused (say, nothing left to reduce): it expires.
            self._finish(account, order, "EXPIRED")

    def _finish(self, account: Account, order: AlgoOrder, status: str) -> None:
        order.status = status
        order.update_ms = self.clock_ms()
        self._publish(account, order)

    def _publish(self, account: Account, order: AlgoOrder) -> None:
        now = self.clock_ms()
        self.trading.publish_user(
            account,
            {
                "e": "ALGO_UPDATE",
                "E": now,
                "T": now,
                "o": {
                    "caid": order.client_id,
                    "aid": order.algo_id,
                    "at": "CONDITIONAL",
                    "o": order.order_type,
                    "s": order.symbol,
                    "S": order.side,
                    "ps": "BOTH",
                    "f": "GTC",
                    "q": format(order.quantity, "f"),
                    "X": order.status,
                    "ai": str(order.actual_order_id) if order.actual_order_id else "",
                    "tp": format(order.trigger, "f"),
                    "p": "0",
                    "wt": order.working_type,
                    "R": order.reduce_only,
                    "cp": order.close_position,
                },
            },
        )
